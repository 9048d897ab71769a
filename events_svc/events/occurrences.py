"""One occurrence of a series moved, cancelled or restored, with its own SEQUENCE."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from arq.connections import ArqRedis

from events_svc.calendar.timeutil import (
    TimeRuleError,
    check_year,
    iter_occurrences,
    local_iso,
    zone,
)
from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.events.hosted import lock_hosted_event
from events_svc.events.records import OccurrenceRecord
from events_svc.events.schemas import (
    OccurrencePatch,
)
from events_svc.events.tables import Event, Occurrence, changed_occurrences
from events_svc.events.times import _invalid, _span_times
from events_svc.jobs import enqueue_notifications
from events_svc.notifications import service as outbox
from events_svc.reminders import service as reminders
from events_svc.settings import DEFAULT_VOLUME, VolumeLimits

#: how far into a series an occurrence can be changed (endless series are walked lazily)
MAX_OCCURRENCE_SEARCH = 5000


def _parse_recurrence_id(value: str, tz: Any) -> datetime:
    """The path's original local start, ISO 8601 (2027-03-11T14:00:00) or basic
    (20270311T140000); anything else is a 404, like a start the series does not have."""
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"):
        try:
            local = datetime.strptime(value, fmt)  # noqa: DTZ007 - local to the event's zone
        except ValueError:
            continue
        try:
            check_year(local, field="occurrence")
        except TimeRuleError:
            break
        return local
    raise NotFound("the series has no occurrence starting at this time")


def is_occurrence(row: dict[str, Any], local: datetime) -> bool:
    """Whether a series (a row with starts_at, timezone, recurrence) has an occurrence that
    starts at `local` (its local wall-clock time, as the rule places it)."""
    tz = zone(row["timezone"])
    for i, candidate in enumerate(
        iter_occurrences(row["recurrence"], start_local=row["starts_at"], tz=tz)
    ):
        if candidate >= local or i >= MAX_OCCURRENCE_SEARCH:
            return candidate == local
    return False


def _occurrence_out(event: dict[str, Any], occ: dict[str, Any]) -> OccurrenceRecord:
    return OccurrenceRecord(
        event=str(event["id"]),
        recurrence_id=local_iso(occ["recurrence_id"]),
        starts_at=local_iso(occ["starts_at"]),
        ends_at=local_iso(occ["ends_at"]),
        timezone=event["timezone"],
        starts_at_utc=occ["starts_at_utc"],
        ends_at_utc=occ["ends_at_utc"],
        status=occ["status"],
        sequence=max(occ["sequence"], event["sequence"]),
    )


async def _check_day(
    event: dict[str, Any], *, original: datetime, start: datetime, per_day: int
) -> None:
    """Refuse moving (or restoring) an occurrence onto a local day that would then hold more
    than `per_day` occurrences of the series, counting those moved there one by one."""
    day = start.date()
    tz = zone(event["timezone"])
    overrides = {
        o["recurrence_id"]: o for o in (await changed_occurrences([event["id"]]))[event["id"]]
    }
    count = 1  # this one
    for i, candidate in enumerate(
        iter_occurrences(event["recurrence"], start_local=event["starts_at"], tz=tz)
    ):
        if candidate.date() > day or i >= MAX_OCCURRENCE_SEARCH:
            break
        if candidate.date() == day and candidate != original and candidate not in overrides:
            count += 1
    count += sum(
        1
        for rid, o in overrides.items()
        if rid != original and o["status"] == "scheduled" and o["starts_at"].date() == day
    )
    if count > per_day:
        raise InvalidInput.field(
            "starts_at",
            f"{day.isoformat()} would hold {count} occurrences of the series; at most"
            f" {per_day} a day (MAX_OCCURRENCES_PER_DAY)",
        )


async def update_occurrence(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    occurrence: str,
    patch: OccurrencePatch,
    queue: ArqRedis | None = None,
    now: datetime | None = None,
    limits: VolumeLimits = DEFAULT_VOLUME,
) -> OccurrenceRecord:
    """Move or cancel (or restore) one occurrence of a series. It gets its own SEQUENCE,
    invitees an update or CANCEL for that occurrence only (RECURRENCE-ID), feeds an override
    or an EXDATE, and its reminders move or go."""
    queued: list[dict[str, Any]] = []
    async with Event._meta.db.transaction():
        event = await lock_hosted_event(org_id=org_id, event_id=event_id)
        if not event["recurrence"]:
            raise Conflict("the event is not a series; change the event itself")
        if event["status"] == "cancelled":
            raise Conflict("the event is cancelled and can no longer be changed")
        tz = zone(event["timezone"])
        original = _parse_recurrence_id(occurrence, tz)
        if not is_occurrence(event, original):
            raise NotFound("the series has no occurrence starting at this time")
        found = await Occurrence.raw(
            "SELECT * FROM occurrence WHERE event = {} AND recurrence_id = {}",
            event_id,
            original,
        )
        length = event["ends_at"] - event["starts_at"]
        current = (
            dict(found[0])
            if found
            else {
                "recurrence_id": original,
                "starts_at": original,
                "ends_at": original + length,
                "status": "scheduled",
                "sequence": 0,
            }
        )
        status = current["status"] if patch.status is msgspec.UNSET else patch.status
        starts_at = current["starts_at"] if patch.starts_at is msgspec.UNSET else patch.starts_at
        ends_at = current["ends_at"] if patch.ends_at is msgspec.UNSET else patch.ends_at
        if patch.starts_at is not msgspec.UNSET and patch.ends_at is msgspec.UNSET:
            ends_at = starts_at + (current["ends_at"] - current["starts_at"])
        try:
            start, end, start_utc, end_utc = _span_times(
                starts_at, ends_at, tz, what="an occurrence"
            )
        except TimeRuleError as exc:
            raise _invalid(exc) from exc
        changed = (start, end, status) != (
            current["starts_at"],
            current["ends_at"],
            current["status"],
        )
        if changed and status == "scheduled":
            await _check_day(event, original=original, start=start, per_day=limits.per_day)
        if changed:
            sequence = max(current["sequence"], event["sequence"]) + 1
            stamp = datetime.now(UTC)
            saved = await Occurrence.raw(
                "INSERT INTO occurrence (id, event, recurrence_id, starts_at, ends_at,"
                " starts_at_utc, ends_at_utc, status, sequence, updated_at)"
                " VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {}, {}, {}, {})"
                " ON CONFLICT (event, recurrence_id) DO UPDATE SET starts_at = EXCLUDED.starts_at,"
                " ends_at = EXCLUDED.ends_at, starts_at_utc = EXCLUDED.starts_at_utc,"
                " ends_at_utc = EXCLUDED.ends_at_utc, status = EXCLUDED.status,"
                " sequence = EXCLUDED.sequence, updated_at = EXCLUDED.updated_at RETURNING *",
                event_id,
                original,
                start,
                end,
                start_utc,
                end_utc,
                status,
                sequence,
                stamp,
            )
            current = dict(saved[0])
            # the series as a whole changed for feeds and caches; its own SEQUENCE does not
            await Event.raw("UPDATE event SET updated_at = {} WHERE id = {}", stamp, event_id)
            queued = await outbox.queue_event_change(
                event_id=event_id,
                sequence=sequence,
                kind="cancellation" if status == "cancelled" else "update",
                occurrence=f"{original:%Y%m%dT%H%M%S}",
            )
            await reminders.plan(
                event_id=event_id,
                now=now or datetime.now(UTC),
                max_rows=limits.reminder_rows,
                field="status" if patch.starts_at is msgspec.UNSET else "starts_at",
            )
        elif not found:
            current.update(starts_at_utc=start_utc, ends_at_utc=end_utc)
    await enqueue_notifications(queue, queued, batch=True)
    return _occurrence_out(event, current)
