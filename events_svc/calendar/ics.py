"""Event (+ person) -> iCalendar bytes: iTIP REQUEST / CANCEL bodies (RFC 5545, RFC 5546)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vRecur, vText

from events_svc import __version__
from events_svc.calendar.timeutil import zone
from events_svc.calendar.vtimezone import vtimezone
from events_svc.reminders import rules as reminder_rules

PRODID = f"-//events-svc//events-svc {__version__}//EN"
Method = Literal["REQUEST", "CANCEL", "PUBLISH"]

ROLES = {
    "chair": "CHAIR",
    "required": "REQ-PARTICIPANT",
    "optional": "OPT-PARTICIPANT",
    "non-participant": "NON-PARTICIPANT",
}
PARTSTATS = {
    "needs-action": "NEEDS-ACTION",
    "accepted": "ACCEPTED",
    "tentative": "TENTATIVE",
    "declined": "DECLINED",
}


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


@dataclass(frozen=True, slots=True)
class Party:
    """An ORGANIZER or ATTENDEE: address, display name and, for attendees, role and answer."""

    email: str
    name: str
    role: str = "required"
    rsvp: str = "needs-action"


def _cn(name: str) -> str:
    # Outlook does not read RFC 6868 (^') escapes, so double quotes become single ones.
    return " ".join(name.replace('"', "'").split())


def _address(party: Party) -> vCalAddress:
    address = vCalAddress(f"mailto:{party.email}")
    if party.name.strip():
        address.params["CN"] = vText(_cn(party.name))
    return address


def _description(event: EventData) -> str:
    parts = [with_itinerary(event.description, event.itinerary).strip(), agenda_text(event.agenda)]
    if event.online_url:
        parts.append(event.online_url)
    return "\n\n".join(p for p in parts if p)


def session_vevents(event: EventData, *, organizer: Party, dtstamp: datetime) -> Pieces:
    """Each agenda entry as a VEVENT of its own (a feed's `?detail=sessions`): a stable UID
    per session, RELATED-TO the event, the event's SEQUENCE and status; as pieces around the
    places where recipient lines go."""
    tz = zone(event.timezone)
    parts = []
    for entry in event.agenda:
        component = Event()
        component.add("uid", f"{entry.id}.{event.uid}")
        component.add("sequence", event.sequence)
        component.add("dtstamp", dtstamp.astimezone(UTC))
        component.add("dtstart", entry.starts_at.replace(tzinfo=tz))
        component.add("dtend", entry.ends_at.replace(tzinfo=tz))
        component.add("summary", entry.title)
        lines = [entry.description.strip()] if entry.description.strip() else []
        if entry.speakers:
            lines.append("、".join(sp.name or sp.email for sp in entry.speakers))
        lines.append(event.title)
        component.add("description", "\n\n".join(lines))
        location = " · ".join(p for p in (entry.room, event.location) if p)
        if location:
            component.add("location", location)
        component.add("related-to", event.uid, parameters={"RELTYPE": "PARENT"})
        component.add("url", event.online_url or event.url)
        component.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
        component.add("organizer", _address(organizer))
        parts.append(_split(component))
    return _pieces(parts)


def vevent(
    event: EventData,
    *,
    organizer: Party | None,
    attendees: Sequence[Party],
    dtstamp: datetime | None,
    cancelled: bool = False,
) -> Event:
    """One VEVENT with UID, SEQUENCE, DTSTAMP, zone-qualified times and the given attendees."""
    tz = zone(event.timezone)
    component = Event()
    component.add("uid", event.uid)
    component.add("sequence", event.sequence)
    if dtstamp is not None:  # None only while building the shared frame of an iTIP message
        component.add("dtstamp", dtstamp.astimezone(UTC))
    if event.recurrence_id is not None:
        component.add("recurrence-id", event.recurrence_id.replace(tzinfo=tz))
    component.add("dtstart", event.starts_at.replace(tzinfo=tz))
    component.add("dtend", event.ends_at.replace(tzinfo=tz))
    if event.recurrence:
        component.add("rrule", vRecur.from_ical(event.recurrence))
        if event.exdates:
            component.add("exdate", [d.replace(tzinfo=tz) for d in event.exdates])
    component.add("summary", event.title)
    description = _description(event)
    if description:
        component.add("description", description)
    if event.location:
        component.add("location", event.location)
    component.add("url", event.online_url or event.url)
    status = "CANCELLED" if cancelled or event.status == "cancelled" else "CONFIRMED"
    component.add("status", status)
    component.add("transp", "OPAQUE")
    component.add("created", event.created_at.astimezone(UTC))
    component.add("last-modified", event.updated_at.astimezone(UTC))
    if organizer is not None:  # None only for the shared frame of an iTIP message
        component.add("organizer", _address(organizer))
    for person in attendees:
        component.add("attendee", _attendee(person))
    for trigger in event.alarms:
        component.add_component(_alarm(trigger, event.title))
    return component


def _alarm(trigger: str, title: str) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", title)
    if trigger.endswith("Z"):
        alarm.add(
            "trigger",
            datetime.strptime(trigger, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
            # RFC 5545 3.8.6.3: an absolute trigger must say so, or readers take it for a
            # duration (ical.js refuses it)
            parameters={"VALUE": "DATE-TIME"},
        )
    else:
        alarm.add("trigger", vDuration.from_ical(trigger))
    return alarm


def _attendee(person: Party) -> vCalAddress:
    attendee = _address(person)
    attendee.params["CUTYPE"] = "INDIVIDUAL"
    attendee.params["ROLE"] = ROLES[person.role]
    attendee.params["PARTSTAT"] = PARTSTATS[person.rsvp]
    attendee.params["RSVP"] = "TRUE"
    return attendee


def calendar(method: Method | None, events: Sequence[Event], timezones: Sequence[str]) -> Calendar:
    """A VCALENDAR around `events` with one rule-based VTIMEZONE per zone used."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    for tzid in dict.fromkeys(timezones):  # each zone once, in first-use order
        cal.add_component(vtimezone(tzid))
    for component in events:
        cal.add_component(component)
    return cal


_END_VCALENDAR = b"END:VCALENDAR\r\n"
_END_VEVENT = b"END:VEVENT\r\n"

#: a rendered block cut where per-recipient lines go: `lines.join(pieces)` puts them in (one
#: place per VEVENT), `b"".join(pieces)` leaves them out. The cuts are the lengths of parts
#: rendered apart, never a search of the text, so no title or description can add a cut.
Pieces = tuple[bytes, ...]


def _split(component: Event) -> tuple[bytes, bytes]:
    """A VEVENT's bytes up to the end of its properties, and the rest (its VALARMs and END):
    per-recipient lines go between (RFC 5545 puts properties before subcomponents)."""
    alarms, component.subcomponents = component.subcomponents, []
    try:
        properties: bytes = component.to_ical()
    finally:
        component.subcomponents = alarms
    if not properties.endswith(_END_VEVENT):  # pragma: no cover - icalendar's own framing
        raise ValueError("a VEVENT that does not end with END:VEVENT")
    rest = b"".join(alarm.to_ical() for alarm in alarms)
    return properties[: -len(_END_VEVENT)], rest + _END_VEVENT


def _pieces(parts: Sequence[tuple[bytes, bytes]]) -> Pieces:
    """Consecutive VEVENTs as pieces: each VEVENT's tail joins the next one's head."""
    if not parts:
        return (b"",)
    out = [parts[0][0]]
    for (_, tail), (head, _) in zip(parts, parts[1:], strict=False):
        out.append(tail + head)
    out.append(parts[-1][1])
    return tuple(out)


def vevents(
    event: EventData,
    *,
    organizer: Party | None,
    dtstamp: datetime | None,
    cancelled: bool = False,
) -> Pieces:
    """The VEVENT of the event (of a series: the master with EXDATEs, then one per moved
    occurrence), as pieces around the place in each where recipient lines go."""
    return _pieces(
        [
            _split(
                vevent(
                    item,
                    organizer=organizer,
                    attendees=[],
                    dtstamp=dtstamp,
                    cancelled=cancelled,
                )
            )
            for item in (event, *(o for o in event.overrides if o.status != "cancelled"))
        ]
    )


@lru_cache(maxsize=256)
def _itip_frame(method: Literal["REQUEST", "CANCEL"], event: EventData) -> Pieces:
    """The bytes of an iTIP message around the per-recipient lines (DTSTAMP, ORGANIZER and
    ATTENDEE), cut at each place they go. A fan-out renders the same event thousands of
    times; only those lines differ (ORGANIZER too: each invitation has its own reply
    address)."""
    head: bytes = calendar(method, [], [event.timezone]).to_ical()
    head = head[: -len(_END_VCALENDAR)]
    body = vevents(event, organizer=None, dtstamp=None, cancelled=method == "CANCEL")
    return (head + body[0], *body[1:-1], body[-1] + _END_VCALENDAR)


def recipient_lines(attendee: Party, dtstamp: datetime | None = None) -> bytes:
    """DTSTAMP (when given) and the ATTENDEE line, folded, for one recipient."""
    holder = Event()
    holder.add("attendee", _attendee(attendee))  # icalendar quotes, escapes and folds it
    lines: bytes = holder.to_ical()
    # drop BEGIN:VEVENT / END:VEVENT around the property (folded lines stay whole)
    attendee_lines = lines[len(b"BEGIN:VEVENT\r\n") : -len(b"END:VEVENT\r\n")]
    if dtstamp is None:
        return attendee_lines
    stamp = dtstamp.astimezone(UTC).strftime("DTSTAMP:%Y%m%dT%H%M%SZ\r\n").encode()
    return stamp + attendee_lines


def organizer_line(organizer: Party) -> bytes:
    """The ORGANIZER line exactly as a VEVENT block holds it, folded (icalendar folds each
    line alone, so the bytes are the same): what a feed finds to swap."""
    holder = Event()
    holder.add("organizer", _address(organizer))
    lines: bytes = holder.to_ical()
    return lines[len(b"BEGIN:VEVENT\r\n") : -len(b"END:VEVENT\r\n")]


@lru_cache(maxsize=1024)
def _organizer_head(name: str) -> str:
    """`ORGANIZER;CN=…:` unfolded, with the name quoted and escaped as icalendar does."""
    line = organizer_line(Party(email="x@x", name=name)).decode()
    return line.replace("\r\n ", "").rstrip("\r\n")[: -len("mailto:x@x")]


def own_organizer_line(organizer: Party) -> bytes:
    """The same line, folded at 75 octets without splitting a character, without icalendar
    (~130 µs a line): each invitation has its own reply address, so every message and every
    event of a personal feed needs one."""
    data = (_organizer_head(organizer.name) + "mailto:" + organizer.email).encode()
    pieces: list[bytes] = []
    start, limit = 0, 75
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: fold before its lead
            end -= 1
        pieces.append(data[start:end])
        start, limit = end, 74  # a continuation line's leading space counts
    pieces.append(data[start:])
    return b"\r\n ".join(pieces) + b"\r\n"


def publish(event: EventData, *, organizer: Party, dtstamp: datetime | None = None) -> bytes:
    """The event as a file to download or import (METHOD:PUBLISH, no attendees)."""
    head: bytes = calendar("PUBLISH", [], [event.timezone]).to_ical()
    body = vevents(event, organizer=organizer, dtstamp=dtstamp or datetime.now(UTC))
    return head[: -len(_END_VCALENDAR)] + b"".join(body) + _END_VCALENDAR


def itip(
    method: Literal["REQUEST", "CANCEL"],
    event: EventData,
    *,
    organizer: Party,
    attendee: Party,
    dtstamp: datetime | None = None,
) -> bytes:
    """The iTIP message for one attendee: REQUEST (invitation, update) or CANCEL. For a series
    it carries the moved occurrences too (a REQUEST without them would undo them); for one
    occurrence (`event.recurrence_id` set) it carries that occurrence only."""
    pieces = _itip_frame(method, event)
    lines = recipient_lines(attendee, dtstamp or datetime.now(UTC))
    return (own_organizer_line(organizer) + lines).join(pieces)
