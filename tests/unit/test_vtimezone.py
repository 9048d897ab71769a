"""Rule-based VTIMEZONE components, read back by an independent expander."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rrulestr

from events_svc.calendar.vtimezone import build_vtimezone, vtimezone, vtimezone_bytes

YEAR = 2026

CHECKED_ZONES = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Santiago",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Europe/Dublin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Jerusalem",
    "Africa/Casablanca",
    "Africa/Cairo",
]


def _observances(tz: icalendar.Timezone) -> dict[str, list[icalendar.Component]]:
    found: dict[str, list[icalendar.Component]] = {"STANDARD": [], "DAYLIGHT": []}
    for sub in tz.subcomponents:
        found[sub.name].append(sub)
    return found


def _only(tz: icalendar.Timezone, kind: str) -> icalendar.Component:
    subs = _observances(tz)[kind]
    assert len(subs) == 1
    return subs[0]


def _lines(component: icalendar.Component) -> set[str]:
    return set(component.to_ical().decode().replace("\r\n ", "").splitlines())


def test_new_york_rules() -> None:
    tz = build_vtimezone("America/New_York", year=YEAR)
    assert len(tz.subcomponents) == 2
    assert {
        "TZID:America/New_York",
        "X-LIC-LOCATION:America/New_York",
    } <= _lines(tz)
    assert {
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0400",
        "TZNAME:EDT",
        "DTSTART:19700308T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    } <= _lines(_only(tz, "DAYLIGHT"))
    assert {
        "TZOFFSETFROM:-0400",
        "TZOFFSETTO:-0500",
        "TZNAME:EST",
        "DTSTART:19701101T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
    } <= _lines(_only(tz, "STANDARD"))


def test_berlin_rules() -> None:
    tz = build_vtimezone("Europe/Berlin", year=YEAR)
    assert {
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "TZNAME:CEST",
        "DTSTART:19700329T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    } <= _lines(_only(tz, "DAYLIGHT"))
    assert {
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "TZNAME:CET",
        "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    } <= _lines(_only(tz, "STANDARD"))


def test_sydney_rules_southern_hemisphere() -> None:
    tz = build_vtimezone("Australia/Sydney", year=YEAR)
    assert {
        "TZOFFSETFROM:+1000",
        "TZOFFSETTO:+1100",
        "TZNAME:AEDT",
        "DTSTART:19701004T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU",
    } <= _lines(_only(tz, "DAYLIGHT"))
    assert {
        "TZOFFSETFROM:+1100",
        "TZOFFSETTO:+1000",
        "TZNAME:AEST",
        "DTSTART:19700405T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU",
    } <= _lines(_only(tz, "STANDARD"))


def test_dublin_summer_is_daylight() -> None:
    # tzdata calls Irish winter time "negative DST"; Google and Outlook call summer DAYLIGHT
    tz = build_vtimezone("Europe/Dublin", year=YEAR)
    assert "TZNAME:IST" in _lines(_only(tz, "DAYLIGHT"))
    assert "TZNAME:GMT" in _lines(_only(tz, "STANDARD"))


@pytest.mark.parametrize(
    ("tzid", "offset", "tzname"),
    [
        ("Asia/Shanghai", "+0800", "CST"),
        ("Asia/Tokyo", "+0900", "JST"),
        ("Asia/Kolkata", "+0530", "IST"),
        ("UTC", "+0000", "UTC"),
        ("Etc/GMT-8", "+0800", None),
    ],
)
def test_zone_without_dst(tzid: str, offset: str, tzname: str | None) -> None:
    tz = build_vtimezone(tzid, year=YEAR)
    assert not _observances(tz)["DAYLIGHT"]
    lines = _lines(_only(tz, "STANDARD"))
    assert {f"TZOFFSETFROM:{offset}", f"TZOFFSETTO:{offset}", "DTSTART:19700101T000000"} <= lines
    assert not any(line.startswith(("RRULE", "RDATE")) for line in lines)
    names = {line for line in lines if line.startswith("TZNAME")}
    assert names == ({f"TZNAME:{tzname}"} if tzname else set())


def test_irregular_zone_lists_dates() -> None:
    tz = build_vtimezone("Africa/Casablanca", year=YEAR)
    text = tz.to_ical().decode()
    assert "RRULE" not in text
    assert "RDATE" in text


def test_unknown_zone_is_value_error() -> None:
    with pytest.raises(ValueError):
        vtimezone("Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        vtimezone("../etc/passwd")


def test_cached_and_serialized() -> None:
    first = vtimezone("Europe/Berlin")
    assert vtimezone("Europe/Berlin") is first
    assert vtimezone_bytes("Europe/Berlin") is vtimezone_bytes("Europe/Berlin")
    assert vtimezone_bytes("Europe/Berlin") == first.to_ical()
    current = build_vtimezone("Europe/Berlin", year=datetime.now(UTC).year)
    assert first.to_ical() == current.to_ical()


def test_first_call_is_cheap() -> None:
    zones = [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "America/Sao_Paulo",
        "America/Santiago",
        "America/Mexico_City",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Paris",
        "Europe/Moscow",
        "Africa/Casablanca",
        "Africa/Cairo",
        "Asia/Shanghai",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Asia/Jerusalem",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "Pacific/Auckland",
    ]
    vtimezone("UTC")  # loads the zone-name list once per process
    started = time.perf_counter()
    for tzid in zones:
        vtimezone.__wrapped__(tzid)
    average = (time.perf_counter() - started) / len(zones)
    # the target is well under 5 ms; the bound is loose so a busy machine does not fail it
    assert average < 0.020


# --- an independent reader: expand the emitted observances with dateutil ----------------------


def _onsets(sub: icalendar.Component, until: datetime) -> list[datetime]:
    """Local onsets (wall clock before the change) of one STANDARD/DAYLIGHT observance."""
    start: datetime = sub["DTSTART"].dt
    onsets = [start]
    if "RRULE" in sub:
        rule = sub["RRULE"].to_ical().decode()
        onsets = list(rrulestr(rule, dtstart=start).between(start, until, inc=True))
    rdates = sub.get("RDATE", [])
    for rdate in rdates if isinstance(rdates, list) else [rdates]:
        onsets.extend(period.dt for period in rdate.dts)
    return onsets


def _reader(ical: bytes, tzid: str) -> list[tuple[datetime, timedelta]]:
    """Onsets of the VTIMEZONE `tzid` in `ical`, sorted, each with the offset it brings."""
    cal = icalendar.Calendar.from_ical(ical)
    (tz,) = [c for c in cal.walk("VTIMEZONE") if str(c["TZID"]) == tzid]
    table: list[tuple[datetime, timedelta]] = []
    for sub in tz.subcomponents:
        offset_to: timedelta = sub["TZOFFSETTO"].td
        table.extend((onset, offset_to) for onset in _onsets(sub, datetime(2031, 1, 1)))
    return sorted(table)


def _offset_read(table: list[tuple[datetime, timedelta]], local: datetime) -> timedelta:
    in_force = [offset for onset, offset in table if onset <= local]
    assert in_force, f"{local} precedes every observance"
    return in_force[-1]


def _sample_times(tzid: str) -> list[datetime]:
    """Local times to check: twice a month, and around each of zoneinfo's transitions."""
    tz = ZoneInfo(tzid)
    times = [
        datetime(y, m, d, 12) for y in range(2026, 2031) for m in range(1, 13) for d in (1, 15)
    ]
    instant = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=1)
    end = datetime(2031, 1, 1, tzinfo=UTC)
    step = timedelta(hours=1)
    previous = instant.astimezone(tz).utcoffset()
    while instant < end:
        instant += step
        offset = instant.astimezone(tz).utcoffset()
        if offset == previous:
            continue
        previous = offset
        before = (instant - 2 * step).astimezone(tz).replace(tzinfo=None)
        after = (instant + step).astimezone(tz).replace(tzinfo=None)
        times += [before, after, before - timedelta(days=1), after + timedelta(days=1)]
    return [t for t in times if 2026 <= t.year <= 2030]


