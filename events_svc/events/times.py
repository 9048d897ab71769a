"""Event fields and their rules: local times plus a zone to UTC instants, durations, reminder
rules, the itinerary, single-line texts and URLs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from events_svc.calendar.reminder_rules import HORIZON
from events_svc.calendar.timeutil import (
    TimeRuleError,
    check_volume,
    local_iso,
    local_to_utc,
    normalize_rrule,
    parse_duration,
    parse_instant,
    series_end_utc,
    to_local,
    zone,
)
from events_svc.errors import FieldError, InvalidInput
from events_svc.events.schemas import (
    ItineraryBlock,
    ReminderRule,
)
from events_svc.settings import VolumeLimits

#: changes to these make calendars treat the event as rescheduled (RFC 5546 §2.1.4)
SEQUENCE_FIELDS = ("starts_at", "ends_at", "timezone", "recurrence", "location", "status")
MAX_DURATION = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class EventTimes:
    starts_at: datetime
    ends_at: datetime
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    series_ends_at_utc: datetime | None
    recurrence: str | None


def _invalid(exc: TimeRuleError) -> InvalidInput:
    return InvalidInput.field(exc.field, exc.message)


def instant(value: str, *, field: str) -> datetime:
    """A query parameter's ISO 8601 date or date-time, as UTC."""
    try:
        return parse_instant(value, field=field)
    except TimeRuleError as exc:
        raise _invalid(exc) from exc


def _span_times(
    starts_at: datetime, ends_at: datetime, tz: Any, *, what: str
) -> tuple[datetime, datetime, datetime, datetime]:
    """Local start and end in `tz` and their UTC instants; the end after the start, at most
    366 days later. Raises TimeRuleError naming the field."""
    start = to_local(starts_at, tz, field="starts_at")
    end = to_local(ends_at, tz, field="ends_at")
    start_utc = local_to_utc(start, tz, field="starts_at")
    end_utc = local_to_utc(end, tz, field="ends_at")
    if end_utc <= start_utc:
        raise TimeRuleError("ends_at", "must be after starts_at")
    if end_utc - start_utc > MAX_DURATION:
        raise TimeRuleError("ends_at", f"{what} may last at most 366 days")
    return start, end, start_utc, end_utc


def resolve_times(
    *,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    recurrence: str | None,
    limits: VolumeLimits | None = None,
) -> EventTimes:
    """Validate an event's times together and derive the UTC instants; with `limits`, a
    recurrence that would flood invitees (occurrences a day, or within the reminder planning
    horizon) is refused too."""
    try:
        tz = zone(timezone)
        start, end, start_utc, end_utc = _span_times(starts_at, ends_at, tz, what="an event")
        per_day = limits.per_day if limits is not None else None
        rule = (
            normalize_rrule(recurrence, start_local=start, tz=tz, per_day=per_day)
            if recurrence
            else None
        )
        if rule and limits is not None:
            check_volume(
                rule,
                start_local=start,
                tz=tz,
                per_day=limits.per_day,
                total=limits.occurrences,
                horizon=HORIZON,
            )
        # a single event ends when it ends (what series_end_utc works out again for no rule)
        series_end = (
            series_end_utc(rule, start_local=start, end_local=end, tz=tz) if rule else end_utc
        )
    except TimeRuleError as exc:
        raise _invalid(exc) from exc
    return EventTimes(start, end, timezone, start_utc, end_utc, series_end, rule)


def validate_reminders(
    rules: Sequence[ReminderRule] | None, *, tz_name: str
) -> list[dict[str, str]] | None:
    """Check reminder rules; returns them as stored (JSON)."""
    if rules is None:
        return None
    out: list[dict[str, str]] = []
    errors: list[FieldError] = []
    for i, rule in enumerate(rules):
        field = f"reminders.{i}"
        if (rule.before is None) == (rule.at is None):
            errors.append(FieldError(field=field, message="give exactly one of before or at"))
            continue
        try:
            if rule.before is not None:
                parse_duration(rule.before, field=f"{field}.before")
                out.append({"before": rule.before.strip().upper()})
            elif rule.at is not None:
                tz = zone(tz_name)
                local = to_local(rule.at, tz, field=f"{field}.at")
                local_to_utc(local, tz, field=f"{field}.at")
                out.append({"at": local_iso(local)})
        except TimeRuleError as exc:
            errors.append(FieldError(field=exc.field, message=exc.message))
    if errors:
        raise InvalidInput.fields(errors)
    return out


def _url(value: str, *, field: str) -> str:
    value = value.strip()
    if value and not (value.startswith("https://") or value.startswith("http://")):
        raise InvalidInput.field(field, "must be an http(s) URL")
    if any(ch.isspace() for ch in value):
        raise InvalidInput.field(field, "must not contain spaces or line breaks")
    return value


def _single_line(value: str, *, field: str) -> str:
    if "\r" in value or "\n" in value:
        raise InvalidInput.field(field, "must be a single line")
    if not value.strip() and field == "title":
        raise InvalidInput.field(field, "must not be blank")
    return value.strip()


def _itinerary(
    blocks: Sequence[ItineraryBlock] | None, *, times: EventTimes
) -> list[dict[str, str]] | None:
    """Itinerary blocks as stored: local times, each within the event, in order."""
    if blocks is None:
        return None
    tz = zone(times.timezone)
    out: list[dict[str, str]] = []
    errors: list[FieldError] = []
    for i, block in enumerate(blocks):
        field = f"itinerary.{i}"
        try:
            start = to_local(block.starts_at, tz, field=f"{field}.starts_at")
            end = to_local(block.ends_at, tz, field=f"{field}.ends_at")
        except TimeRuleError as exc:
            errors.append(FieldError(field=exc.field, message=exc.message))
            continue
        if not block.title.strip() or "\n" in block.title or "\r" in block.title:
            errors.append(FieldError(field=f"{field}.title", message="one line, not blank"))
        if end <= start:
            errors.append(FieldError(field=f"{field}.ends_at", message="must be after starts_at"))
        if start < times.starts_at or end > times.ends_at:
            errors.append(
                FieldError(
                    field=f"{field}.starts_at" if start < times.starts_at else f"{field}.ends_at",
                    message=f"must lie within the event ({local_iso(times.starts_at)} to "
                    f"{local_iso(times.ends_at)})",
                )
            )
        out.append(
            {
                "title": block.title.strip(),
                "starts_at": local_iso(start),
                "ends_at": local_iso(end),
                "place": " ".join(block.place.split()),
            }
        )
    if errors:
        raise InvalidInput.fields(errors)
    return sorted(out, key=lambda b: (b["starts_at"], b["ends_at"]))


def _itinerary_out(raw: Any) -> list[dict[str, str]] | None:
    if raw is None:
        return None
    return list(json.loads(raw) if isinstance(raw, str) else raw)
