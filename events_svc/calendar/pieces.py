"""Whole iCalendar objects as bytes, rendered once and spliced per recipient (feeds and
fan-outs); PUBLISH and iTIP bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from icalendar import Event, vText
from icalendar.parser import param_value

from events_svc.calendar.eventdata import EventData
from events_svc.calendar.vevent import (
    _END_VCALENDAR,
    PARTSTATS,
    ROLES,
    Party,
    Pieces,
    _address,
    _cn,
    _pieces,
    _split,
    calendar,
    vevent,
)


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
    # The one content line icalendar would write for the property inside a component (it
    # quotes, escapes and folds it), written without icalendar's Parameters and Contentline:
    # a fan-out renders one per recipient, and those objects cost 8-9 % of a worker's CPU.
    # (tests/unit/test_recipient_lines.py holds it to the component's bytes.)
    head = "ATTENDEE"
    if attendee.name.strip():
        cn = vText(_cn(attendee.name))
        # icalendar quotes CN also for a space or an apostrophe (Parameters.quote_also)
        head += ";CN=" + param_value(cn, always_quote=" " in cn or "'" in cn)
    line = head + _attendee_tail(attendee.role, attendee.rsvp) + attendee.email
    attendee_lines = fold(line) + b"\r\n"
    if dtstamp is None:
        return attendee_lines
    stamp = dtstamp.astimezone(UTC).strftime("DTSTAMP:%Y%m%dT%H%M%SZ\r\n").encode()
    return stamp + attendee_lines


@lru_cache(maxsize=64)
def _attendee_tail(role: str, rsvp: str) -> str:
    """The ATTENDEE parameters after CN (in icalendar's sorted order) and the value's start."""
    return f";CUTYPE=INDIVIDUAL;PARTSTAT={PARTSTATS[rsvp]};ROLE={ROLES[role]};RSVP=TRUE:mailto:"


def fold(line: str) -> bytes:
    """A content line folded as icalendar folds it: at most 74 octets before each fold,
    never inside a UTF-8 character, and never right after a backslash or caret (so an
    escape is not cut in two)."""
    data = line.encode()
    if len(data) <= 74:
        return data
    pieces: list[bytes] = []
    start = 0
    while len(data) - start > 74:
        end = start + 74
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: fold before its lead
            end -= 1
        if data[end - 1] in b"\\^" and end - 1 > start:
            end -= 1
        pieces.append(data[start:end])
        start = end
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)


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
