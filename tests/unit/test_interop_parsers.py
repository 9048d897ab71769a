"""Tests of the interop harness (tests/interop) on hand-written iCalendar documents."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from events_svc.calendar.vtimezone import vtimezone
from tests.interop import parsers
from tests.interop.parsers import (
    check_all,
    expand,
    parse_with_ical,
    parse_with_icalendar,
    parse_with_icaljs,
    parse_with_vobject,
)

needs_icaljs = pytest.mark.skipif(
    not parsers.icaljs_usable(),
    reason=f"ical.js cannot run here ({parsers.icaljs_missing()}); CI requires it",
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

DESCRIPTION_ZH = (
    "第二届社会工作本色与本土论坛将于广州举行，京粤两地社会工作者、高校教师与研究生齐聚一堂，"
    "围绕社会工作的本土化实践、专业伦理、督导体系建设以及社区治理中的社会工作角色展开深入交流。"
    "请携带会员证件提前三十分钟到达会场签到。"
)


def _chinese_invitation() -> bytes:
    """A METHOD:REQUEST invitation in Chinese, serialised (and folded) by icalendar."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//events-svc//interop test//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "REQUEST")

    tz = icalendar.Timezone()
    tz.add("tzid", "Asia/Shanghai")
    standard = icalendar.TimezoneStandard()
    standard.add("dtstart", datetime(1970, 1, 1, 0, 0, 0))
    standard.add("tzoffsetfrom", SHANGHAI.utcoffset(datetime(2027, 1, 1)))
    standard.add("tzoffsetto", SHANGHAI.utcoffset(datetime(2027, 1, 1)))
    standard.add("tzname", "CST")
    tz.add_component(standard)
    cal.add_component(tz)

    event = icalendar.Event()
    event.add("uid", "forum-2027@events.example.org")
    event.add("sequence", 2)
    event.add("dtstamp", datetime(2027, 5, 1, 8, 0, 0, tzinfo=ZoneInfo("UTC")))
    event.add("dtstart", datetime(2027, 6, 10, 9, 30, tzinfo=SHANGHAI))
    event.add("dtend", datetime(2027, 6, 10, 17, 0, tzinfo=SHANGHAI))
    event.add("summary", "第二届社会工作本色与本土论坛")
    event.add("description", DESCRIPTION_ZH)
    event.add("location", "广州市越秀区东风中路")
    event.add("status", "CONFIRMED")
    event.add(
        "organizer",
        "mailto:events@events.example.org",
        parameters={"CN": "广东省社会工作师联合会"},
    )
    event.add(
        "attendee",
        "mailto:zhang.wei@example.org",
        parameters={
            "CN": "张伟",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        },
    )
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", "论坛提醒")
    alarm.add("trigger", timedelta(minutes=-30))
    event.add_component(alarm)
    cal.add_component(event)
    ics: bytes = cal.to_ical()
    return ics


NEW_YORK_VTIMEZONE = """\
BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE
"""

# Mondays 10:00 New York from 2027-03-01; DST starts on Sunday 2027-03-14. The 22nd is
# cancelled (EXDATE), the 29th moved to 11:00 (override with RECURRENCE-ID).
WEEKLY_SERIES = (
    """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//events-svc//interop test//EN
METHOD:PUBLISH
"""
    + NEW_YORK_VTIMEZONE
    + """\
BEGIN:VEVENT
UID:weekly-seminar@events.example.org
SEQUENCE:1
DTSTAMP:20270201T120000Z
DTSTART;TZID=America/New_York:20270301T100000
DTEND;TZID=America/New_York:20270301T110000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=America/New_York:20270322T100000
SUMMARY:Weekly seminar
END:VEVENT
BEGIN:VEVENT
UID:weekly-seminar@events.example.org
SEQUENCE:1
DTSTAMP:20270201T120000Z
RECURRENCE-ID;TZID=America/New_York:20270329T100000
DTSTART;TZID=America/New_York:20270329T110000
DTEND;TZID=America/New_York:20270329T120000
SUMMARY:Weekly seminar (moved)
END:VEVENT
END:VCALENDAR
"""
)


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def test_chinese_invitation_is_folded_on_character_bounds() -> None:
    ics = _chinese_invitation()
    # The DESCRIPTION needs several physical lines, and each is checked on its own.
    assert any(line.startswith(b" ") for line in ics.split(b"\r\n"))
    calendar = parse_with_icalendar(ics)
    (event,) = calendar.walk("VEVENT")
    assert str(event["DESCRIPTION"]) == DESCRIPTION_ZH


