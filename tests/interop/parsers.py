"""Check iCalendar output with four independent parsers, as real calendar clients would.

- ``icalendar`` (Python), plus the RFC 5545 line checks: CRLF line ends, lines of at most
  75 octets, no folded line splitting a UTF-8 character;
- ``vobject`` (Python);
- ``ical`` (Python, allenporter/ical: the strict, pydantic-based parser of Home Assistant).
  It refuses documents that the others accept, e.g. a DISPLAY VALARM without DESCRIPTION,
  DTEND together with DURATION, or a VEVENT STATUS other than TENTATIVE/CONFIRMED/CANCELLED.
  Like icalendar it takes an IANA TZID's rules from tzdata, not from the VTIMEZONE, and it
  makes up a UID for a VEVENT without one (so ``check_all`` then fails on the UIDs);
- Mozilla's ``ical.js`` (the parser Thunderbird uses), through ``parse_ics.mjs`` on Node.js.
  It needs Node.js and ``npm ci --prefix tests/interop`` once. Where neither is set up (a
  machine with nothing but Python), ``check_all`` uses the three Python parsers and the ical.js
  tests are skipped; CI sets ``EVENTS_SVC_REQUIRE_ICALJS=1`` so that there it is an error.

``check_all`` runs them and checks that they agree on METHOD, the UIDs, and for every VEVENT,
keyed by (UID, RECURRENCE-ID in UTC), on SEQUENCE and the UTC start instant.

``expand`` lists the occurrences of the VEVENTs in a time window with ``recurring_ical_events``
(RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) and cross-checks them with the ``ical``
timeline and, where it runs, ical.js.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

import ical.calendar
import icalendar
import recurring_ical_events
import vobject
from ical.calendar_stream import IcsCalendarStream
from ical.exceptions import CalendarParseError
from ical.types.recur import RecurrenceId

INTEROP_DIR = Path(__file__).resolve().parent
PARSE_ICS_SCRIPT = INTEROP_DIR / "parse_ics.mjs"
NODE_MODULES = INTEROP_DIR / "node_modules"
ICALJS_TIMEOUT_SECONDS = 30
MAX_LINE_OCTETS = 75

#: parse_ics.mjs lists at most this many occurrences a VEVENT (its MAX_OCCURRENCES)
ICALJS_MAX_OCCURRENCES = 10

__all__ = [
    "Occurrence",
    "check_all",
    "check_line_format",
    "expand",
    "parse_with_ical",
    "parse_with_icaljs",
    "parse_with_icalendar",
    "parse_with_vobject",
]


#: CI sets this: a missing ical.js is then an error, never a skip
REQUIRE_ICALJS = os.environ.get("EVENTS_SVC_REQUIRE_ICALJS") == "1"


def icaljs_missing() -> str | None:
    """Why ical.js cannot run here (None when it can)."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not (NODE_MODULES / "ical.js" / "package.json").is_file():
        return "ical.js is not installed: run `npm ci --prefix tests/interop`"
    return None


def icaljs_usable() -> bool:
    """Whether to run ical.js: always when it is required, else when it is installed."""
    return REQUIRE_ICALJS or icaljs_missing() is None


def _node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise AssertionError("Node.js (`node`) is not on PATH: it is needed to run ical.js")
    return node


