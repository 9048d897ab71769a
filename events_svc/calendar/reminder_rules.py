"""Pure reminder rules: from an event's rules and times to due instants, per occurrence."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc.calendar.timeutil import iter_occurrences, local_to_utc, parse_duration, zone

#: how far ahead reminder rows are planned; a cron extends it for endless series
HORIZON = timedelta(days=400)
MAX_OCCURRENCES = 500
OCCURRENCE_FORMAT = "%Y%m%dT%H%M%S"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: `before` a start (relative) or `at` a local date-time (absolute)."""

    key: str  #: stable text form, part of each reminder's unique key: "before=PT1H"
    before: timedelta | None = None
    at_local: datetime | None = None

    @property
    def trigger(self) -> str:
        """The VALARM TRIGGER value: "-PT1H", or the absolute local time (as key text)."""
        return f"-{self.key.split('=', 1)[1]}" if self.before is not None else self.key


@dataclass(frozen=True, slots=True)
class Due:
    rule: str  #: Rule.key
    occurrence: str  #: the occurrence's local start, YYYYMMDDTHHMMSS
    occurrence_start_utc: datetime
    due_utc: datetime


def moved(occurrences: Iterable[Mapping[str, Any]]) -> dict[datetime, datetime | None]:
    """`occurrence` rows of a series as `due_times` takes them: original local start -> new
    local start, or None when cancelled."""
    return {
        o["recurrence_id"]: None if o["status"] == "cancelled" else o["starts_at"]
        for o in occurrences
    }


def parse_occurrence(value: str) -> datetime:
    """An occurrence key back to its local wall-clock start (naive by design: the zone is the
    event's)."""
    return datetime.strptime(value, OCCURRENCE_FORMAT)  # noqa: DTZ007


def load(raw: Any) -> list[dict[str, str]] | None:
    """Stored JSON (text or decoded) -> list of rule dicts; None stays None."""
    if raw is None:
        return None
    data = json.loads(raw) if isinstance(raw, str) else raw
    return list(data)


def effective(event_rules: Any, org_default: Any) -> list[Rule]:
    """The event's own rules, or the organization's default when the event gives none
    (`[]` on the event means no reminders at all)."""
    rules = load(event_rules)
    if rules is None:
        rules = load(org_default) or []
    return [parse(rule) for rule in rules]


def parse(rule: dict[str, str]) -> Rule:
    if "before" in rule:
        return Rule(
            key=f"before={rule['before']}", before=parse_duration(rule["before"], field="before")
        )
    at = datetime.fromisoformat(rule["at"])
    return Rule(key=f"at={at:{OCCURRENCE_FORMAT}}", at_local=at)


def due_times(
    rules: Sequence[Rule],
    *,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    recurrence: str | None,
    now: datetime,
    horizon: timedelta = HORIZON,
    moved: Mapping[datetime, datetime | None] | None = None,
) -> list[Due]:
    """Every (rule, occurrence) whose occurrence has not started and is due before
    now + horizon. An `at` rule applies once, to the first occurrence. `moved` maps an
    occurrence's original local start to where it was moved (None: cancelled); its
    reminders follow it and keep their key."""
    if not rules:
        return []
    tz = zone(timezone)
    moved = moved or {}
    starts = _occurrence_starts(starts_at, tz, recurrence, now=now, until=now + horizon)
    # an occurrence moved from beyond the horizon into it is planned too
    starts += [k for k, v in moved.items() if v is not None and k not in starts]
    out: list[Due] = []
    for rule in rules:
        for i, local in enumerate(starts):
            if local in moved and moved[local] is None:
                continue  # cancelled on its own
            start_utc = local_to_utc_lenient(moved.get(local) or local, tz)
            if rule.at_local is not None:
                if i > 0 or local != starts_at:
                    break
                due = local_to_utc_lenient(rule.at_local, tz)
            else:
                assert rule.before is not None
                due = start_utc - rule.before
            if start_utc <= now or due > now + horizon:
                continue
            out.append(Due(rule.key, f"{local:{OCCURRENCE_FORMAT}}", start_utc, due))
    return out


def _occurrence_starts(
    starts_at: datetime, tz: Any, recurrence: str | None, *, now: datetime, until: datetime
) -> list[datetime]:
    if not recurrence:
        return [starts_at]
    out: list[datetime] = []
    for local in iter_occurrences(recurrence, start_local=starts_at, tz=tz):
        utc = local_to_utc_lenient(local, tz)
        if utc > until or len(out) >= MAX_OCCURRENCES:
            break
        if utc > now or local == starts_at:
            out.append(local)
    return out


def local_to_utc_lenient(local: datetime, tz: Any) -> datetime:
    """Like local_to_utc, but a wall-clock time in a DST gap (a series occurrence can land in
    one) is taken as the instant the clocks jump to, as calendar clients do."""
    try:
        return local_to_utc(local, tz, field="occurrence")
    except ValueError:
        return local.replace(tzinfo=tz).astimezone(UTC)


def current_occurrence_start(
    rules_now: Sequence[Rule],
    *,
    rule_key: str,
    occurrence: str,
    starts_at: datetime,
    timezone: str,
    recurrence: str | None,
    moved: Mapping[datetime, datetime | None] | None = None,
) -> datetime | None:
    """The occurrence's start (UTC) when (rule, occurrence) is still one of the event's
    reminders as the event is now; None when the event moved, the occurrence was cancelled
    or the rule went away. A moved occurrence (`moved`) starts where it was moved to."""
    if rule_key not in {r.key for r in rules_now}:
        return None
    moved = moved or {}
    tz = zone(timezone)
    local = parse_occurrence(occurrence)
    if recurrence:
        for candidate in iter_occurrences(recurrence, start_local=starts_at, tz=tz):
            if candidate >= local:
                break
        else:
            return None
        if candidate != local:
            return None
    elif local != starts_at:
        return None
    if rule_key.startswith("at=") and local != starts_at:
        return None
    if local in moved:
        new_start = moved[local]
        return None if new_start is None else local_to_utc_lenient(new_start, tz)
    return local_to_utc_lenient(local, tz)
