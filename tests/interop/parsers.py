"""Check iCalendar output with three independent parsers, as real calendar clients would.

- ``icalendar`` (Python), plus the RFC 5545 line checks: CRLF line ends, lines of at most
  75 octets, no folded line splitting a UTF-8 character;
- ``vobject`` (Python);
- Mozilla's ``ical.js`` (the parser Thunderbird uses), through ``parse_ics.mjs`` on Node.js.
  It needs Node.js and ``npm ci --prefix tests/interop`` once. Where neither is set up (a
  machine with nothing but Python), ``check_all`` uses the two Python parsers and the ical.js
  tests are skipped; CI sets ``EVENTS_SVC_REQUIRE_ICALJS=1`` so that there it is an error.

``check_all`` runs the three and checks that they agree on METHOD, the UIDs, the SEQUENCE
values and the UTC start instant of every VEVENT.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import icalendar
import vobject

INTEROP_DIR = Path(__file__).resolve().parent
PARSE_ICS_SCRIPT = INTEROP_DIR / "parse_ics.mjs"
NODE_MODULES = INTEROP_DIR / "node_modules"
ICALJS_TIMEOUT_SECONDS = 30
MAX_LINE_OCTETS = 75

__all__ = [
    "check_all",
    "check_line_format",
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


def _utc_instant(value: date | datetime) -> datetime:
    """A DTSTART value as a UTC instant (floating times and dates are read as UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _icaljs_instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _sequence(value: Any) -> int | None:
    return None if value is None else int(value)


_EventKey = tuple[str, int | None, datetime | None]  # UID, SEQUENCE, DTSTART in UTC


def _icalendar_events(calendar: icalendar.Calendar) -> list[_EventKey]:
    events: list[_EventKey] = []
    for vevent in calendar.walk("VEVENT"):
        dtstart = vevent.get("DTSTART")
        assert dtstart is not None, f"icalendar: VEVENT {vevent.get('UID')} has no DTSTART"
        events.append(
            (str(vevent.get("UID")), _sequence(vevent.get("SEQUENCE")), _utc_instant(dtstart.dt))
        )
    return events


def _vobject_events(calendar: Any) -> list[_EventKey]:
    events: list[_EventKey] = []
    for vevent in calendar.contents.get("vevent", []):
        uid = str(vevent.uid.value) if "uid" in vevent.contents else "None"
        sequence = vevent.sequence.value if "sequence" in vevent.contents else None
        assert "dtstart" in vevent.contents, f"vobject: VEVENT {uid} has no DTSTART"
        events.append((uid, _sequence(sequence), _utc_instant(vevent.dtstart.value)))
    return events


def _icaljs_events(result: dict[str, Any]) -> list[_EventKey]:
    return [
        (str(event["uid"]), event["sequence"], _icaljs_instant(event["dtstart_utc"]))
        for event in result["events"]
    ]


def check_all(ics: bytes) -> dict[str, Any]:
    """Parse ``ics`` with icalendar, vobject and ical.js, check that they agree, and return
    the ical.js summary (see parse_ics.mjs for its fields; only "method" without ical.js).

    Agreement means: the same METHOD, the same set of UIDs, and for every VEVENT (in document
    order) the same UID, SEQUENCE and DTSTART instant in UTC. Every TZID used must also have
    a VTIMEZONE, or ical.js clients show the time as floating.
    """
    ical_cal = parse_with_icalendar(ics)
    vobj_cal = parse_with_vobject(ics)
    method_icalendar = ical_cal.get("METHOD")
    method_vobject = vobj_cal.method.value if "method" in vobj_cal.contents else None
    if not icaljs_usable():
        # Only the Python parsers on this machine (see the module docstring).
        assert _icalendar_events(ical_cal) == _vobject_events(vobj_cal)
        assert str(method_icalendar) == str(method_vobject)
        return {"method": None if method_icalendar is None else str(method_icalendar)}
    icaljs = parse_with_icaljs(ics)

    assert not icaljs["warnings"], f"ical.js: {icaljs['warnings']}"

    methods = {
        "icalendar": None if method_icalendar is None else str(method_icalendar),
        "vobject": None if method_vobject is None else str(method_vobject),
        "ical.js": icaljs["method"],
    }
    assert len(set(methods.values())) == 1, f"the parsers disagree on METHOD: {methods}"

    by_parser: dict[str, list[_EventKey]] = {
        "icalendar": _icalendar_events(ical_cal),
        "vobject": _vobject_events(vobj_cal),
        "ical.js": _icaljs_events(icaljs),
    }
    uids = {name: sorted({uid for uid, _, _ in events}) for name, events in by_parser.items()}
    assert uids["icalendar"] == uids["vobject"] == uids["ical.js"], (
        f"the parsers disagree on the UIDs: {uids}"
    )
    counts = {name: len(events) for name, events in by_parser.items()}
    assert len(set(counts.values())) == 1, f"the parsers disagree on the VEVENT count: {counts}"
    for index, (a, b, c) in enumerate(
        zip(by_parser["icalendar"], by_parser["vobject"], by_parser["ical.js"], strict=True)
    ):
        assert a == b == c, (
            f"the parsers disagree on VEVENT #{index + 1} (UID, SEQUENCE, DTSTART in UTC): "
            f"icalendar={a}, vobject={b}, ical.js={c}"
        )
    return icaljs
