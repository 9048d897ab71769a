"""Events: validation of times and rules, tenancy, SEQUENCE, listing."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from arq.connections import ArqRedis

from events_svc import paging
from events_svc.calendar.ics import Party, event_data, publish
from events_svc.calendar.reminder_rules import HORIZON
from events_svc.calendar.timeutil import (
    TimeRuleError,
    check_volume,
    check_year,
    iter_occurrences,
    local_iso,
    local_to_utc,
    normalize_rrule,
    parse_duration,
    parse_instant,
    series_end_utc,
    to_local,
    zone,
)
from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.events.hosted import lock_hosted_event
from events_svc.events.schemas import (
    EventCreate,
    EventPatch,
    ItineraryBlock,
    OccurrencePatch,
    ReminderRule,
)
from events_svc.events.tables import Event, Occurrence, changed_occurrences
from events_svc.jobs import enqueue_notifications
from events_svc.notifications import service as outbox
from events_svc.partnerships import service as partnerships
from events_svc.reminders import service as reminders
from events_svc.settings import DEFAULT_VOLUME, VolumeLimits

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
        series_end = series_end_utc(rule, start_local=start, end_local=end, tz=tz)
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


async def create_event(
    *,
    org_id: uuid.UUID,
    org_slug: str,
    data: EventCreate,
    uid_host: str,
    limits: VolumeLimits = DEFAULT_VOLUME,
) -> dict[str, Any]:
    times = resolve_times(
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        recurrence=data.recurrence,
        limits=limits,
    )
    reminders = validate_reminders(data.reminders, tz_name=data.timezone)
    partnership_id = _partnership_id(data.partnership)
    venue, visiting = await _visit(
        org_id=org_id, kind=data.kind, host=data.host, visiting=data.visiting
    )
    itinerary = _itinerary(data.itinerary, times=times)
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "uid": f"{uuid.uuid4()}@{uid_host}",
        "sequence": 0,
        "kind": data.kind,
        "title": _single_line(data.title, field="title"),
        "description": data.description,
        "location": _single_line(data.location, field="location"),
        "online_url": _url(data.online_url, field="online_url"),
        "starts_at": times.starts_at,
        "ends_at": times.ends_at,
        "timezone": times.timezone,
        "starts_at_utc": times.starts_at_utc,
        "ends_at_utc": times.ends_at_utc,
        "series_ends_at_utc": times.series_ends_at_utc,
        "recurrence": times.recurrence,
        "status": "scheduled",
        "visibility": data.visibility,
        "capacity": data.capacity,
        "completion_threshold": data.completion_threshold,
        "reminders": json.dumps(reminders) if reminders is not None else None,
        "partnership": partnership_id,
        "area": data.area if partnership_id else None,
        "cohosts": [],
        "venue_org": venue,
        "visiting": visiting,
        "itinerary": json.dumps(itinerary, ensure_ascii=False) if itinerary is not None else None,
        "created_at": now,
        "updated_at": now,
    }
    link = partnerships.check_event_link(
        org_id=org_id, partnership_id=partnership_id, area=data.area, cohost_slugs=data.cohosts
    )
    if partnership_id is None:
        # no agreement to lock: the check reads nothing, and the insert is one statement
        row["cohosts"] = await link
        await Event.insert(Event(org=org_id, **row))
    else:
        async with Event._meta.db.transaction():
            # checked in the transaction that inserts: an agreement ending meanwhile waits
            row["cohosts"] = await link
            await Event.insert(Event(org=org_id, **row))
    # the co-hosts were checked above: their slugs are the ones given
    slugs = sorted({c.strip().lower() for c in data.cohosts} - {org_slug})
    visiting_slugs = sorted({v.strip().lower() for v in data.visiting})
    venue_slug = data.host.strip().lower() if data.host else None
    return _row_out(
        {
            **row,
            "org_slug": org_slug,
            "cohost_slugs": slugs,
            "venue_slug": venue_slug,
            "visiting_slugs": visiting_slugs,
        }
    )


async def _visit(
    *, org_id: uuid.UUID, kind: str, host: str | None, visiting: Sequence[str]
) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
    """An exchange visit's host (whose premises; None: the organization itself) and its
    visiting organizations, by slug."""
    if kind != "exchange_visit":
        if host is not None:
            raise InvalidInput.field("host", "only an exchange_visit names a host")
        if visiting:
            raise InvalidInput.field("visiting", "only an exchange_visit has visitors")
        return None, []
    slugs = [v.strip().lower() for v in visiting] + ([host.strip().lower()] if host else [])
    found = await Event.raw("SELECT id, slug FROM organization WHERE slug = ANY({}::text[])", slugs)
    ids = {r["slug"]: r["id"] for r in found}
    venue = None
    if host is not None:
        venue = ids.get(host.strip().lower())
        if venue is None:
            raise InvalidInput.field("host", f"no organization {host!r}")
    errors: list[FieldError] = []
    out: list[uuid.UUID] = []
    for i, slug in enumerate(v.strip().lower() for v in visiting):
        if slug not in ids:
            errors.append(FieldError(field=f"visiting.{i}", message=f"no organization {slug!r}"))
        elif ids[slug] in (venue or org_id,):
            errors.append(FieldError(field=f"visiting.{i}", message="the host does not visit"))
        elif ids[slug] not in out:
            out.append(ids[slug])
    if errors:
        raise InvalidInput.fields(errors)
    return (None if venue == org_id else venue), out


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


def _partnership_id(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput.field("partnership", "not a partnership id") from exc


_COLUMNS = (*Event.all_columns(), Event.org.slug.as_alias("org_slug"))
#: the co-hosts' slugs of event `e`, as a text[]
COHOST_SLUGS_SQL = (
    "coalesce((SELECT array_agg(c.slug ORDER BY c.slug) FROM organization c"
    " WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[])"
)
# Raw SQL for the hottest read; Piccolo's builder costs more than the query itself.
_SELECT_ONE = (
    "SELECT e.*, o.slug AS org_slug, " + COHOST_SLUGS_SQL + " AS cohost_slugs,"  # noqa: S608
    " (SELECT v.slug FROM organization v WHERE v.id = e.venue_org) AS venue_slug,"
    " coalesce((SELECT array_agg(v.slug ORDER BY v.slug) FROM organization v"
    "  WHERE v.id = ANY(e.visiting)), ARRAY[]::text[]) AS visiting_slugs"
    " FROM event e JOIN organization o ON o.id = e.org"
    " WHERE e.id = {} AND (e.org = {} OR {} = ANY(e.cohosts))"
)


def _row_out(row: dict[str, Any]) -> dict[str, Any]:
    reminders = row["reminders"]
    if isinstance(reminders, str):
        reminders = json.loads(reminders)
    return {
        "id": str(row["id"]),
        "uid": row["uid"],
        "sequence": row["sequence"],
        "organization": row["org_slug"],
        "partnership": str(row["partnership"]) if row.get("partnership") else None,
        "area": row.get("area"),
        "cohosts": list(row.get("cohost_slugs") or []),
        "host": row.get("venue_slug") or row["org_slug"],
        "visiting": list(row.get("visiting_slugs") or []),
        "itinerary": _itinerary_out(row.get("itinerary")),
        "kind": row["kind"],
        "title": row["title"],
        "description": row["description"],
        "location": row["location"],
        "online_url": row["online_url"],
        "starts_at": local_iso(row["starts_at"]),
        "ends_at": local_iso(row["ends_at"]),
        "timezone": row["timezone"],
        "starts_at_utc": row["starts_at_utc"],
        "ends_at_utc": row["ends_at_utc"],
        "recurrence": row["recurrence"],
        "status": row["status"],
        "visibility": row["visibility"],
        "capacity": row["capacity"],
        "reminders": reminders,
        "completion_threshold": row["completion_threshold"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def get_event(*, org_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """One of the caller's events; anybody else's is a 404, so existence does not leak."""
    rows = await Event.raw(_SELECT_ONE, event_id, org_id, org_id)
    if not rows:
        raise NotFound("event not found")
    row = rows[0]
    return _row_out(row)


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
) -> dict[str, Any]:
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
) -> dict[str, Any]:
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


def _encode_cursor(row: dict[str, Any]) -> str:
    return paging.encode_cursor("events", row["starts_at_utc"].isoformat(), str(row["id"]))


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    when, ident = paging.decode_cursor(cursor, "events", size=2)
    try:
        instant = check_year(datetime.fromisoformat(when), field="cursor")
        if instant.tzinfo is None:
            raise ValueError("not a cursor")
        return instant, uuid.UUID(ident)
    except (ValueError, TypeError) as exc:
        raise paging.bad_cursor() from exc


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def list_events(
    *,
    org_id: uuid.UUID,
    from_: datetime | None = None,
    to: datetime | None = None,
    kinds: Sequence[str] = (),
    status: str | None = None,
    cursor: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's events overlapping [from, to), by start time; cursor pagination."""
    query = Event.select(*_COLUMNS).where((Event.org == org_id) | Event.cohosts.any(org_id))
    if from_ is not None:
        start = _utc(from_)
        query = query.where(Event.series_ends_at_utc.is_null() | (Event.series_ends_at_utc > start))
    if to is not None:
        query = query.where(Event.starts_at_utc < _utc(to))
    if from_ is not None and to is not None and _utc(to) <= _utc(from_):
        raise InvalidInput.field("to", "must be after from")
    if kinds:
        query = query.where(Event.kind.is_in(list(kinds)))
    if status is not None:
        query = query.where(Event.status == status)
    if cursor:
        after_start, after_id = _decode_cursor(cursor)
        query = query.where(
            (Event.starts_at_utc > after_start)
            | ((Event.starts_at_utc == after_start) & (Event.id > after_id))
        )
    rows = await query.order_by(Event.starts_at_utc, Event.id).limit(limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1]) if has_more and rows else None
    await _add_cohost_slugs(rows)
    return [_row_out(r) for r in rows], next_cursor