def parse_with_icaljs(ics: bytes) -> dict[str, Any]:
    """Parse ``ics`` with ical.js and return the JSON summary printed by parse_ics.mjs."""
    if not (NODE_MODULES / "ical.js" / "package.json").is_file():
        raise AssertionError(
            f"ical.js is not installed in {NODE_MODULES}: "
            "run `npm ci --prefix tests/interop` from the repository root"
        )
    # Floating times (no TZID, no Z) are read as UTC, whatever the machine's zone.
    env = {**os.environ, "TZ": "UTC"}
    try:
        proc = subprocess.run(
            [_node_executable(), str(PARSE_ICS_SCRIPT)],
            input=ics,
            capture_output=True,
            timeout=ICALJS_TIMEOUT_SECONDS,
            cwd=INTEROP_DIR,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"ical.js did not finish within {ICALJS_TIMEOUT_SECONDS}s") from exc
    stdout = proc.stdout.decode("utf-8", errors="replace")
    stderr = proc.stderr.decode("utf-8", errors="replace").strip()
    try:
        result = json.loads(stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"ical.js failed (exit code {proc.returncode}): {stderr or stdout or 'no output'}"
        ) from None
    if not isinstance(result, dict):
        raise AssertionError(f"ical.js printed unexpected JSON: {stdout[:500]}")
    if proc.returncode != 0 or "error" in result:
        detail = result.get("error") or stderr or stdout
        raise AssertionError(f"ical.js could not parse the document: {detail}")
    return result


def parse_with_vobject(ics: bytes) -> Any:
    """Parse ``ics`` with vobject; the calendar must hold at least one VEVENT."""
    try:
        calendar = vobject.readOne(ics.decode("utf-8"))
    except Exception as exc:
        raise AssertionError(f"vobject could not parse the document: {exc!r}") from exc
    assert calendar.name == "VCALENDAR", f"vobject: top-level component is {calendar.name}"
    assert calendar.contents.get("vevent"), "vobject: the calendar has no VEVENT"
    return calendar


def check_line_format(ics: bytes) -> None:
    """RFC 5545 3.1: CRLF line ends, at most 75 octets a line, folding on character bounds."""
    assert ics, "empty iCalendar document"
    assert ics.endswith(b"\r\n"), "the document does not end with CRLF"
    lines = ics[:-2].split(b"\r\n")
    for number, line in enumerate(lines, start=1):
        assert b"\n" not in line and b"\r" not in line, (
            f"line {number} is not CRLF-terminated (bare LF or CR): {line[:80]!r}"
        )
        assert len(line) <= MAX_LINE_OCTETS, (
            f"line {number} is {len(line)} octets long (max {MAX_LINE_OCTETS}): {line[:80]!r}"
        )
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AssertionError(
                f"line {number} is not valid UTF-8 on its own "
                f"(folding split a multi-byte character?): {line!r}"
            ) from exc


def parse_with_icalendar(ics: bytes) -> icalendar.Calendar:
    """Check the line format of ``ics``, then parse it with the icalendar package."""
    check_line_format(ics)
    try:
        calendar = icalendar.Calendar.from_ical(ics)
    except Exception as exc:
        raise AssertionError(f"icalendar could not parse the document: {exc!r}") from exc
    assert isinstance(calendar, icalendar.Calendar), f"icalendar: got {type(calendar)!r}"
    return calendar


_ICAL_REFUSED = "the strict ical parser (Home Assistant's) refused the document"


def parse_with_ical(ics: bytes) -> ical.calendar.Calendar:
    """Parse ``ics`` with the strict ``ical`` package; the calendar must hold a VEVENT."""
    try:
        text = ics.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AssertionError(f"ical: the document is not valid UTF-8: {exc}") from exc
    try:
        calendar = IcsCalendarStream.calendar_from_ics(text)
    except CalendarParseError as exc:
        detail = exc.message
        if exc.detailed_error:
            detail += f"\n{exc.detailed_error[:2000]}"
        raise AssertionError(f"{_ICAL_REFUSED}: {detail}") from exc
    except Exception as exc:
        # An unclosed component, for one, raises a bare ValueError instead.
        raise AssertionError(f"{_ICAL_REFUSED}: {exc!r}") from exc
    # An empty document parses as an empty calendar instead of failing.
    assert calendar.events, "ical: the calendar has no VEVENT"
    return calendar


