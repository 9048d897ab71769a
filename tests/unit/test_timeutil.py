from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events_svc.calendar.timeutil import (
    TimeRuleError,
    local_to_utc,
    normalize_rrule,
    occurrences,
    parse_duration,
    series_end_utc,
    zone,
)

SH = zone("Asia/Shanghai")
NY = zone("America/New_York")


@pytest.mark.parametrize("name", ["Mars/Base", "../../etc/passwd", "localtime", "", "UTC "])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(TimeRuleError) as info:
        zone(name)
    assert info.value.field == "timezone"


def test_local_to_utc_and_dst_gap() -> None:
    assert local_to_utc(datetime(2027, 6, 10, 9, 30), SH, field="x") == datetime(
        2027, 6, 10, 1, 30, tzinfo=UTC
    )
    with pytest.raises(TimeRuleError, match="DST gap"):
        local_to_utc(datetime(2027, 3, 14, 2, 30), NY, field="starts_at")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FREQ=WEEKLY;COUNT=6", "FREQ=WEEKLY;COUNT=6"),
        ("rrule:freq=weekly;byday=tu,th;count=4", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4"),
        ("FREQ=DAILY;UNTIL=20270615", "FREQ=DAILY;UNTIL=20270615T155959Z"),
        ("FREQ=DAILY;UNTIL=20270615T090000", "FREQ=DAILY;UNTIL=20270615T010000Z"),
        ("FREQ=MONTHLY;UNTIL=20271231T000000Z", "FREQ=MONTHLY;UNTIL=20271231T000000Z"),
    ],
)
def test_rrules_are_normalized(rule: str, expected: str) -> None:
    assert normalize_rrule(rule, start_local=datetime(2027, 6, 10, 9, 30), tz=SH) == expected


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=FOO",
        "COUNT=3",
        "FREQ=SECONDLY",
        "FREQ=WEEKLY;COUNT=0",
        "FREQ=WEEKLY;COUNT=5000",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20270101",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;;COUNT=2",
        "FREQ=WEEKLY\r\nATTENDEE:x",
        "DTSTART:20270101T000000\nRRULE:FREQ=DAILY",
        "FREQ=DAILY;UNTIL=20200101",
        "FREQ=DAILY;UNTIL=notadate",
        "FREQ=WEEKLY;FREQ=DAILY",
    ],
)
def test_invalid_rrules_are_refused(rule: str) -> None:
    with pytest.raises(TimeRuleError) as info:
        normalize_rrule(rule, start_local=datetime(2027, 6, 10, 9, 30), tz=SH)
    assert info.value.field == "recurrence"


def test_weekly_series_keeps_wall_clock_across_dst() -> None:
    occs = occurrences("FREQ=WEEKLY;COUNT=3", start_local=datetime(2027, 3, 7, 10, 0), tz=NY)
    assert occs == [datetime(2027, 3, d, 10, 0) for d in (7, 14, 21)]


def test_series_end() -> None:
    start, end = datetime(2027, 6, 10, 9, 30), datetime(2027, 6, 10, 11, 30)
    assert series_end_utc(
        "FREQ=WEEKLY;COUNT=6", start_local=start, end_local=end, tz=SH
    ) == datetime(2027, 7, 15, 3, 30, tzinfo=UTC)
    assert series_end_utc("FREQ=WEEKLY", start_local=start, end_local=end, tz=SH) is None
    assert series_end_utc(None, start_local=start, end_local=end, tz=SH) == datetime(
        2027, 6, 10, 3, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P1D", timedelta(days=1)),
        ("PT1H", timedelta(hours=1)),
        ("PT90S", timedelta(seconds=90)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("pt15m", timedelta(minutes=15)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text, field="before") == delta


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "PT0S", "P1Y", "-PT1H", "P400D", "PT1.5H"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(TimeRuleError):
        parse_duration(text, field="before")
