"""The console's check-in sheet: who is enrolled in a training, and who is checked in at one
session (search by name, one tap)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from events_svc.events.tables import Event
from events_svc.training.checkin import _attended, _overrides, _parse_occurrence, _training
from events_svc.training.course import Session, course_sessions


@dataclass(frozen=True, slots=True)
class SheetRow:
    email: str
    name: str
    present: bool  #: checked in at the chosen session


@dataclass(frozen=True, slots=True)
class Sheet:
    sessions: list[Session]  #: not cancelled, by start
    chosen: Session | None  #: the session being checked in (the latest started by default)
    people: list[SheetRow]


async def check_in_sheet(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    occurrence: str | None = None,
    search: str = "",
    now: datetime | None = None,
) -> Sheet:
    """Who is enrolled, and who is checked in at one session (the latest one started, unless
    `occurrence` names another); `search` narrows by name or address."""
    now = now or datetime.now(UTC)
    event = await _training(org_id=org_id, event_id=event_id)
    course = course_sessions(event, await _overrides(event), now=now)
    live = sorted(
        (s for s in course.sessions.values() if not s.cancelled), key=lambda s: s.original
    )
    chosen = None
    if occurrence:
        wanted = _parse_occurrence(occurrence)
        chosen = next((s for s in live if s.original == wanted), None)
    if chosen is None:
        started = [s for s in live if s.starts_at_utc <= now]
        chosen = started[-1] if started else (live[0] if live else None)
    people = await Event.raw(
        "SELECT i.person, p.email, p.name FROM invitation i JOIN person p ON p.id = i.person"
        " WHERE i.event = {} AND i.removed_at IS NULL ORDER BY p.name, p.email_key",
        event_id,
    )
    attended = await _attended(event_id)
    needle = search.strip().lower()
    return Sheet(
        sessions=live,
        chosen=chosen,
        people=[
            SheetRow(
                email=p["email"],
                name=p["name"],
                present=chosen is not None and chosen.original in attended.get(p["person"], []),
            )
            for p in people
            if not needle or needle in p["name"].lower() or needle in p["email"].lower()
        ],
    )