@needs_icaljs
def test_chinese_invitation_in_icaljs() -> None:
    result = check_all(_chinese_invitation())

    assert result["method"] == "REQUEST"
    assert result["timezones"] == ["Asia/Shanghai"]
    (event,) = result["events"]
    assert event["uid"] == "forum-2027@events.example.org"
    assert event["sequence"] == 2
    assert event["summary"] == "第二届社会工作本色与本土论坛"
    assert event["description"] == DESCRIPTION_ZH
    assert event["location"] == "广州市越秀区东风中路"
    assert event["status"] == "CONFIRMED"
    assert event["dtstart_tzid"] == "Asia/Shanghai"
    assert event["dtstart_utc"] == "2027-06-10T01:30:00.000Z"
    assert event["dtend_utc"] == "2027-06-10T09:00:00.000Z"
    assert event["rrule"] is None
    assert event["recurrence_id"] is None
    assert event["organizer"] == "mailto:events@events.example.org"
    assert event["organizer_cn"] == "广东省社会工作师联合会"
    assert event["attendees"] == [
        {
            "value": "mailto:zhang.wei@example.org",
            "cn": "张伟",
            "role": "REQ-PARTICIPANT",
            "partstat": "NEEDS-ACTION",
            "rsvp": "TRUE",
        }
    ]
    assert event["alarms"] == [{"action": "DISPLAY", "trigger": "-PT30M"}]
    assert event["first_occurrences_utc"] == ["2027-06-10T01:30:00.000Z"]


def test_chinese_invitation_in_vobject() -> None:
    calendar = parse_with_vobject(_chinese_invitation())
    (event,) = calendar.vevent_list
    assert event.description.value == DESCRIPTION_ZH
    assert event.attendee.params["CN"] == ["张伟"]


@needs_icaljs
def test_weekly_series_across_dst_with_exdate_and_override() -> None:
    result = check_all(_crlf(WEEKLY_SERIES))

    assert result["method"] == "PUBLISH"
    assert result["timezones"] == ["America/New_York"]
    master, override = result["events"]
    assert master["rrule"] == "FREQ=WEEKLY;COUNT=6"
    assert master["recurrence_id"] is None
    assert master["exdates"] == ["2027-03-22T14:00:00.000Z"]
    assert master["dtstart_utc"] == "2027-03-01T15:00:00.000Z"
    assert master["first_occurrences_utc"] == [
        "2027-03-01T15:00:00.000Z",  # EST, UTC-5
        "2027-03-08T15:00:00.000Z",
        "2027-03-15T14:00:00.000Z",  # EDT from 2027-03-14, UTC-4
        # 2027-03-22 is excluded by EXDATE
        "2027-03-29T15:00:00.000Z",  # the override: 11:00 EDT
        "2027-04-05T14:00:00.000Z",
    ]
    moved = master["first_occurrences"][3]
    assert moved["overridden"] is True
    assert moved["recurrence_id_utc"] == "2027-03-29T14:00:00.000Z"
    assert moved["end_utc"] == "2027-03-29T16:00:00.000Z"

    assert override["uid"] == master["uid"]
    assert override["recurrence_id"] == "20270329T100000"
    assert override["recurrence_id_utc"] == "2027-03-29T14:00:00.000Z"
    assert override["dtstart_utc"] == "2027-03-29T15:00:00.000Z"
    assert override["summary"] == "Weekly seminar (moved)"


@needs_icaljs
def test_wrong_vtimezone_makes_the_parsers_disagree() -> None:
    # A VTIMEZONE that claims Asia/Shanghai is UTC+9: icalendar resolves the IANA name itself,
    # ical.js trusts the document, so check_all must notice.
    ics = _chinese_invitation().replace(b"TZOFFSETTO:+0800", b"TZOFFSETTO:+0900")
    assert parse_with_icaljs(ics)["events"][0]["dtstart_utc"] == "2027-06-10T00:30:00.000Z"
    with pytest.raises(AssertionError, match="disagree"):
        check_all(ics)


@needs_icaljs
def test_tzid_without_vtimezone_is_reported() -> None:
    ics = _crlf(WEEKLY_SERIES.replace(NEW_YORK_VTIMEZONE, ""))
    assert parse_with_icaljs(ics)["warnings"]
    with pytest.raises(AssertionError, match="no VTIMEZONE"):
        check_all(ics)


