"""The per-recipient ATTENDEE line of a fan-out is written without a component around it:
byte for byte what icalendar writes for the property inside a VEVENT."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from icalendar import Event

from events_svc.calendar.pieces import recipient_lines
from events_svc.calendar.vevent import PARTSTATS, ROLES, Party, _attendee

NAMES = [
    "会员1",
    "",
    'A, B; C: "D"',
    "x" * 200,
    "张三" * 40,
    "O'Brien",
    "a\\b",
    "line\nbreak",
    "é" * 77,
    "cn with: colon",
]
EMAILS = ["a@b.org", "very.long." + "x" * 90 + "@example.org", "名@例子.中国", "a+b@c.d"]


def _in_a_component(attendee: Party) -> bytes:
    holder = Event()
    holder.add("attendee", _attendee(attendee))
    lines: bytes = holder.to_ical()
    return lines[len(b"BEGIN:VEVENT\r\n") : -len(b"END:VEVENT\r\n")]


def test_attendee_line_is_the_components_bytes() -> None:
    for name, email, role, rsvp in itertools.product(NAMES, EMAILS, ROLES, PARTSTATS):
        attendee = Party(email=email, name=name, role=role, rsvp=rsvp)
        assert recipient_lines(attendee) == _in_a_component(attendee), attendee


def test_dtstamp_goes_first() -> None:
    attendee = Party(email="a@b.org", name="会员")
    stamp = datetime(2027, 6, 10, 1, 30, tzinfo=UTC)
    assert recipient_lines(attendee, stamp) == (
        b"DTSTAMP:20270610T013000Z\r\n" + _in_a_component(attendee)
    )


def test_folds_like_icalendar_at_every_boundary() -> None:
    """Names of every length from an alphabet of escapes, quotes and multi-byte characters,
    so that a backslash, a caret or a CJK character lands on each fold position."""
    import random

    alphabet = ["a", "\\", "^", ";", ",", ":", '"', "'", " ", "中", "é", "😀", "\n"]
    rng = random.Random(19)
    for length in range(0, 120):
        for _ in range(3):
            name = "".join(rng.choice(alphabet) for _ in range(length))
            attendee = Party(email="r01234@assoc.example.org", name=name)
            assert recipient_lines(attendee) == _in_a_component(attendee), name