def _utc_instant(value: date | datetime, floating: tzinfo = UTC) -> datetime:
    """A date or date-time as a UTC instant: floating times in ``floating``, dates in UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            return value.replace(tzinfo=floating).astimezone(UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _icaljs_instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _sequence(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_EventKey = tuple[str, datetime | None]  # UID, RECURRENCE-ID in UTC (None: not an override)
_EventValue = tuple[int | None, datetime | None]  # SEQUENCE, DTSTART in UTC
_Events = dict[_EventKey, _EventValue]
_NO_RECURRENCE_ID = datetime.min.replace(tzinfo=UTC)


def _key_text(key: _EventKey) -> str:
    uid, recurrence_id = key
    if recurrence_id is None:
        return f"UID={uid}"
    return f"UID={uid} RECURRENCE-ID={recurrence_id.isoformat()}"


def _value_text(value: _EventValue) -> str:
    sequence, dtstart = value
    return f"(SEQUENCE={sequence}, DTSTART={None if dtstart is None else dtstart.isoformat()})"


def _add_event(events: _Events, parser: str, key: _EventKey, value: _EventValue) -> None:
    # UID + RECURRENCE-ID identify a VEVENT (RFC 5545 3.8.4.4); a second one is ambiguous.
    assert key not in events, f"{parser}: two VEVENTs with the same {_key_text(key)}"
    events[key] = value


def _icalendar_events(calendar: icalendar.Calendar) -> _Events:
    events: _Events = {}
    for vevent in calendar.walk("VEVENT"):
        uid = str(vevent.get("UID"))
        dtstart = vevent.get("DTSTART")
        assert dtstart is not None, f"icalendar: VEVENT {uid} has no DTSTART"
        recurrence_id = vevent.get("RECURRENCE-ID")
        key = (uid, None if recurrence_id is None else _utc_instant(recurrence_id.dt))
        value = (_sequence(vevent.get("SEQUENCE")), _utc_instant(dtstart.dt))
        _add_event(events, "icalendar", key, value)
    return events


def _vobject_events(calendar: Any) -> _Events:
    events: _Events = {}
    for vevent in calendar.contents.get("vevent", []):
        uid = str(vevent.uid.value) if "uid" in vevent.contents else "None"
        sequence = vevent.sequence.value if "sequence" in vevent.contents else None
        assert "dtstart" in vevent.contents, f"vobject: VEVENT {uid} has no DTSTART"
        recurrence_ids = vevent.contents.get("recurrence-id")
        recurrence_id = _utc_instant(recurrence_ids[0].value) if recurrence_ids else None
        value = (_sequence(sequence), _utc_instant(vevent.dtstart.value))
        _add_event(events, "vobject", (uid, recurrence_id), value)
    return events


def _ical_recurrence_id(recurrence_id: RecurrenceId) -> datetime:
    # ical keeps RECURRENCE-ID as its text plus the zone of its TZID, not as a date-time.
    value = RecurrenceId.to_value(str(recurrence_id))
    zone = getattr(recurrence_id, "tzinfo", None)
    if isinstance(value, datetime) and value.tzinfo is None and zone is not None:
        value = value.replace(tzinfo=zone)
    return _utc_instant(value)


def _ical_events(calendar: ical.calendar.Calendar) -> _Events:
    events: _Events = {}
    for vevent in calendar.events:
        assert vevent.dtstart is not None, f"ical: VEVENT {vevent.uid} has no DTSTART"
        recurrence_id = (
            None if vevent.recurrence_id is None else _ical_recurrence_id(vevent.recurrence_id)
        )
        value = (vevent.sequence, _utc_instant(vevent.dtstart))
        _add_event(events, "ical", (vevent.uid, recurrence_id), value)
    return events


def _icaljs_events(result: dict[str, Any]) -> _Events:
    events: _Events = {}
    for event in result["events"]:
        key = (str(event["uid"]), _icaljs_instant(event["recurrence_id_utc"]))
        value = (event["sequence"], _icaljs_instant(event["dtstart_utc"]))
        _add_event(events, "ical.js", key, value)
    return events


def _key_order(key: _EventKey) -> tuple[str, datetime]:
    uid, recurrence_id = key
    return uid, _NO_RECURRENCE_ID if recurrence_id is None else recurrence_id


def _check_agreement(by_parser: dict[str, _Events]) -> None:
    """Assert that every parser found the same VEVENTs with the same SEQUENCE and start."""
    uids = {name: sorted({uid for uid, _ in events}) for name, events in by_parser.items()}
    assert len({tuple(found) for found in uids.values()}) == 1, (
        f"the parsers disagree on the UIDs: {uids}"
    )
    keys = {name: sorted(events, key=_key_order) for name, events in by_parser.items()}
    assert len({tuple(found) for found in keys.values()}) == 1, (
        "the parsers disagree on the VEVENTs (UID, RECURRENCE-ID in UTC): "
        + "; ".join(f"{name}=[{', '.join(map(_key_text, found))}]" for name, found in keys.items())
    )
    for key in next(iter(keys.values())):
        values = {name: events[key] for name, events in by_parser.items()}
        assert len(set(values.values())) == 1, (
            f"the parsers disagree on VEVENT {_key_text(key)} (SEQUENCE, DTSTART in UTC): "
            + ", ".join(f"{name}={_value_text(value)}" for name, value in values.items())
        )


def check_all(ics: bytes) -> dict[str, Any]:
    """Check that all parsers read ``ics`` alike; return ical.js's summary (or just "method")."""
    icalendar_cal = parse_with_icalendar(ics)
    vobject_cal = parse_with_vobject(ics)
    ical_cal = parse_with_ical(ics)
    methods = {
        "icalendar": _text(icalendar_cal.get("METHOD")),
        "vobject": _text(vobject_cal.method.value if "method" in vobject_cal.contents else None),
        "ical": ical_cal.method,
    }
    by_parser = {
        "icalendar": _icalendar_events(icalendar_cal),
        "vobject": _vobject_events(vobject_cal),
        "ical": _ical_events(ical_cal),
    }
    summary: dict[str, Any] = {"method": methods["icalendar"]}
    if icaljs_usable():
        icaljs = parse_with_icaljs(ics)
        # Typically a TZID without VTIMEZONE, which ical.js clients show as floating time.
        assert not icaljs["warnings"], f"ical.js: {icaljs['warnings']}"
        methods["ical.js"] = icaljs["method"]
        by_parser["ical.js"] = _icaljs_events(icaljs)
        summary = icaljs
    assert len(set(methods.values())) == 1, f"the parsers disagree on METHOD: {methods}"
    _check_agreement(by_parser)
    return summary


