"""Tests of the interop harness (tests/interop) on hand-written iCalendar documents."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.interop import parsers
from tests.interop.parsers import (
    check_all,
    parse_with_icalendar,
    parse_with_icaljs,
    parse_with_vobject,
)

needs_icaljs = pytest.mark.skipif(
    not parsers.icaljs_usable(),
    reason=f"ical.js cannot run here ({parsers.icaljs_missing()}); CI requires it",
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

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
