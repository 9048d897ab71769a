"""Per-recipient lines go at places cut while rendering, so no user text can add a place:
a title that spells the old marker line, padded to meet every fold, stays one SUMMARY."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from events_svc.calendar.ics import (
    AgendaEntry,
    EventData,
    Party,
    itip,
    publish,
    recipient_lines,
    session_vevents,
    vevents,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ORGANIZER = Party(email="events@example.org", name="北京社会工作者协会")
ME = Party(email="wang.fang@example.org", name="王芳", role="chair", rsvp="accepted")
#: the line the old renderer split at (a fold right after it makes the same bytes)
SPOOF = "X-EVENTS-SVC-RECIPIENT:1"
#: every offset a fold can fall at: "SUMMARY:" + pad + spoof crosses a fold at each one
PADS = range(76)

BASE = EventData(
    uid="u1@events.example.org",
    sequence=2,
    title="论坛",
    description="",
    location="",
    online_url="",
    url="https://events.example.org/events/x.ics",
    starts_at=datetime(2027, 6, 10, 9, 30),
    ends_at=datetime(2027, 6, 10, 17, 0),
    timezone="Asia/Shanghai",
    recurrence=None,
    status="scheduled",
    created_at=NOW,
    updated_at=NOW,
    alarms=("-PT1H",),
)


def _text(pad: int) -> str:
    return "x" * pad + SPOOF + "\r\n" + SPOOF + "y" * (pad % 7) + SPOOF


def _event(field: str, pad: int) -> EventData:
    value = _text(pad)
    return replace(BASE, uid=f"{field}-{pad}@events.example.org", **{field: value})


def _check(ics: bytes, *, event: EventData, attendee: bool, vevent_count: int = 1) -> None:
    """One DTSTAMP (and one ATTENDEE when one is expected) in every VEVENT, and the texts as
    they were given."""
    unfolded = ics.replace(b"\r\n ", b"").decode()
    counts: list[dict[str, int]] = []
    for line in unfolded.split("\r\n"):
        if line == "BEGIN:VEVENT":
            counts.append({"DTSTAMP": 0, "ATTENDEE": 0, "X-EVENTS-SVC-RECIPIENT": 0})
        name = line.split(":", 1)[0].split(";", 1)[0]
        if counts and name in counts[-1]:
            counts[-1][name] += 1
    assert len(counts) == vevent_count
    for c in counts:
        assert c == {"DTSTAMP": 1, "ATTENDEE": 1 if attendee else 0, "X-EVENTS-SVC-RECIPIENT": 0}
    vevents_ = Calendar.from_ical(ics).walk("VEVENT")
    assert len(vevents_) == vevent_count
    main = vevents_[0]
    assert str(main["SUMMARY"]) == event.title.replace("\r\n", "\n")
    if event.location:
        assert str(main["LOCATION"]) == event.location.replace("\r\n", "\n")
    if event.description:
        assert str(main["DESCRIPTION"]) == event.description.replace("\r\n", "\n")
    if attendee:
        assert str(main["ATTENDEE"]).lower() == "mailto:wang.fang@example.org"
    assert len(main.walk("VALARM")) == len(event.alarms)


@pytest.mark.parametrize("field", ["title", "description", "location"])
def test_mail_ics_cannot_be_spliced_from_user_text(field: str) -> None:
    for pad in PADS:
        event = _event(field, pad)
        for method in ("REQUEST", "CANCEL"):
            ics = itip(method, event, organizer=ORGANIZER, attendee=ME, dtstamp=NOW)
            _check(ics, event=event, attendee=True)


def test_series_with_moved_occurrence_keeps_one_attendee_per_vevent() -> None:
    for pad in PADS:
        series = replace(_event("title", pad), recurrence="FREQ=WEEKLY;COUNT=4")
        moved = replace(
            series,
            recurrence=None,
            recurrence_id=datetime(2027, 6, 17, 9, 30),
            starts_at=datetime(2027, 6, 18, 9, 30),
            ends_at=datetime(2027, 6, 18, 17, 0),
        )
        event = replace(series, overrides=(moved,))
        ics = itip("REQUEST", event, organizer=ORGANIZER, attendee=ME, dtstamp=NOW)
        _check(ics, event=event, attendee=True, vevent_count=2)


def _feed(pieces: tuple[bytes, ...]) -> tuple[bytes, bytes]:
    """A person's and a public feed around the pieces, as the feed service joins them."""
    head = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    end = b"END:VCALENDAR\r\n"
    return (
        head + recipient_lines(ME).join(pieces) + end,
        head + b"".join(pieces) + end,
    )


@pytest.mark.parametrize("field", ["title", "description", "location"])
def test_feed_blocks_cannot_be_spliced_from_user_text(field: str) -> None:
    for pad in PADS:
        event = _event(field, pad)
        pieces = vevents(event, organizer=ORGANIZER, dtstamp=NOW)
        personal, public = _feed(pieces)
        _check(personal, event=event, attendee=True)
        _check(public, event=event, attendee=False)
        assert b"".join(pieces) in publish(event, organizer=ORGANIZER, dtstamp=NOW)


def test_session_blocks_cannot_be_spliced_from_user_text() -> None:
    for pad in PADS:
        text = _text(pad)
        entry = AgendaEntry(
            id="s1",
            title=text,
            starts_at=datetime(2027, 6, 10, 9, 30),
            ends_at=datetime(2027, 6, 10, 11, 0),
            room=text,
            description=text,
        )
        event = replace(BASE, title=text, agenda=(entry, replace(entry, id="s2")))
        pieces = session_vevents(event, organizer=ORGANIZER, dtstamp=NOW)
        assert len(pieces) == 3  # two sessions: one place each
        personal, _public = _feed(pieces)
        _check(personal, event=replace(event, alarms=()), attendee=True, vevent_count=2)