class Occurrence(TypedDict):
    """One occurrence of a VEVENT in a time window, as ``expand`` lists it."""

    uid: str
    summary: str | None
    status: str | None
    #: the SEQUENCE of the VEVENT this occurrence comes from (series or override)
    sequence: int | None
    start_utc: datetime
    end_utc: datetime
    #: DTSTART as the client shows it: in its TZID's zone, a date for all-day events; floating
    #: and UTC times in the X-WR-TIMEZONE zone when there is one, else floating stays naive
    start_local: date | datetime
    #: the original start of a series instance, in UTC; None for a VEVENT with no series
    recurrence_id_utc: datetime | None
    #: whether an override VEVENT (one with RECURRENCE-ID) supplies this occurrence
    overridden: bool


#: query the expanders with a wider window, then filter with `_overlaps`, so that their own
#: edge rules (inclusive ends, zero-length events) do not matter
_EXPAND_MARGIN = timedelta(days=1)

_OccurrenceKey = tuple[datetime, str, datetime]  # start in UTC, UID, end in UTC


def _overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    """Whether [start, end) meets [window_start, window_end); a zero-length one must start in it."""
    if start == end:
        return window_start <= start < window_end
    return start < window_end and end > window_start


def _end_of(component: icalendar.Event, start: date | datetime) -> date | datetime:
    """DTEND, else DTSTART + DURATION, else RFC 5545 3.6.1's default."""
    if (dtend := component.get("DTEND")) is not None:
        value: date | datetime = dtend.dt
        return value
    if (duration := component.get("DURATION")) is not None:
        return start + duration.dt
    return start if isinstance(start, datetime) else start + timedelta(days=1)


