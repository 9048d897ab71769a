"""An event's agenda as calendars and mail show it: entries, speakers, text, what changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Speaker:
    name: str
    email: str
    role: str  #: speaker / chair


@dataclass(frozen=True, slots=True)
class AgendaEntry:
    """One session of an event's programme (local times in the event's zone)."""

    id: str  #: stable across edits: part of the session's own UID in feeds
    title: str
    starts_at: datetime
    ends_at: datetime
    room: str = ""
    description: str = ""
    speakers: tuple[Speaker, ...] = ()


def agenda_entries(raw: Any) -> tuple[AgendaEntry, ...]:
    """Stored agenda JSON (text or decoded) -> entries in time order."""
    items = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(
        AgendaEntry(
            id=i["id"],
            title=i["title"],
            starts_at=datetime.fromisoformat(i["starts_at"]),
            ends_at=datetime.fromisoformat(i["ends_at"]),
            room=i.get("room", ""),
            description=i.get("description", ""),
            speakers=tuple(
                Speaker(name=sp.get("name", ""), email=sp["email"], role=sp.get("role", "speaker"))
                for sp in i.get("speakers", ())
            ),
        )
        for i in items or ()
    )


def span(start: datetime, end: datetime, *, one_day: bool) -> str:
    """A block's local times: "09:30–11:00", or "06-10 09:30–11:00" when a programme spans
    several days."""
    return f"{start:%H:%M}–{end:%H:%M}" if one_day else f"{start:%m-%d %H:%M}–{end:%H:%M}"


def agenda_text(agenda: Sequence[AgendaEntry]) -> str:
    """The agenda as plain text lines, for the ICS DESCRIPTION (both languages' heading)."""
    if not agenda:
        return ""
    one_day = len({a.starts_at.date() for a in agenda}) == 1
    lines = ["议程 / Agenda"]
    for a in agenda:
        when = span(a.starts_at, a.ends_at, one_day=one_day)
        room = f" · {a.room}" if a.room else ""
        people = "、".join(sp.name or sp.email for sp in a.speakers)
        lines.append(f"{when} {a.title}{room}" + (f"（{people}）" if people else ""))
    return "\n".join(lines)


def agenda_changes(
    before: Sequence[AgendaEntry], after: Sequence[AgendaEntry]
) -> list[tuple[str, AgendaEntry]]:
    """What changed between two agendas: ("new" | "moved" | "removed" | "changed", entry)."""
    old = {a.id: a for a in before}
    new = {a.id: a for a in after}
    out: list[tuple[str, AgendaEntry]] = []
    for a in after:
        if a.id not in old:
            out.append(("new", a))
        elif (old[a.id].starts_at, old[a.id].ends_at) != (a.starts_at, a.ends_at):
            out.append(("moved", a))
        elif old[a.id] != a:
            out.append(("changed", a))
    out += [("removed", a) for a in before if a.id not in new]
    return out