@needs_icaljs
@pytest.mark.parametrize(
    "text",
    [
        "BEGIN:VCALENDAR\nVERSION:2.0\nthis line has no colon\nEND:VCALENDAR\n",
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR\n",
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:2027-06\nEND:VEVENT\nEND:VCALENDAR\n",
        "",
    ],
    ids=["no-colon", "unclosed-vevent", "bad-date", "empty"],
)
def test_malformed_document_fails_in_icaljs(text: str) -> None:
    with pytest.raises(AssertionError, match="ical.js could not parse"):
        parse_with_icaljs(_crlf(text))


@needs_icaljs
def test_invalid_utf8_fails_in_icaljs() -> None:
    ics = _crlf("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n").replace(b"2.0", b"\xff")
    with pytest.raises(AssertionError, match="ical.js could not parse"):
        parse_with_icaljs(ics)


def test_missing_node_modules_is_an_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(parsers, "NODE_MODULES", tmp_path / "node_modules")
    with pytest.raises(AssertionError, match=r"npm ci --prefix tests/interop"):
        parse_with_icaljs(_crlf(WEEKLY_SERIES))


def test_line_longer_than_75_octets_fails() -> None:
    ics = _crlf(WEEKLY_SERIES.replace("SUMMARY:Weekly seminar\n", "SUMMARY:" + "x" * 68 + "\n"))
    with pytest.raises(AssertionError, match="76 octets"):
        parse_with_icalendar(ics)
    # exactly 75 octets is fine
    parse_with_icalendar(
        _crlf(WEEKLY_SERIES.replace("SUMMARY:Weekly seminar\n", "SUMMARY:" + "x" * 67 + "\n"))
    )


def test_fold_splitting_a_utf8_character_fails() -> None:
    # "社会" is 6 octets; fold after the first octet of "会".
    whole = "SUMMARY:社会\r\n".encode()
    split = whole[:12] + b"\r\n " + whole[12:]
    ics = _crlf(WEEKLY_SERIES).replace(b"SUMMARY:Weekly seminar\r\n", split, 1)
    with pytest.raises(AssertionError, match="not valid UTF-8"):
        parse_with_icalendar(ics)


def test_bare_lf_fails() -> None:
    ics = _crlf(WEEKLY_SERIES).replace(b"SEQUENCE:1\r\n", b"SEQUENCE:1\n", 1)
    with pytest.raises(AssertionError, match="not CRLF-terminated"):
        parse_with_icalendar(ics)


# --- the strict ical parser, recurrence expansion and feeds --------------------------------