def _occurrence_keys(occurrences: Iterable[Occurrence]) -> list[_OccurrenceKey]:
    return sorted((o["start_utc"], o["uid"], o["end_utc"]) for o in occurrences)


def _key_list(keys: Iterable[_OccurrenceKey]) -> str:
    return ", ".join(f"{uid} {start.isoformat()}..{end.isoformat()}" for start, uid, end in keys)


def _assert_same_occurrences(
    other: str, ours: list[_OccurrenceKey], theirs: list[_OccurrenceKey], hint: str = ""
) -> None:
    only_ours = sorted((Counter(ours) - Counter(theirs)).elements())
    only_theirs = sorted((Counter(theirs) - Counter(ours)).elements())
    assert not only_ours and not only_theirs, (
        f"{other} expands the VEVENTs differently from recurring_ical_events: "
        f"only recurring_ical_events has [{_key_list(only_ours)}], "
        f"only {other} has [{_key_list(only_theirs)}]{hint}"
    )


def _crosscheck_ical(
    ics: bytes, occurrences: list[Occurrence], start: datetime, end: datetime
) -> None:
    """Compare the occurrences with the timeline of the strict ``ical`` package."""
    calendar = parse_with_ical(ics)
    try:
        items = list(
            calendar.timeline_tz(UTC).overlapping(start - _EXPAND_MARGIN, end + _EXPAND_MARGIN)
        )
    except Exception as exc:
        raise AssertionError(f"ical could not expand the document: {exc!r}") from exc
    theirs: list[_OccurrenceKey] = []
    for item in items:
        item_start, item_end = _utc_instant(item.start), _utc_instant(item.end)
        if _overlaps(item_start, item_end, start, end):
            theirs.append((item_start, item.uid, item_end))
    hint = ""
    if any(item.recurrence_id is not None for item in calendar.events):
        hint = (
            " (ical replaces a series instance only when the override's RECURRENCE-ID is "
            "written like an unzoned copy of the instance's DTSTART: same TZID, not UTC)"
        )
    _assert_same_occurrences("ical", _occurrence_keys(occurrences), sorted(theirs), hint)


def _icaljs_runs(ics: bytes) -> list[dict[str, Any]]:
    """ical.js summaries covering every VEVENT (parse_ics.mjs relates each series to the
    overrides with its own UID, as Thunderbird does)."""
    return [parse_with_icaljs(ics)]


def _crosscheck_icaljs(
    ics: bytes, occurrences: list[Occurrence], start: datetime, end: datetime
) -> None:
    """Compare the occurrences with those ical.js lists (its first few of every series)."""
    events = [event for run in _icaljs_runs(ics) for event in run["events"]]
    series_uids = {e["uid"] for e in events if e["recurrence_id"] is None}
    horizons: dict[str, datetime] = {}  # UID -> the last instance listed, for a cut-off series
    theirs: list[_OccurrenceKey] = []
    for event in events:
        listed = event["first_occurrences"]
        if event["recurrence_id"] is not None:
            if event["uid"] in series_uids:
                continue  # listed through its series
            # ical.js lists no occurrence for an override on its own (an iTIP message about
            # one instance): it takes place at its DTSTART
            listed = [{"start_utc": event["dtstart_utc"], "end_utc": event["dtend_utc"]}]
        if len(listed) >= ICALJS_MAX_OCCURRENCES:
            horizons[event["uid"]] = max(
                datetime.fromisoformat(o["recurrence_id_utc"]) for o in listed
            )
        for listed_occurrence in listed:
            listed_start = _icaljs_instant(listed_occurrence["start_utc"])
            listed_end = _icaljs_instant(listed_occurrence["end_utc"]) or listed_start
            assert listed_start is not None and listed_end is not None
            if _overlaps(listed_start, listed_end, start, end):
                theirs.append((listed_start, event["uid"], listed_end))
    ours = [
        o
        for o in occurrences
        if o["uid"] not in horizons
        or (o["recurrence_id_utc"] or o["start_utc"]) <= horizons[o["uid"]]
    ]
    hint = ""
    if b"X-WR-TIMEZONE" in ics:
        hint = " (ical.js ignores X-WR-TIMEZONE: it reads floating times as floating)"
    _assert_same_occurrences("ical.js", _occurrence_keys(ours), sorted(theirs), hint)


