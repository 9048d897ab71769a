"""Pure time rules: zones, local wall-clock times, RRULEs and ISO 8601 durations."""

from __future__ import annotations

import datetime as _datetime_module
import re
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import dateutil.rrule as _dateutil_rrule
from dateutil.rrule import rrulestr

#: how many occurrences we expand to find a series' end; beyond it, the series counts as open
MAX_EXPANDED_OCCURRENCES = 5000
ALLOWED_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


class TimeRuleError(ValueError):
    """A time value breaks a rule; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; only names from the tz database (no paths, no 'localtime')."""
    if name not in _zone_names() or name in ("localtime", "Factory"):
        raise TimeRuleError("timezone", f"unknown time zone {name!r}; use an IANA name")
    return ZoneInfo(name)


#: the years the service accepts; far dates overflow conversions and mean nothing here
MIN_YEAR, MAX_YEAR = 1900, 2199
#: an RRULE must produce its first occurrence within this many years of the start
FIRST_OCCURRENCE_WITHIN_YEARS = 10
#: the numeric RRULE parts and their allowed ranges (RFC 5545 3.3.10, and sane bounds)
_RRULE_NUMBERS = {
    "INTERVAL": (1, 1000),
    "BYSECOND": (0, 60),
    "BYMINUTE": (0, 59),
    "BYHOUR": (0, 23),
    "BYMONTHDAY": (-31, 31),
    "BYYEARDAY": (-366, 366),
    "BYWEEKNO": (-53, 53),
    "BYMONTH": (1, 12),
    "BYSETPOS": (-366, 366),
}


class _DatetimeBoundedYears(types.ModuleType):
    """The datetime module as dateutil.rrule sees it, with MAXYEAR lowered.

    dateutil searches an RRULE that never matches (30 February, BYSETPOS beyond the set)
    period by period up to datetime.MAXYEAR, the year 9999: seconds of CPU on the event
    loop. The service accepts no date after MAX_YEAR, so its rules may stop soon after.
    """

    MAXYEAR = MAX_YEAR + FIRST_OCCURRENCE_WITHIN_YEARS + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(_datetime_module, name)


_dateutil_rrule.datetime = _DatetimeBoundedYears("datetime")  # type: ignore[attr-defined]


