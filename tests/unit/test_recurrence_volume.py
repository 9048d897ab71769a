"""The bound on how many occurrences a recurrence rule makes: computed, cheap, never hangs."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from events_svc.calendar.timeutil import (
    TimeRuleError,
    check_volume,
    normalize_rrule,
    occurrences_per_day,
    zone,
)

TZ = zone("Asia/Shanghai")
START = datetime(2027, 3, 4, 14, 0)
HOURS = ",".join(str(h) for h in range(24))
MINUTES = ",".join(str(m) for m in range(60))


def _check(rule: str, *, per_day: int = 4, total: int = 1000) -> None:
    canonical = normalize_rrule(rule, start_local=START, tz=TZ, per_day=per_day)
    check_volume(
        canonical,
        start_local=START,
        tz=TZ,
        per_day=per_day,
        total=total,
        horizon=timedelta(days=400),
    )


@pytest.mark.parametrize(
    ("rule", "bound"),
    [
        ("FREQ=WEEKLY", 1),
        ("FREQ=DAILY;BYHOUR=9,14", 2),
        ("FREQ=DAILY;BYHOUR=9,9,9", 1),
        (f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES}", 1440),
        (f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES};BYSECOND={MINUTES}", 86400),
        (f"FREQ=DAILY;BYHOUR={HOURS};BYSETPOS=1", 1),
        (f"FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR={HOURS}", 24),
    ],
)
def test_occurrences_per_day_is_computed_from_the_parts(rule: str, bound: int) -> None:
    assert occurrences_per_day(rule) == bound


@pytest.mark.parametrize(
    "rule",
    [
        f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES}",
        f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES};BYSECOND={MINUTES}",
        f"FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYHOUR={HOURS};BYMINUTE={MINUTES}",
        "FREQ=DAILY;BYHOUR=8,10,12,14,16",
        "FREQ=DAILY;BYHOUR=8,12,16",  # 3 a day is allowed, but 1,200 in 400 days are not
        "FREQ=DAILY;BYMINUTE=0,30;BYHOUR=9,14",
    ],
)
def test_flooding_rules_are_refused_quickly(rule: str) -> None:
    began = time.perf_counter()
    with pytest.raises(TimeRuleError) as caught:
        _check(rule)
    assert caught.value.field == "recurrence"
    assert "MAX_OCCURRENCES" in caught.value.message
    assert time.perf_counter() - began < 0.1


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY",
        "FREQ=DAILY;COUNT=10",
        "FREQ=MONTHLY;BYDAY=2TU",
        "FREQ=DAILY",  # 400 in the horizon
        "FREQ=DAILY;BYHOUR=9,14",  # 800
        "FREQ=DAILY;BYHOUR=8,12,16;COUNT=300",
        "FREQ=DAILY;BYHOUR=8,10,12,14;UNTIL=20270901T000000Z",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",  # sparse: not searched beyond the horizon
    ],
)
def test_ordinary_rules_pass(rule: str) -> None:
    began = time.perf_counter()
    _check(rule)
    assert time.perf_counter() - began < 0.5


@pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY", "HOURLY"])
def test_sub_daily_frequencies_are_refused(freq: str) -> None:
    with pytest.raises(TimeRuleError) as caught:
        _check(f"FREQ={freq};INTERVAL=6")
    assert caught.value.field == "recurrence"