async def _slug_of(org: uuid.UUID | None) -> str | None:
    if org is None:
        return None
    found = await Event.raw("SELECT slug FROM organization WHERE id = {}", org)
    return found[0]["slug"] if found else None


def _stored_itinerary(row: dict[str, Any]) -> list[ItineraryBlock] | None:
    raw = _itinerary_out(row["itinerary"])
    if raw is None:
        return None
    return [
        ItineraryBlock(
            title=b["title"],
            starts_at=datetime.fromisoformat(b["starts_at"]),
            ends_at=datetime.fromisoformat(b["ends_at"]),
            place=b["place"],
        )
        for b in raw
    ]


async def _slugs_of(ids: Sequence[uuid.UUID]) -> list[str]:
    if not ids:
        return []
    found = await Event.raw(
        "SELECT slug FROM organization WHERE id = ANY({}::uuid[]) ORDER BY slug", list(ids)
    )
    return [r["slug"] for r in found]


async def _add_cohost_slugs(rows: Sequence[dict[str, Any]]) -> None:
    """The slugs of the co-hosts, host and visitors of listed events, in one query."""
    ids = {c for r in rows for c in [*(r["cohosts"] or ()), *(r["visiting"] or ())]}
    ids |= {r["venue_org"] for r in rows if r["venue_org"]}
    if not ids:
        return
    found = await Event.raw(
        "SELECT id, slug FROM organization WHERE id = ANY({}::uuid[])", list(ids)
    )
    slugs = {r["id"]: r["slug"] for r in found}
    for r in rows:
        r["cohost_slugs"] = sorted(slugs[c] for c in r["cohosts"] or () if c in slugs)
        r["visiting_slugs"] = sorted(slugs[c] for c in r["visiting"] or () if c in slugs)
        r["venue_slug"] = slugs.get(r["venue_org"])


