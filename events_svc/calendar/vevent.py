"""VEVENT components: the event, its sessions, alarms, organizer and attendees; VCALENDAR; bytes
cut in pieces where a recipient's lines go."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vRecur, vText

from events_svc import __version__
from events_svc.calendar.agenda import agenda_text
from events_svc.calendar.eventdata import EventData, with_itinerary
from events_svc.calendar.timeutil import zone
from events_svc.calendar.vtimezone import vtimezone

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