WIDE_WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def _calendar(*zones: str, method: str | None = "PUBLISH") -> icalendar.Calendar:
    """A VCALENDAR with the project's VTIMEZONE for each of ``zones``."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//events-svc//interop test//EN")
    cal.add("version", "2.0")
    if method is not None:
        cal.add("method", method)
    for name in zones:
        cal.add_component(vtimezone(name))
    return cal


def _event(
    uid: str, start: datetime | date, end: datetime | date, summary: str, **props: Any
) -> icalendar.Event:
    """A VEVENT; ``props`` are added in order (e.g. rrule=..., sequence=...)."""
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime(2027, 1, 15, 8, 0, tzinfo=UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    for name, value in props.items():
        event.add(name.replace("_", "-"), value)
    return event


def _ics(cal: icalendar.Calendar) -> bytes:
    ics: bytes = cal.to_ical()
    return ics


def _shanghai_six_sessions() -> bytes:
    # Six Tuesday sessions at 14:00 Beijing time from 2027-09-07 (China has no DST).
    cal = _calendar("Asia/Shanghai", method="REQUEST")
    event = _event(
        "training-2027@events.example.org",
        datetime(2027, 9, 7, 14, 0, tzinfo=SHANGHAI),
        datetime(2027, 9, 7, 16, 0, tzinfo=SHANGHAI),
        "社会工作督导培训",
        rrule={"FREQ": "WEEKLY", "COUNT": 6},
        sequence=0,
        status="CONFIRMED",
    )
    event.add("organizer", "mailto:events@events.example.org", parameters={"CN": "培训部"})
    event.add(
        "attendee",
        "mailto:li.na@example.org",
        parameters={"CN": "李娜", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION"},
    )
    cal.add_component(event)
    return _ics(cal)


def test_weekly_six_sessions_in_shanghai() -> None:
    ics = _shanghai_six_sessions()
    assert check_all(ics)["method"] == "REQUEST"
    (strict,) = parse_with_ical(ics).events
    assert strict.rrule is not None and strict.rrule.count == 6
    assert strict.organizer is not None and strict.organizer.common_name == "培训部"
    assert [a.common_name for a in strict.attendees] == ["李娜"]

    occurrences = expand(ics, *WIDE_WINDOW)

    starts = [datetime(2027, 9, 7, 14, 0, tzinfo=SHANGHAI) + timedelta(weeks=n) for n in range(6)]
    assert [o["start_utc"] for o in occurrences] == starts
    for occurrence in occurrences:
        local = occurrence["start_local"]
        assert isinstance(local, datetime)
        assert (local.time(), str(local.tzinfo)) == (time(14, 0), "Asia/Shanghai")
        assert occurrence["start_utc"].hour == 6  # UTC+8 all year
        assert occurrence["end_utc"] - occurrence["start_utc"] == timedelta(hours=2)
        assert occurrence["recurrence_id_utc"] == occurrence["start_utc"]
        assert not occurrence["overridden"]
        assert occurrence["summary"] == "社会工作督导培训"
        assert occurrence["status"] == "CONFIRMED"


def test_expand_window_is_half_open_and_counts_overlaps() -> None:
    ics = _shanghai_six_sessions()
    # The 14 September session runs 06:00-08:00 UTC; the next starts at the window's end.
    window = (datetime(2027, 9, 14, 7, 0, tzinfo=UTC), datetime(2027, 9, 21, 6, 0, tzinfo=UTC))
    (occurrence,) = expand(ics, *window)
    assert occurrence["start_utc"] == datetime(2027, 9, 14, 6, 0, tzinfo=UTC)
    with pytest.raises(AssertionError, match="aware"):
        expand(ics, datetime(2027, 9, 1), datetime(2027, 10, 1))


def test_berlin_series_keeps_wall_clock_across_dst() -> None:
    # Tuesdays 09:00 Berlin; summer time starts on the last Sunday of March (2027-03-28).
    cal = _calendar("Europe/Berlin")
    cal.add_component(
        _event(
            "board-meeting@events.example.org",
            datetime(2027, 3, 16, 9, 0, tzinfo=BERLIN),
            datetime(2027, 3, 16, 10, 0, tzinfo=BERLIN),
            "Board meeting",
            rrule={"FREQ": "WEEKLY", "COUNT": 4},
        )
    )
    ics = _ics(cal)
    check_all(ics)

    occurrences = expand(ics, *WIDE_WINDOW)

    locals_ = [o["start_local"] for o in occurrences]
    assert [d.date() for d in locals_ if isinstance(d, datetime)] == [
        date(2027, 3, 16),
        date(2027, 3, 23),
        date(2027, 3, 30),
        date(2027, 4, 6),
    ]
    assert {d.time() for d in locals_ if isinstance(d, datetime)} == {time(9, 0)}
    assert [d.utcoffset() for d in locals_ if isinstance(d, datetime)] == [
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=2),
    ]
    assert [o["start_utc"].hour for o in occurrences] == [8, 8, 7, 7]


def _series_with_exdate_and_override(
    recurrence_id: datetime = datetime(2027, 4, 22, 19, 0, tzinfo=BERLIN),
) -> bytes:
    # Thursdays 19:00 Berlin from 2027-04-01: the 15th cancelled (EXDATE), the 22nd moved two
    # hours later by an override VEVENT with a SEQUENCE of its own.
    cal = _calendar("Europe/Berlin")
    uid = "reading-circle@events.example.org"
    cal.add_component(
        _event(
            uid,
            datetime(2027, 4, 1, 19, 0, tzinfo=BERLIN),
            datetime(2027, 4, 1, 20, 30, tzinfo=BERLIN),
            "Reading circle",
            rrule={"FREQ": "WEEKLY", "COUNT": 5},
            exdate=datetime(2027, 4, 15, 19, 0, tzinfo=BERLIN),
            sequence=1,
        )
    )
    cal.add_component(
        _event(
            uid,
            datetime(2027, 4, 22, 21, 0, tzinfo=BERLIN),
            datetime(2027, 4, 22, 22, 30, tzinfo=BERLIN),
            "Reading circle (moved)",
            recurrence_id=recurrence_id,
            sequence=2,
        )
    )
    return _ics(cal)


def test_exdate_and_override_in_every_parser() -> None:
    ics = _series_with_exdate_and_override()
    # master and override share the UID; check_all keys them by (UID, RECURRENCE-ID)
    check_all(ics)
    master, override = parse_with_ical(ics).events
    assert (master.sequence, override.sequence) == (1, 2)
    assert override.recurrence_id == "20270422T190000"

    occurrences = expand(ics, *WIDE_WINDOW)

    assert [(o["start_local"], o["sequence"], o["overridden"]) for o in occurrences] == [
        (datetime(2027, 4, 1, 19, 0, tzinfo=BERLIN), 1, False),
        (datetime(2027, 4, 8, 19, 0, tzinfo=BERLIN), 1, False),
        # 15 April: EXDATE
        (datetime(2027, 4, 22, 21, 0, tzinfo=BERLIN), 2, True),
        (datetime(2027, 4, 29, 19, 0, tzinfo=BERLIN), 1, False),
    ]
    moved = occurrences[2]
    assert moved["summary"] == "Reading circle (moved)"
    assert moved["recurrence_id_utc"] == datetime(2027, 4, 22, 17, 0, tzinfo=UTC)
    assert moved["start_utc"] == datetime(2027, 4, 22, 19, 0, tzinfo=UTC)
    assert moved["end_utc"] == datetime(2027, 4, 22, 20, 30, tzinfo=UTC)


def test_override_on_its_own() -> None:
    # An iTIP REQUEST about one instance carries only the override VEVENT, no series.
    cal = _calendar("Europe/Berlin", method="REQUEST")
    cal.add_component(
        _event(
            "reading-circle@events.example.org",
            datetime(2027, 4, 22, 21, 0, tzinfo=BERLIN),
            datetime(2027, 4, 22, 22, 30, tzinfo=BERLIN),
            "Reading circle (moved)",
            recurrence_id=datetime(2027, 4, 22, 19, 0, tzinfo=BERLIN),
            sequence=2,
        )
    )
    ics = _ics(cal)
    check_all(ics)
    (occurrence,) = expand(ics, *WIDE_WINDOW)
    assert occurrence["start_utc"] == datetime(2027, 4, 22, 19, 0, tzinfo=UTC)
    assert occurrence["recurrence_id_utc"] == datetime(2027, 4, 22, 17, 0, tzinfo=UTC)
    assert occurrence["overridden"] and occurrence["sequence"] == 2


def test_two_series_with_overrides_of_the_same_instant() -> None:
    # ical.js, as parse_ics.mjs calls it, relates overrides to series without looking at the
    # UID; expand hands it each such series in a document of its own.
    cal = _calendar("Europe/Berlin")
    for uid, moved_to in (("a@events.example.org", 11), ("b@events.example.org", 15)):
        start = datetime(2027, 3, 18, 9, 0, tzinfo=BERLIN)
        cal.add_component(
            _event(
                uid, start, start + timedelta(hours=2), uid, rrule={"FREQ": "WEEKLY", "COUNT": 3}
            )
        )
        moved = datetime(2027, 3, 25, moved_to, 0, tzinfo=BERLIN)
        cal.add_component(
            _event(
                uid,
                moved,
                moved + timedelta(hours=1),
                f"{uid} (moved)",
                recurrence_id=start + timedelta(weeks=1),
            )
        )
    ics = _ics(cal)
    check_all(ics)
    occurrences = expand(ics, *WIDE_WINDOW)
    assert [(o["uid"][0], o["start_local"].isoformat()) for o in occurrences] == [
        ("a", "2027-03-18T09:00:00+01:00"),
        ("b", "2027-03-18T09:00:00+01:00"),
        ("a", "2027-03-25T11:00:00+01:00"),
        ("b", "2027-03-25T15:00:00+01:00"),
        ("a", "2027-04-01T09:00:00+02:00"),
        ("b", "2027-04-01T09:00:00+02:00"),
    ]


def test_utc_recurrence_id_leaves_a_duplicate_in_ical() -> None:
    # Valid RFC 5545, and recurring_ical_events and ical.js move the instance, but ical (Home
    # Assistant) matches overrides by the RECURRENCE-ID text, so it shows both.
    ics = _series_with_exdate_and_override(datetime(2027, 4, 22, 17, 0, tzinfo=UTC))
    check_all(ics)
    assert len(expand(ics, *WIDE_WINDOW, crosscheck=False)) == 4
    with pytest.raises(AssertionError, match=r"only ical has \[reading-circle"):
        expand(ics, *WIDE_WINDOW)


def test_event_with_alarms() -> None:
    cal = _calendar("Asia/Shanghai", method="REQUEST")
    event = _event(
        "annual-meeting@events.example.org",
        datetime(2027, 11, 20, 9, 0, tzinfo=SHANGHAI),
        datetime(2027, 11, 20, 12, 0, tzinfo=SHANGHAI),
        "年会",
    )
    display = icalendar.Alarm()
    display.add("action", "DISPLAY")
    display.add("description", "年会提醒")
    display.add("trigger", timedelta(minutes=-30))
    event.add_component(display)
    email = icalendar.Alarm()
    email.add("action", "EMAIL")
    email.add("summary", "年会")
    email.add("description", "明天上午九点年会")
    email.add("attendee", "mailto:li.na@example.org")
    email.add("trigger", timedelta(days=-1))
    event.add_component(email)
    cal.add_component(event)
    ics = _ics(cal)

    check_all(ics)
    (strict,) = parse_with_ical(ics).events
    assert [(a.action, a.trigger) for a in strict.alarm] == [
        ("DISPLAY", timedelta(minutes=-30)),
        ("EMAIL", timedelta(days=-1)),
    ]
    (occurrence,) = expand(ics, *WIDE_WINDOW)
    assert occurrence["start_utc"] == datetime(2027, 11, 20, 1, 0, tzinfo=UTC)
    assert occurrence["recurrence_id_utc"] is None  # not part of a series
    assert not occurrence["overridden"]


def _feed() -> bytes:
    """A subscription feed as calendar apps poll it."""
    cal = _calendar("Asia/Shanghai")
    cal.add("x-wr-calname", "中国社会工作联合会")
    cal.add("x-wr-timezone", "Asia/Shanghai")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    # icalendar writes a timedelta in an X- property as "1:00:00": give the text itself
    cal.add("x-published-ttl", "PT1H")
    cal.add_component(
        _event(
            "forum-2027@events.example.org",
            datetime(2027, 6, 10, 9, 30, tzinfo=SHANGHAI),
            datetime(2027, 6, 10, 17, 0, tzinfo=SHANGHAI),
            "第二届社会工作本色与本土论坛",
            status="CONFIRMED",
            sequence=2,
        )
    )
    cal.add_component(
        _event(
            "salon@events.example.org",
            datetime(2027, 6, 3, 19, 0, tzinfo=SHANGHAI),
            datetime(2027, 6, 3, 21, 0, tzinfo=SHANGHAI),
            "青年社工沙龙",
            rrule={"FREQ": "WEEKLY", "COUNT": 3},
            status="CONFIRMED",
        )
    )
    cal.add_component(
        _event(
            "open-day@events.example.org",
            date(2027, 6, 12),
            date(2027, 6, 13),
            "开放日",
            status="CANCELLED",
            sequence=1,
        )
    )
    return _ics(cal)


def test_feed_with_calendar_name_and_refresh_interval() -> None:
    ics = _feed()
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in ics
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in ics
    assert check_all(ics)["method"] == "PUBLISH"

    strict = parse_with_ical(ics)
    assert strict.refresh_interval == timedelta(hours=1)
    assert strict.x_wr_timezone == "Asia/Shanghai"
    # ical has no field for these two: it keeps them as extra properties
    extras = {prop.name: prop.value for prop in strict.extras}
    assert extras == {"x-wr-calname": "中国社会工作联合会", "x-published-ttl": "PT1H"}
    assert str(parse_with_icalendar(ics)["X-WR-CALNAME"]) == "中国社会工作联合会"
    assert parse_with_vobject(ics).contents["x-wr-calname"][0].value == "中国社会工作联合会"

    occurrences = expand(ics, *WIDE_WINDOW)
    assert [(o["uid"].split("@")[0], o["start_local"], o["status"]) for o in occurrences] == [
        ("salon", datetime(2027, 6, 3, 19, 0, tzinfo=SHANGHAI), "CONFIRMED"),
        ("forum-2027", datetime(2027, 6, 10, 9, 30, tzinfo=SHANGHAI), "CONFIRMED"),
        ("salon", datetime(2027, 6, 10, 19, 0, tzinfo=SHANGHAI), "CONFIRMED"),
        ("open-day", date(2027, 6, 12), "CANCELLED"),  # all-day: read as a UTC day
        ("salon", datetime(2027, 6, 17, 19, 0, tzinfo=SHANGHAI), "CONFIRMED"),
    ]


def test_check_all_without_icaljs(monkeypatch: pytest.MonkeyPatch) -> None:
    # A machine with nothing but Python: the three Python parsers must still agree.
    monkeypatch.setattr(parsers, "icaljs_usable", lambda: False)
    assert check_all(_series_with_exdate_and_override()) == {"method": "PUBLISH"}
    assert len(expand(_shanghai_six_sessions(), *WIDE_WINDOW)) == 6


VALID_VEVENT = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//events-svc//interop test//EN
BEGIN:VEVENT
UID:broken@events.example.org
DTSTAMP:20270101T000000Z
DTSTART:20270301T100000Z
DTEND:20270301T110000Z
SUMMARY:Broken
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # RFC 5545 3.6.6: DESCRIPTION is required in a DISPLAY alarm
        ("SUMMARY:Broken\n", "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT30M\nEND:VALARM\n"),
        # 3.6.1: DTEND and DURATION must not both occur
        ("SUMMARY:Broken\n", "DURATION:PT1H\n"),
        # 3.8.1.11: NEEDS-ACTION is a VTODO status
        ("SUMMARY:Broken\n", "STATUS:NEEDS-ACTION\n"),
        # 3.3.10: UNTIL must have DTSTART's value type
        ("SUMMARY:Broken\n", "RRULE:FREQ=WEEKLY;UNTIL=20270401\n"),
    ],
    ids=["display-alarm-without-description", "dtend-and-duration", "status", "until-date"],
)
def test_strict_parser_refuses_what_the_others_accept(old: str, new: str) -> None:
    ics = _crlf(VALID_VEVENT.replace(old, new))
    parse_with_icalendar(ics)
    parse_with_vobject(ics)
    with pytest.raises(AssertionError, match="strict ical parser .* refused"):
        check_all(ics)
    check_all(_crlf(VALID_VEVENT))


def test_vevent_without_uid_fails() -> None:
    # ical makes up a UID where there is none, so the parsers cannot agree.
    ics = _crlf(VALID_VEVENT.replace("UID:broken@events.example.org\n", ""))
    assert parse_with_ical(ics).events[0].uid != "None"
    with pytest.raises(AssertionError, match="disagree on the UIDs"):
        check_all(ics)


def test_two_vevents_with_the_same_uid_and_no_recurrence_id_fail() -> None:
    vevent = VALID_VEVENT[VALID_VEVENT.index("BEGIN:VEVENT") : VALID_VEVENT.index("END:VCALENDAR")]
    ics = _crlf(VALID_VEVENT.replace(vevent, vevent + vevent))
    with pytest.raises(AssertionError, match="two VEVENTs with the same UID=broken@"):
        check_all(ics)


@needs_icaljs
def test_parsers_disagreeing_on_a_recurrence_id_fail() -> None:
    # A VTIMEZONE that claims Asia/Shanghai is UTC+9: the Python parsers use the IANA zone,
    # ical.js the document, so the override's (UID, RECURRENCE-ID) differs between them.
    cal = _calendar()
    lying = icalendar.Timezone()
    lying.add("tzid", "Asia/Shanghai")
    standard = icalendar.TimezoneStandard()
    standard.add("dtstart", datetime(1970, 1, 1))
    standard.add("tzoffsetfrom", timedelta(hours=9))
    standard.add("tzoffsetto", timedelta(hours=9))
    lying.add_component(standard)
    cal.add_component(lying)
    uid = "lecture@events.example.org"
    start = datetime(2027, 9, 7, 14, 0, tzinfo=SHANGHAI)
    cal.add_component(
        _event(uid, start, start + timedelta(hours=1), "Lecture", rrule={"FREQ": "DAILY"})
    )
    cal.add_component(
        _event(
            uid,
            start + timedelta(days=1, hours=1),
            start + timedelta(days=1, hours=2),
            "Lecture (moved)",
            recurrence_id=start + timedelta(days=1),
        )
    )
    with pytest.raises(AssertionError, match=r"disagree on the VEVENTs \(UID, RECURRENCE-ID"):
        check_all(_ics(cal))
