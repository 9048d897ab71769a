"""Reading events: one (the hottest read, in raw SQL), a page of them by cursor, co-host slugs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from events_svc import database, paging
from events_svc.calendar.timeutil import (
    check_year,
    local_iso,
)
from events_svc.errors import InvalidInput, NotFound
from events_svc.events import registration_rules
from events_svc.events.records import EventRecord
from events_svc.events.schemas import (
    ItineraryBlock,
)
from events_svc.events.tables import Event
from events_svc.events.times import _itinerary_out

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
    " WHERE e.id = $1 AND (e.org = $2 OR $2 = ANY(e.cohosts))"
)


def _wall(value: datetime) -> str:
    """`local_iso` of a stored wall-clock time (naive, whole seconds): `isoformat` writes the
    same text for less than `strftime` costs."""
    return value.isoformat(timespec="seconds") if value.tzinfo is None else local_iso(value)


def _row_out(row: Mapping[str, Any]) -> EventRecord:
    """The record of an event row (a dict, or an asyncpg Record of the same columns)."""
    reminders = row["reminders"]
    if isinstance(reminders, str):
        reminders = json.loads(reminders)
    return EventRecord(
        id=str(row["id"]),
        uid=row["uid"],
        sequence=row["sequence"],
        organization=row["org_slug"],
        partnership=str(row["partnership"]) if row.get("partnership") else None,
        area=row.get("area"),
        cohosts=list(row.get("cohost_slugs") or []),
        host=row.get("venue_slug") or row["org_slug"],
        visiting=list(row.get("visiting_slugs") or []),
        itinerary=_itinerary_out(row.get("itinerary")),
        kind=row["kind"],
        title=row["title"],
        description=row["description"],
        location=row["location"],
        online_url=row["online_url"],
        starts_at=_wall(row["starts_at"]),
        ends_at=_wall(row["ends_at"]),
        timezone=row["timezone"],
        starts_at_utc=row["starts_at_utc"],
        ends_at_utc=row["ends_at_utc"],
        recurrence=row["recurrence"],
        status=row["status"],
        visibility=row["visibility"],
        capacity=row["capacity"],
        reminders=reminders,
        completion_threshold=row["completion_threshold"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        registration=row.get("registration") or "closed",
        registration_deadline=row.get("registration_deadline"),
        registration_questions=registration_rules.stored_questions(
            row.get("registration_questions")
        ),
    )


async def get_event(*, org_id: uuid.UUID, event_id: uuid.UUID) -> EventRecord:
    """One of the caller's events; anybody else's is a 404, so existence does not leak."""
    rows = await database.fetch(_SELECT_ONE, event_id, org_id)
    if not rows:
        raise NotFound("event not found")
    row = rows[0]
    return _row_out(row)


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
) -> tuple[list[EventRecord], str | None]:
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