def check_year(value: datetime, *, field: str) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise TimeRuleError(field, f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def to_local(value: datetime, tz: ZoneInfo, *, field: str = "time") -> datetime:
    """A naive local wall-clock time; an aware value is converted into `tz` first."""
    check_year(value, field=field)
    if value.tzinfo is not None:
        value = value.astimezone(tz).replace(tzinfo=None)
    return value.replace(microsecond=0)


def local_to_utc(local: datetime, tz: ZoneInfo, *, field: str) -> datetime:
    """The UTC instant of a naive wall-clock time; refuses times that a DST gap skips."""
    check_year(local, field=field)
    aware = local.replace(tzinfo=tz)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local:
        raise TimeRuleError(field, f"{local.isoformat()} does not exist in {tz.key} (DST gap)")
    return utc


def local_iso(local: datetime) -> str:
    return local.strftime("%Y-%m-%dT%H:%M:%S")


def wall_clock(value: datetime, tz: ZoneInfo) -> str:
    """A time to the minute as people in `tz` read it, with the zone: `2027-06-10 09:30
    (Asia/Shanghai)`; an aware instant is converted into `tz` first."""
    return f"{to_local(value, tz):%Y-%m-%d %H:%M} ({tz.key})"


_UNTIL_RE = re.compile(r"UNTIL=([0-9T]+Z?)", re.IGNORECASE)


def normalize_rrule(
    rule: str, *, start_local: datetime, tz: ZoneInfo, per_day: int | None = None
) -> str:
    """Validate an RRULE value and return it canonical (upper case, UNTIL in UTC); with
    `per_day`, refuse a rule that can make more occurrences than that on one day.

    RFC 5545 wants UNTIL in UTC when DTSTART carries a TZID; a local UNTIL (or a date) is
    read as wall-clock time in the event's zone, the end of that day for a date.
    """
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or any(ch in text for ch in "\r\n") or "DTSTART" in text.upper():
        raise TimeRuleError("recurrence", "give a single RRULE value such as FREQ=WEEKLY;COUNT=6")
    parts: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise TimeRuleError("recurrence", f"malformed RRULE part {item!r}")
        key = key.strip().upper()
        if key in parts:
            raise TimeRuleError("recurrence", f"RRULE part {key} given twice")
        parts[key] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq not in ALLOWED_FREQS:
        raise TimeRuleError("recurrence", f"FREQ must be one of {', '.join(ALLOWED_FREQS)}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise TimeRuleError("recurrence", "COUNT and UNTIL cannot both be given")
    if "COUNT" in parts:
        if not parts["COUNT"].isdigit() or not 1 <= int(parts["COUNT"]) <= 1000:
            raise TimeRuleError("recurrence", "COUNT must be a whole number from 1 to 1000")
    for name, (low, high) in _RRULE_NUMBERS.items():
        for item in parts.get(name, "").split(",") if name in parts else ():
            digits = item[1:] if item[:1] in "+-" else item
            if not digits.isdigit() or len(digits) > 4 or not low <= int(item) <= high:
                raise TimeRuleError("recurrence", f"{name} values must be from {low} to {high}")
    if per_day is not None:
        # before dateutil sees the rule: it builds every BYHOUR x BYMINUTE x BYSECOND time
        # of a day up front (86,400 of them for a rule naming every second)
        daily = _per_day_bound(parts)
        if daily > per_day:
            raise TimeRuleError(
                "recurrence",
                f"the rule makes up to {daily} occurrences a day; at most {per_day} are"
                " allowed (MAX_OCCURRENCES_PER_DAY)",
            )
    if "UNTIL" in parts:
        parts["UNTIL"] = _until_utc(parts["UNTIL"], tz)
    canonical = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        dtstart = start_local.replace(tzinfo=tz)
        rrulestr(canonical, dtstart=dtstart)  # the rule as given must parse
        # The first occurrence is searched with an UNTIL bound: an impossible rule (30
        # February) would otherwise be searched up to the year 9999, blocking for seconds.
        horizon = (dtstart + timedelta(days=366 * FIRST_OCCURRENCE_WITHIN_YEARS)).astimezone(UTC)
        bounded = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL"))
        until = f"{horizon:%Y%m%dT%H%M%SZ}"
        bounded += f";UNTIL={min(until, parts.get('UNTIL', until))}"  # same format: text order
        first = next(iter(rrulestr(bounded, dtstart=dtstart)), None)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise TimeRuleError("recurrence", "not a valid RRULE (RFC 5545 section 3.3.10)") from exc
    if not first:
        raise TimeRuleError(
            "recurrence",
            f"the RRULE yields no occurrence within {FIRST_OCCURRENCE_WITHIN_YEARS} years",
        )
    return canonical


def occurrences_per_day(rule: str) -> int:
    """An upper bound of the occurrences a canonical RRULE makes on one day."""
    return _per_day_bound(dict(p.split("=", 1) for p in rule.split(";")))


def _per_day_bound(parts: dict[str, str]) -> int:
    """From an RRULE's parts alone (FREQ=DAILY and slower): each BYHOUR x BYMINUTE x BYSECOND
    value is a start time (unset parts take DTSTART's single value), and dates never repeat
    within one day. A daily BYSETPOS keeps at most that many of a day's set."""
    bound = 1
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if name in parts:
            bound *= len({int(v) for v in parts[name].split(",")})
    if parts.get("FREQ") == "DAILY" and "BYSETPOS" in parts:
        bound = min(bound, len({int(v) for v in parts["BYSETPOS"].split(",")}))
    return bound


def check_volume(
    rule: str,
    *,
    start_local: datetime,
    tz: ZoneInfo,
    per_day: int,
    total: int,
    horizon: timedelta,
) -> None:
    """Refuse a canonical RRULE that makes more than `per_day` occurrences on a day or more
    than `total` within `horizon` of its start. The first bound is computed, not expanded
    (normalize_rrule checks it before expanding anything, given `per_day`); the second
    expands at most `total` + 1 occurrences, and only up to the horizon (as an UNTIL bound,
    so a sparse rule is not searched beyond it)."""
    daily = occurrences_per_day(rule)
    if daily > per_day:
        raise TimeRuleError(
            "recurrence",
            f"the rule makes up to {daily} occurrences a day; at most {per_day} are allowed"
            " (MAX_OCCURRENCES_PER_DAY)",
        )
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    dtstart = start_local.replace(tzinfo=tz)
    end = f"{(dtstart + horizon).astimezone(UTC):%Y%m%dT%H%M%SZ}"
    bounded = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL"))
    bounded += f";UNTIL={min(end, parts.get('UNTIL', end))}"  # same format: text order
    limit = min(total + 1, int(parts.get("COUNT", total + 1)))
    made = sum(1 for _ in islice(rrulestr(bounded, dtstart=dtstart), limit))
    if made > total:
        raise TimeRuleError(
            "recurrence",
            f"the rule makes more than {total} occurrences within {horizon.days} days"
            " (MAX_OCCURRENCES); give it a COUNT or UNTIL, or fewer occurrences",
        )


def _until_utc(value: str, tz: ZoneInfo) -> str:
    try:
        if value.endswith("Z"):
            parsed = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        elif "T" in value:
            parsed = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
        else:
            parsed = datetime.strptime(value, "%Y%m%d").replace(
                hour=23, minute=59, second=59, tzinfo=tz
            )
    except ValueError as exc:
        raise TimeRuleError("recurrence", f"UNTIL {value!r} is not a date or date-time") from exc
    check_year(parsed, field="recurrence")
    return parsed.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iter_occurrences(rule: str, *, start_local: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    """Local start times of a series' occurrences, lazily (an endless series never ends)."""
    for occ in rrulestr(rule, dtstart=start_local.replace(tzinfo=tz)):
        yield occ.replace(tzinfo=None)


def occurrences(
    rule: str, *, start_local: datetime, tz: ZoneInfo, limit: int = MAX_EXPANDED_OCCURRENCES
) -> list[datetime]:
    """Local start times of a series' occurrences (at most `limit`)."""
    return list(islice(iter_occurrences(rule, start_local=start_local, tz=tz), limit))


def series_end_utc(
    rule: str | None, *, start_local: datetime, end_local: datetime, tz: ZoneInfo
) -> datetime | None:
    """End of the last occurrence in UTC; None for an endless series."""
    if rule is None:
        return local_to_utc(end_local, tz, field="ends_at")
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    if "COUNT" not in parts and "UNTIL" not in parts:
        return None
    occs = occurrences(rule, start_local=start_local, tz=tz, limit=MAX_EXPANDED_OCCURRENCES + 1)
    if len(occs) > MAX_EXPANDED_OCCURRENCES:
        return None
    last_start = occs[-1]
    # Durations are exact (UTC) durations, as RFC 5545 defines for DTEND - DTSTART.
    duration = local_to_utc(end_local, tz, field="ends_at") - local_to_utc(
        start_local, tz, field="starts_at"
    )
    return last_start.replace(tzinfo=tz).astimezone(UTC) + duration


_DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d{1,4})W)?(?:(?P<days>\d{1,4})D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d{1,6})H)?(?:(?P<minutes>\d{1,8})M)?(?:(?P<seconds>\d{1,9})S)?)?\Z"
)


def parse_duration(value: str, *, field: str) -> timedelta:
    """An ISO 8601 duration such as P1D, PT1H or PT90S (weeks, days, hours, minutes, seconds)."""
    match = _DURATION_RE.match(value.strip().upper())
    if not match or value.strip().upper().endswith("T"):
        raise TimeRuleError(field, f"{value!r} is not an ISO 8601 duration such as P1D or PT1H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    delta = timedelta(
        weeks=parts.get("weeks", 0),
        days=parts.get("days", 0),
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )
    if delta <= timedelta(0):
        raise TimeRuleError(field, "must be longer than zero")
    if delta > timedelta(days=366):
        raise TimeRuleError(field, "must be at most a year")
    return delta


def parse_instant(value: str, *, field: str) -> datetime:
    """An ISO 8601 date or date-time; UTC when it carries no offset."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise TimeRuleError(field, f"{value!r} is not an ISO 8601 date or date-time") from exc
    check_year(parsed, field=field)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
