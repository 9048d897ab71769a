"""Rule-based VTIMEZONE components, shaped like the ones Google Calendar and Outlook emit.

A zone's current rules are read from zoneinfo by scanning for its transitions and turned into
one yearly RRULE per observance (DTSTART in 1970, as Google does). `Timezone.from_tzinfo` is
avoided on purpose: it is slow (~28 ms a zone) and emits date lists that Outlook misreads.

Every emitted component is checked against zoneinfo for the local years (reference year - 1)
through (reference year + 10); a zone whose transitions no yearly rule reproduces there gets
explicit RDATE lists for those years instead.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from events_svc.calendar.timeutil import zone

#: local years before / after the reference year in which the output must match zoneinfo
YEARS_BEFORE = 1
YEARS_AFTER = 10
#: scan step; zoneinfo has no pair of transitions this close together in the scanned years
_SCAN_STEP = 7 * 86400
#: the onset of rule-based observances, as Google emits them
_EPOCH_YEAR = 1970
_EPOCH = datetime(_EPOCH_YEAR, 1, 1, tzinfo=UTC).replace(tzinfo=None)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

_Observance = TimezoneStandard | TimezoneDaylight


class _Recur(vRecur):
    """An RRULE value serialized in Google's part order (FREQ, BYMONTH, BYDAY)."""

    canonical_order = (
        "RSCALE",
        "FREQ",
        "UNTIL",
        "COUNT",
        "INTERVAL",
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYMONTH",
        "BYDAY",
        "BYWEEKDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYSETPOS",
        "WKST",
        "SKIP",
    )


@dataclass(frozen=True, slots=True)
class _Transition:
    utc: int  # first POSIX second of the new offset
    before: timedelta
    after: timedelta
    name: str | None  # abbreviation in force after the change

    @property
    def local(self) -> datetime:
        """Wall-clock time of the change, read in the offset before it (RFC 5545 DTSTART)."""
        return _naive(self.utc + int(self.before.total_seconds()))


@dataclass(frozen=True, slots=True)
class _YearlyRule:
    month: int
    time: time
    weekday: int | None  # with `nth`: the nth (or last, -1) weekday of the month
    nth: int
    monthday: int | None  # else: a fixed day of the month

    def local_in(self, year: int) -> datetime | None:
        """The rule's wall-clock onset in `year`; None if the month lacks that day."""
        last_day = calendar.monthrange(year, self.month)[1]
        if self.weekday is None:
            assert self.monthday is not None
            if self.monthday > last_day:
                return None
            day = self.monthday
        elif self.nth > 0:
            first_weekday = date(year, self.month, 1).weekday()
            day = 1 + (self.weekday - first_weekday) % 7 + 7 * (self.nth - 1)
        else:
            last_weekday = date(year, self.month, last_day).weekday()
            day = last_day - (last_weekday - self.weekday) % 7
        return datetime.combine(date(year, self.month, day), self.time)

    def recur(self) -> _Recur:
        if self.weekday is None:
            return _Recur(FREQ="YEARLY", BYMONTH=self.month, BYMONTHDAY=self.monthday)
        return _Recur(
            FREQ="YEARLY", BYMONTH=self.month, BYDAY=f"{self.nth}{_WEEKDAYS[self.weekday]}"
        )


def _naive(posix: int) -> datetime:
    return datetime.fromtimestamp(posix, UTC).replace(tzinfo=None)