@pytest.mark.parametrize("tzid", CHECKED_ZONES)
def test_independent_reader_agrees_with_zoneinfo(tzid: str) -> None:
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//events-svc//test//EN")
    cal.add("VERSION", "2.0")
    cal.add_component(build_vtimezone(tzid, year=YEAR))
    samples = _sample_times(tzid)
    for n, local in enumerate(samples):
        event = icalendar.Event()
        event.add("UID", f"{n}@test")
        event.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
        event.add("DTSTART", local, parameters={"TZID": tzid})
        cal.add_component(event)
    ical = cal.to_ical()
    assert f"DTSTART;TZID={tzid}:".encode() in ical

    table = _reader(ical, tzid)
    events = icalendar.Calendar.from_ical(ical).walk("VEVENT")
    assert len(events) == len(samples) >= 120
    zone = ZoneInfo(tzid)
    for event in events:
        prop = event["DTSTART"]
        assert prop.params["TZID"] == tzid
        # the wall-clock digits as written, whatever zone the parser attached
        local = datetime.strptime(prop.to_ical().decode(), "%Y%m%dT%H%M%S")
        read_utc = (local - _offset_read(table, local)).replace(tzinfo=UTC)
        expected_utc = local.replace(tzinfo=zone).astimezone(UTC)
        assert read_utc == expected_utc, f"{tzid} {local}"