def expand(
    ics: bytes, start: datetime, end: datetime, *, crosscheck: bool = True
) -> list[Occurrence]:
    """The occurrences overlapping [start, end), by UTC start; cross-checked by ical, ical.js."""
    assert start.tzinfo is not None and end.tzinfo is not None, "expand needs aware start/end"
    assert start < end, f"expand: empty window {start.isoformat()}..{end.isoformat()}"
    calendar = parse_with_icalendar(ics)
    # recurring_ical_events reads floating times in the X-WR-TIMEZONE zone, as Google does.
    default_zone = calendar.get("X-WR-TIMEZONE")
    floating: tzinfo = UTC if default_zone is None else ZoneInfo(str(default_zone))
    series_uids: set[str] = set()
    sequences: dict[_EventKey, int | None] = {}  # of each VEVENT, by (UID, RECURRENCE-ID)
    for vevent in calendar.walk("VEVENT"):
        uid = str(vevent.get("UID"))
        recurrence_id = vevent.get("RECURRENCE-ID")
        if recurrence_id is not None or "RRULE" in vevent or "RDATE" in vevent:
            series_uids.add(uid)
        key = (uid, None if recurrence_id is None else _utc_instant(recurrence_id.dt, floating))
        sequences[key] = _sequence(vevent.get("SEQUENCE"))
    try:
        components = recurring_ical_events.of(calendar).between(
            start - _EXPAND_MARGIN, end + _EXPAND_MARGIN
        )
    except Exception as exc:
        raise AssertionError(
            f"recurring_ical_events could not expand the document: {exc!r}"
        ) from exc

    occurrences: list[Occurrence] = []
    for component in components:
        uid = str(component.get("UID"))
        local_start: date | datetime = component["DTSTART"].dt
        start_utc = _utc_instant(local_start, floating)
        end_utc = _utc_instant(_end_of(component, local_start), floating)
        if not _overlaps(start_utc, end_utc, start, end):
            continue
        # recurring_ical_events gives every occurrence a RECURRENCE-ID, even a lone VEVENT's.
        recurrence_id = component.get("RECURRENCE-ID")
        recurrence_id_utc = (
            _utc_instant(recurrence_id.dt, floating)
            if recurrence_id is not None and uid in series_uids
            else None
        )
        overridden = recurrence_id_utc is not None and (uid, recurrence_id_utc) in sequences
        occurrences.append(
            Occurrence(
                uid=uid,
                summary=_text(component.get("SUMMARY")),
                status=_text(component.get("STATUS")),
                # the own VEVENT's: recurring_ical_events sets the series' highest on all
                sequence=sequences.get((uid, recurrence_id_utc if overridden else None)),
                start_utc=start_utc,
                end_utc=end_utc,
                start_local=local_start,
                recurrence_id_utc=recurrence_id_utc,
                overridden=overridden,
            )
        )
    occurrences.sort(key=lambda o: (o["start_utc"], o["uid"]))
    if crosscheck:
        _crosscheck_ical(ics, occurrences, start, end)
        if icaljs_usable():
            _crosscheck_icaljs(ics, occurrences, start, end)
    return occurrences