def _offset(tz: ZoneInfo, posix: int) -> timedelta:
    offset = datetime.fromtimestamp(posix, tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has an offset
    return offset


def _transitions(tz: ZoneInfo, start: int, end: int) -> list[_Transition]:
    """Every offset change between two POSIX times: scan in steps, bisect to the second."""
    found: list[_Transition] = []
    lo, lo_offset = start, _offset(tz, start)
    while lo < end:
        hi = min(lo + _SCAN_STEP, end)
        if _offset(tz, hi) == lo_offset:
            lo = hi
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(tz, mid) == lo_offset:
                lo = mid
            else:
                hi = mid
        after = datetime.fromtimestamp(hi, tz)
        found.append(_Transition(hi, lo_offset, _offset(tz, hi), after.tzname()))
        # go on from the change, not the step's end, so a second change in that step is seen
        lo, lo_offset = hi, found[-1].after
    return found


def _rule_candidates(ref: _Transition, following: _Transition) -> list[_YearlyRule]:
    """Rules matching the reference-year change, the prettiest first."""
    local = ref.local
    last_day = calendar.monthrange(local.year, local.month)[1]
    # Outlook and Google write "last <weekday>" for any day in the month's final week.
    nth = -1 if local.day > last_day - 7 else (local.day - 1) // 7 + 1
    rules = [_YearlyRule(local.month, local.time(), local.weekday(), nth, None)]
    later = following.local
    if (later.month, later.day) == (local.month, local.day):
        rules.append(_YearlyRule(local.month, local.time(), None, 0, local.day))
    return rules


def _matches(rule: _YearlyRule, actual: Sequence[_Transition], years: range) -> bool:
    """Whether `rule` predicts exactly the wall-clock onsets of `actual` in `years`."""
    predicted = [rule.local_in(year) for year in years]
    return predicted == [t.local for t in actual]


def _tzname(name: str | None) -> str | None:
    # numeric abbreviations such as "+08" add nothing to TZOFFSETTO; Google leaves them out too
    if not name or name[0] in "+-" or name[0].isdigit():
        return None
    return name


def _observance(
    daylight: bool,
    offset_from: timedelta,
    offset_to: timedelta,
    name: str | None,
    start: datetime,
    *,
    rule: _YearlyRule | None = None,
    rdates: Iterable[datetime] = (),
) -> _Observance:
    component: _Observance = TimezoneDaylight() if daylight else TimezoneStandard()
    component.add("TZOFFSETFROM", offset_from)
    component.add("TZOFFSETTO", offset_to)
    tzname = _tzname(name)
    if tzname is not None:
        component.add("TZNAME", tzname)
    component.add("DTSTART", start)
    if rule is not None:
        component.add("RRULE", rule.recur())
    dates = list(rdates)
    if dates:
        component.add("RDATE", dates)
    return component


def _rule_based(
    changes: Sequence[_Transition], years: range, ref_year: int
) -> list[_Observance] | None:
    """One yearly-rule observance per direction of change, or None if rules cannot do it."""
    groups: dict[tuple[timedelta, timedelta, str | None], list[_Transition]] = {}
    for change in changes:
        groups.setdefault((change.before, change.after, change.name), []).append(change)
    if len(groups) != 2:
        return None
    (a_from, a_to, _), (b_from, b_to, _) = groups
    if (a_from, a_to) != (b_to, b_from):
        return None
    low = min(a_from, a_to)
    components: list[_Observance] = []
    for (offset_from, offset_to, name), group in groups.items():
        in_ref = [t for t in group if t.local.year in (ref_year, ref_year + 1)]
        if [t.local.year for t in in_ref] != [ref_year, ref_year + 1]:
            return None
        rule = next(
            (r for r in _rule_candidates(*in_ref) if _matches(r, group, years)),
            None,
        )
        if rule is None:
            return None
        start = rule.local_in(_EPOCH_YEAR)
        assert start is not None  # a fixed month/day seen in two consecutive years exists
        components.append(
            _observance(offset_to > low, offset_from, offset_to, name, start, rule=rule)
        )
    # Google lists DAYLIGHT first
    components.sort(key=lambda c: isinstance(c, TimezoneStandard))
    return components


def _listed(
    changes: Sequence[_Transition], initial: timedelta, initial_name: str | None
) -> list[_Observance]:
    """Observances with every onset listed (DTSTART plus RDATEs): for irregular zones."""
    groups: dict[tuple[timedelta, timedelta, str | None], list[datetime]] = {}
    for change in changes:
        groups.setdefault((change.before, change.after, change.name), []).append(change.local)
    low = min([initial, *(key[1] for key in groups)])
    # The offset in force when the window opens holds from 1970 on, as in the rule-based
    # output; it joins the observance that returns to it, or stands alone if none does.
    home = next(
        (key for key in groups if key[1] == initial and key[2] == initial_name),
        None,
    )
    components: list[_Observance] = []
    if home is None:
        components.append(_observance(initial > low, initial, initial, initial_name, _EPOCH))
    else:
        groups[home].insert(0, _EPOCH)
    for (offset_from, offset_to, name), onsets in groups.items():
        components.append(
            _observance(offset_to > low, offset_from, offset_to, name, onsets[0], rdates=onsets[1:])
        )
    components.sort(key=lambda c: isinstance(c, TimezoneStandard))
    return components


def build_vtimezone(tzid: str, *, year: int) -> Timezone:
    """An uncached VTIMEZONE for `tzid` with rules read from `year` and `year` + 1.

    Raises ValueError (TimeRuleError) for a name that is not an IANA zone.
    """
    tz = zone(tzid)
    years = range(year - YEARS_BEFORE, year + YEARS_AFTER + 1)
    # a day's margin each side: local years start up to 14 h away from UTC's
    start = int(datetime(years.start, 1, 1, tzinfo=UTC).timestamp()) - 86400
    end = int(datetime(years.stop, 1, 1, tzinfo=UTC).timestamp()) + 86400
    changes = [t for t in _transitions(tz, start, end) if t.local.year in years]

    component = Timezone()
    component.add("TZID", tzid)
    component.add("X-LIC-LOCATION", tzid)
    if not changes:
        # read inside the window: the margins may hold a change of an earlier local year
        inside = start + 2 * 86400
        offset = _offset(tz, inside)
        name = datetime.fromtimestamp(inside, tz).tzname()
        component.add_component(_observance(False, offset, offset, name, _EPOCH))
        return component
    observances = _rule_based(changes, years, year)
    if observances is None:
        first = changes[0]
        initial_name = datetime.fromtimestamp(first.utc - 1, tz).tzname()
        observances = _listed(changes, first.before, initial_name)
    for observance in observances:
        component.add_component(observance)
    return component


@lru_cache(maxsize=1024)
def vtimezone(tzid: str) -> Timezone:
    """The shared VTIMEZONE for `tzid` (current year's rules); callers must not modify it."""
    return build_vtimezone(tzid, year=datetime.now(UTC).year)


@lru_cache(maxsize=1024)
def vtimezone_bytes(tzid: str) -> bytes:
    """`vtimezone(tzid)` serialized."""
    return vtimezone(tzid).to_ical()