_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def parse_event_ref(ref: str) -> tuple[uuid.UUID, bool]:
    """`<uuid>` or `<uuid>.ics` from the path: (event id, whether the .ics file is wanted).
    Only the canonical spelling of the id is accepted; anything else is a 404, like an
    event that does not exist."""
    wants_ics = ref.endswith(".ics")
    ident = (ref[:-4] if wants_ics else ref).lower()
    if not _UUID_RE.match(ident):
        raise NotFound("event not found")
    return uuid.UUID(ident), wants_ics


@dataclass(frozen=True, slots=True)
class EventFile:
    body: bytes
    etag: str
    private: bool


async def event_file(
    *, event_id: uuid.UUID, org_id: uuid.UUID | None, base_url: str, mail_from: str
) -> EventFile:
    """The event as an .ics file: public events for anyone, private ones for their owner."""
    rows = await Event.raw(
        "SELECT e.*, o.name AS org_name, o.default_reminders AS org_default_reminders"
        " FROM event e JOIN organization o ON o.id = e.org"
        " WHERE e.id = {}",
        event_id,
    )
    if not rows or (
        rows[0]["visibility"] == "private"
        and rows[0]["org"] != org_id
        and org_id not in (rows[0]["cohosts"] or ())
    ):
        raise NotFound("event not found")
    row = rows[0]
    occurrences = (await changed_occurrences([event_id]))[event_id] if row["recurrence"] else []
    event = event_data(row, base_url=base_url, occurrences=occurrences)
    body = publish(
        event, organizer=Party(email=mail_from, name=row["org_name"]), dtstamp=row["updated_at"]
    )
    etag = hashlib.sha256(body).hexdigest()[:32]
    return EventFile(body=body, etag=f'"{etag}"', private=row["visibility"] == "private")


def event_uuid(ref: str) -> uuid.UUID:
    """An event id from the path; a malformed one is a 404, like an unknown event."""
    ident, wants_ics = parse_event_ref(ref)
    if wants_ics:
        raise NotFound("event not found")
    return ident


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


def _occurrence_out(event: dict[str, Any], occ: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": str(event["id"]),
        "recurrence_id": local_iso(occ["recurrence_id"]),
        "starts_at": local_iso(occ["starts_at"]),
        "ends_at": local_iso(occ["ends_at"]),
        "timezone": event["timezone"],
        "starts_at_utc": occ["starts_at_utc"],
        "ends_at_utc": occ["ends_at_utc"],
        "status": occ["status"],
        "sequence": max(occ["sequence"], event["sequence"]),
    }


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
) -> dict[str, Any]:
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
