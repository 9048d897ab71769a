"""Changing and cancelling an event: SEQUENCE, updates queued to invitees, reminders moved."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from arq.connections import ArqRedis

from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.events.create import _partnership_id, _visit
from events_svc.events.read import _slug_of, _slugs_of, _stored_itinerary, get_event
from events_svc.events.records import EventRecord
from events_svc.events.schemas import (
    EventPatch,
    ItineraryBlock,
    ReminderRule,
)
from events_svc.events.tables import Event, Occurrence
from events_svc.events.times import (
    SEQUENCE_FIELDS,
    _itinerary,
    _single_line,
    _url,
    resolve_times,
    validate_reminders,
)
from events_svc.jobs import enqueue_notifications
from events_svc.notifications import service as outbox
from events_svc.partnerships import service as partnerships
from events_svc.reminders import service as reminders
from events_svc.settings import DEFAULT_VOLUME, VolumeLimits

#: changes that move reminders
REMINDER_FIELDS = ("starts_at", "ends_at", "timezone", "recurrence", "reminders")


async def update_event(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    patch: EventPatch,
    queue: ArqRedis | None = None,
    now: datetime | None = None,
    limits: VolumeLimits = DEFAULT_VOLUME,
) -> EventRecord:
    """Apply a partial update; SEQUENCE rises when the event's identity changes, and then every
    invitee who has not declined is sent an update."""
    given = {
        f: getattr(patch, f)
        for f in patch.__struct_fields__
        if getattr(patch, f) is not msgspec.UNSET
    }
    if not given:
        return await get_event(org_id=org_id, event_id=event_id)
    async with Event._meta.db.transaction():
        current = (
            await Event.select()
            .where((Event.id == event_id) & ((Event.org == org_id) | Event.cohosts.any(org_id)))
            .lock_rows("UPDATE")
            .first()
        )
        if current is None:
            raise NotFound("event not found")
        if current["status"] == "cancelled":
            raise Conflict("the event is cancelled and can no longer be changed")
        tz_name = str(given.get("timezone") or current["timezone"])
        changes: dict[str, Any] = {}
        if {"starts_at", "ends_at", "timezone", "recurrence"} & given.keys():
            times = resolve_times(
                starts_at=given.get("starts_at") or current["starts_at"],
                ends_at=given.get("ends_at") or current["ends_at"],
                timezone=tz_name,
                recurrence=given.get("recurrence", current["recurrence"]),
                limits=limits,
            )
            changes.update(
                starts_at=times.starts_at,
                ends_at=times.ends_at,
                timezone=times.timezone,
                starts_at_utc=times.starts_at_utc,
                ends_at_utc=times.ends_at_utc,
                series_ends_at_utc=times.series_ends_at_utc,
                recurrence=times.recurrence,
            )
        if "reminders" in given or "timezone" in given:
            rules = given["reminders"] if "reminders" in given else _stored_rules(current)
            stored = validate_reminders(rules, tz_name=tz_name)
            changes["reminders"] = json.dumps(stored) if stored is not None else None
        if {"partnership", "area", "cohosts"} & given.keys():
            if current["org"] != org_id:
                field = next(f for f in ("partnership", "area", "cohosts") if f in given)
                raise InvalidInput.field(
                    field, "only the host organization can change the partnership or co-hosts"
                )
            partnership_id = (
                _partnership_id(given["partnership"])
                if "partnership" in given
                else current["partnership"]
            )
            area = given["area"] if "area" in given else current["area"]
            slugs = given.get("cohosts")
            if slugs is None:
                slugs = await _slugs_of(current["cohosts"] or [])
            if partnership_id is None:
                area, slugs = None, ([] if "cohosts" not in given else slugs)
            changes["cohosts"] = await partnerships.check_event_link(
                org_id=org_id,
                partnership_id=partnership_id,
                area=area,
                cohost_slugs=slugs,
                current_partnership=current["partnership"],
                current_cohosts=current["cohosts"] or [],
            )
            changes["partnership"], changes["area"] = partnership_id, area
        if {"host", "visiting"} & given.keys() or (
            "kind" in given and given["kind"] != current["kind"]
        ):
            if current["org"] != org_id:
                raise InvalidInput.field(
                    "host" if "host" in given else "visiting",
                    "only the host organization can change who hosts and visits",
                )
            host = given.get("host") if "host" in given else await _slug_of(current["venue_org"])
            visiting = (
                given["visiting"]
                if "visiting" in given
                else await _slugs_of(current["visiting"] or [])
            )
            venue, visitors = await _visit(
                org_id=org_id,
                kind=str(given["kind"] if "kind" in given else current["kind"]),
                host=host,
                visiting=visiting,
            )
            changes["venue_org"], changes["visiting"] = venue, visitors
        if "itinerary" in given or ("itinerary" not in given and "starts_at" in changes):
            merged = {**current, **changes}
            if "itinerary" in given:
                blocks = given["itinerary"]
            else:
                # the event moved: its itinerary moves with it, block for block
                shift = merged["starts_at"] - current["starts_at"]
                blocks = (
                    [
                        ItineraryBlock(
                            title=b.title,
                            starts_at=b.starts_at + shift,
                            ends_at=b.ends_at + shift,
                            place=b.place,
                        )
                        for b in _stored_itinerary(current) or []
                    ]
                    if current["itinerary"] is not None
                    else None
                )
            times_now = resolve_times(
                starts_at=merged["starts_at"],
                ends_at=merged["ends_at"],
                timezone=merged["timezone"],
                recurrence=merged["recurrence"],
            )
            stored_itinerary = _itinerary(blocks, times=times_now)
            changes["itinerary"] = (
                json.dumps(stored_itinerary, ensure_ascii=False)
                if stored_itinerary is not None
                else None
            )
        for name in ("kind", "visibility", "capacity", "description", "completion_threshold"):
            if name in given:
                changes[name] = given[name]
        if "title" in given:
            changes["title"] = _single_line(given["title"], field="title")
        if "location" in given:
            changes["location"] = _single_line(given["location"], field="location")
        if "online_url" in given:
            changes["online_url"] = _url(given["online_url"], field="online_url")
        changes = {k: v for k, v in changes.items() if _differs(current[k], v)}
        queued: list[dict[str, Any]] = []
        if changes:
            if any(f in changes for f in SEQUENCE_FIELDS):
                changes["sequence"] = current["sequence"] + 1
            changes["updated_at"] = datetime.now(UTC)
            await Event.update(changes).where(Event.id == event_id)  # type: ignore[arg-type]
            if {"starts_at", "timezone", "recurrence"} & changes.keys():
                # the series was redefined: occurrences changed one by one no longer line up
                # with it (calendar clients drop such exceptions too)
                await Occurrence.raw("DELETE FROM occurrence WHERE event = {}", event_id)
            if "sequence" in changes:
                queued = await outbox.queue_event_change(
                    event_id=event_id, sequence=changes["sequence"], kind="update"
                )
            if any(f in changes for f in REMINDER_FIELDS):
                await reminders.plan(
                    event_id=event_id,
                    now=now or datetime.now(UTC),
                    max_rows=limits.reminder_rows,
                    # the error names what was changed, reminders first
                    field=next(f for f in (*REMINDER_FIELDS[::-1], "reminders") if f in given),
                )
    await enqueue_notifications(queue, queued, batch=True)
    return await get_event(org_id=org_id, event_id=event_id)


def _stored_rules(row: dict[str, Any]) -> list[ReminderRule] | None:
    raw = row["reminders"]
    if raw is None:
        return None
    data = json.loads(raw) if isinstance(raw, str) else raw
    return msgspec.convert(data, list[ReminderRule])


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old != new
    if isinstance(new, str) and not isinstance(old, str) and old is not None:
        # JSONB comes back decoded or as text depending on the query; compare as JSON
        return json.loads(new) != old
    if isinstance(old, str) and new is not None and not isinstance(new, str):
        return json.loads(old) != new
    return bool(old != new)


async def cancel_event(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    queue: ArqRedis | None = None,
    now: datetime | None = None,
) -> EventRecord:
    """Cancel an event and send every invitee a CANCEL; cancelling twice is harmless and
    keeps the first SEQUENCE."""
    queued: list[dict[str, Any]] = []
    async with Event._meta.db.transaction():
        current = (
            await Event.select(Event.status, Event.sequence)
            .where((Event.id == event_id) & ((Event.org == org_id) | Event.cohosts.any(org_id)))
            .lock_rows("UPDATE")
            .first()
        )
        if current is None:
            raise NotFound("event not found")
        if current["status"] != "cancelled":
            sequence = current["sequence"] + 1
            await Event.update(
                {
                    Event.status: "cancelled",
                    Event.sequence: sequence,
                    Event.updated_at: datetime.now(UTC),
                }
            ).where(Event.id == event_id)
            queued = await outbox.queue_event_change(
                event_id=event_id, sequence=sequence, kind="cancellation"
            )
            await reminders.plan(event_id=event_id, now=now or datetime.now(UTC))
    await enqueue_notifications(queue, queued, batch=True)
    return await get_event(org_id=org_id, event_id=event_id)
