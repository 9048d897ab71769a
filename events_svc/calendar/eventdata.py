"""EventData: an event row (and its changed occurrences) as the calendar renders it; alarms."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from events_svc.calendar import reminder_rules
from events_svc.calendar.agenda import AgendaEntry, agenda_entries, span
from events_svc.calendar.timeutil import zone


@dataclass(frozen=True, slots=True)
class ItineraryEntry:
    """One block of an exchange visit's itinerary (local times in the event's zone)."""

    title: str
    starts_at: datetime
    ends_at: datetime
    place: str = ""


def itinerary_entries(raw: Any) -> tuple[ItineraryEntry, ...]:
    """Stored itinerary JSON (text or decoded) -> blocks, in the stored order."""
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(
        ItineraryEntry(
            title=b["title"],
            starts_at=datetime.fromisoformat(b["starts_at"]),
            ends_at=datetime.fromisoformat(b["ends_at"]),
            place=b.get("place") or "",
        )
        for b in blocks or ()
    )


def itinerary_lines(itinerary: Sequence[ItineraryEntry]) -> list[str]:
    """One line a block: "09:30–11:00 title · place" (dates too when it spans days)."""
    one_day = len({b.starts_at.date() for b in itinerary}) == 1
    return [
        f"{span(b.starts_at, b.ends_at, one_day=one_day)} {b.title}"
        + (f" · {b.place}" if b.place else "")
        for b in itinerary
    ]


@dataclass(frozen=True, slots=True)
class EventData:
    """What a calendar shows of an event; times are local wall-clock in `timezone`."""

    uid: str
    sequence: int
    title: str
    description: str
    location: str
    online_url: str
    url: str  #: a page or file about the event (its .ics)
    starts_at: datetime
    ends_at: datetime
    timezone: str
    recurrence: str | None
    status: str  #: scheduled / cancelled
    created_at: datetime
    updated_at: datetime
    #: VALARM triggers, one per reminder rule: a duration before the start ("-PT1H") or an
    #: absolute UTC instant ("20270610T000000Z")
    alarms: tuple[str, ...] = ()
    #: for one occurrence of a series: its original local start (RECURRENCE-ID)
    recurrence_id: datetime | None = None
    #: for a series: local starts of the occurrences cancelled one by one (EXDATE)
    exdates: tuple[datetime, ...] = ()
    #: the programme, shown in messages (in the reader's language) and in the DESCRIPTION
    agenda: tuple[AgendaEntry, ...] = ()
    #: an exchange visit's blocks, shown like the agenda (the DESCRIPTION has them after
    #: the description)
    itinerary: tuple[ItineraryEntry, ...] = ()
    #: for a series: its occurrences changed one by one, each with `recurrence_id` (the
    #: cancelled ones are also in `exdates`, and a feed shows only the EXDATE)
    overrides: tuple[EventData, ...] = ()

    def occurrence(self, local_start: datetime) -> EventData:
        """One occurrence of a series, as a single event (for messages about it): as it was
        moved, if it was, else at its place in the rule."""
        for moved in self.overrides:
            if moved.recurrence_id == local_start:
                return replace(moved, recurrence_id=None)
        length = self.ends_at - self.starts_at
        return replace(
            self,
            starts_at=local_start,
            ends_at=local_start + length,
            recurrence=None,
            exdates=(),
            overrides=(),
        )

    def instance(self, recurrence_id: datetime) -> EventData:
        """The VEVENT of one occurrence with its RECURRENCE-ID (for an iTIP message about that
        occurrence only): moved, cancelled or as the rule places it."""
        for moved in self.overrides:
            if moved.recurrence_id == recurrence_id:
                return moved
        length = self.ends_at - self.starts_at
        status = "cancelled" if recurrence_id in self.exdates else self.status
        return replace(
            self,
            starts_at=recurrence_id,
            ends_at=recurrence_id + length,
            recurrence=None,
            recurrence_id=recurrence_id,
            status=status,
            exdates=(),
            overrides=(),
        )


def alarm_triggers(event_rules: Any, org_default: Any, tz_name: str) -> tuple[str, ...]:
    """VALARM triggers from the reminder rules in force (the event's, or the org's default)."""
    out = []
    for rule in reminder_rules.effective(event_rules, org_default):
        if rule.before is not None:
            out.append(rule.trigger)
        elif rule.at_local is not None:
            instant = reminder_rules.local_to_utc_lenient(rule.at_local, zone(tz_name))
            out.append(instant.strftime("%Y%m%dT%H%M%SZ"))
    return tuple(out)


def event_ics_url(base_url: str, event_id: object) -> str:
    return f"{base_url}/events/{event_id}.ics"


def event_data(
    row: Mapping[str, Any],
    *,
    base_url: str,
    prefix: str = "",
    occurrences: Sequence[Mapping[str, Any]] = (),
) -> EventData:
    """EventData from an `event` row (and, for a series, its `occurrence` rows); `prefix`
    names the id, sequence and timestamp columns when a query aliased them (e.g. "event_"
    for `e.sequence AS event_sequence`)."""
    event = EventData(
        uid=row["uid"],
        sequence=row[f"{prefix}sequence"],
        title=row["title"],
        description=row["description"],
        itinerary=itinerary_entries(row.get("itinerary")),
        location=row["location"],
        online_url=row["online_url"],
        url=event_ics_url(base_url, row[f"{prefix}id"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        recurrence=row["recurrence"],
        status=row["status"],
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
        alarms=alarm_triggers(
            row.get("reminders"), row.get("org_default_reminders"), row["timezone"]
        ),
        agenda=agenda_entries(row.get("agenda")),
    )
    if not occurrences or not event.recurrence:
        return event
    cancelled = tuple(o["recurrence_id"] for o in occurrences if o["status"] == "cancelled")
    moved = tuple(
        replace(
            event,
            starts_at=o["starts_at"],
            ends_at=o["ends_at"],
            recurrence=None,
            recurrence_id=o["recurrence_id"],
            status=o["status"],
            # an occurrence is never below its series: a change to the series reaches it too
            sequence=max(o["sequence"], event.sequence),
            updated_at=max(o["updated_at"], event.updated_at),
        )
        for o in occurrences
    )
    return replace(event, exdates=cancelled, overrides=moved)


def with_itinerary(description: str, itinerary: Any) -> str:
    """The description followed by the itinerary, one block a line ("09:30–11:00 title ·
    place"), so calendars show the programme (both languages' heading, as for the agenda)."""
    entries = itinerary if isinstance(itinerary, tuple) else itinerary_entries(itinerary)
    if not entries:
        return description
    block = "行程 / Itinerary\n" + "\n".join(itinerary_lines(entries))
    return "\n\n".join(p for p in (description.strip(), block) if p)
