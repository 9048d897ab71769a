"""Rendering feed bodies: each event rendered once and cached, recipients' lines spliced in,
gzip kept beside the plain body."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from icalendar import Calendar

from events_svc.calendar.ics import (
    PRODID,
    Party,
    Pieces,
    event_data,
    organizer_line,
    own_organizer_line,
    recipient_lines,
    session_vevents,
    vevents,
)
from events_svc.calendar.vtimezone import vtimezone
from events_svc.events.tables import Event, changed_occurrences
from events_svc.feeds.model import (
    _END,
    BODIES,
    CANCELLED_KEPT,
    FEED_PAST,
    Body,
    FeedConfig,
    Stamp,
    _defaults_text,
    _Lru,
)
from events_svc.feeds.stamps import _SCOPES
from events_svc.rsvp.tokens import reply_address

# --- bodies -----------------------------------------------------------------------------------


async def public_body(*, stamp: Stamp, now: datetime, config: FeedConfig) -> Body:
    """A public feed (an organization's or a partnership's); the last one again while
    nothing changed."""
    async with _building(stamp.key):
        cached = BODIES.get(stamp.key)
        if cached is not None and cached.etag == stamp.etag:
            return cached
        where = _SCOPES[stamp.scope].format(owner="$1")
        rows = await _fetch(
            "SELECT e.id, e.updated_at, e.timezone, o.name, o.default_reminders"  # noqa: S608
            " FROM event e JOIN organization o ON o.id = e.org WHERE "
            + where
            + " AND e.visibility = 'public'"
            " AND (cardinality($2::text[]) = 0 OR e.kind = ANY($2::text[]))"
            " AND (e.series_ends_at_utc IS NULL OR e.series_ends_at_utc >= $3)"
            " AND (e.status <> 'cancelled' OR e.updated_at >= $4)"
            " ORDER BY e.starts_at_utc, e.id",
            stamp.owner,
            list(stamp.kinds),
            now - FEED_PAST,
            now - CANCELLED_KEPT,
        )
        blocks = await _blocks(
            [(r[0], r[1], r[3], _defaults_text(r[4])) for r in rows], config=config
        )
        data = _calendar(stamp.name, [r[2] for r in rows], config, [b[1] for b in blocks])
        body = Body(stamp.etag, data)
        BODIES.put(stamp.key, body, len(body.data))
        return body


async def person_body(*, stamp: Stamp, now: datetime, config: FeedConfig) -> Body:
    """A person's feed: every event they are invited to, with their own ATTENDEE line."""
    async with _building(stamp.key):
        cached = BODIES.get(stamp.key)
        if cached is not None and cached.etag == stamp.etag:
            return cached
        rows = await _fetch(
            "SELECT e.id, e.updated_at, e.timezone, o.name, o.default_reminders, i.role, i.rsvp,"
            " p.email, p.name, i.id FROM invitation i JOIN event e ON e.id = i.event"
            " JOIN organization o ON o.id = e.org JOIN person p ON p.id = i.person"
            " WHERE i.person = $1 AND i.removed_at IS NULL"
            " AND (e.series_ends_at_utc IS NULL OR e.series_ends_at_utc >= $2)"
            " AND (e.status <> 'cancelled' OR e.updated_at >= $3)"
            " ORDER BY e.starts_at_utc, e.id",
            stamp.owner,
            now - FEED_PAST,
            now - CANCELLED_KEPT,
        )
        blocks = await _blocks(
            [(r[0], r[1], r[3], _defaults_text(r[4])) for r in rows], config=config
        )
        parts = []
        for (pieces, _public), r in zip(blocks, rows, strict=True):
            me = Party(email=r[7], name=r[8], role=r[5], rsvp=r[6])
            if config.reply_address:
                # the invitation's own reply address, as in its e-mails: a REPLY from a
                # client subscribed to this feed is applied like one to the invitation. (A
                # property line starts after CRLF; escaped user text never holds a CRLF.)
                own = reply_address(config.reply_address, config.secret_key, r[9])
                plain = b"\r\n" + _organizer_line(config.mail_from, r[3])
                mine = b"\r\n" + own_organizer_line(Party(email=own, name=r[3]))
                pieces = tuple(piece.replace(plain, mine) for piece in pieces)
            parts.append(_attendee_lines(me).join(pieces))
        data = _calendar(stamp.name, [r[2] for r in rows], config, parts)
        body = Body(stamp.etag, data)
        BODIES.put(stamp.key, body, len(body.data))
        return body


_LOCKS: dict[str, asyncio.Lock] = {}


@contextlib.asynccontextmanager
async def _building(key: str) -> AsyncIterator[None]:
    """One build of a feed at a time: a second request for it waits and takes the result."""
    lock = _LOCKS.setdefault(key, asyncio.Lock())
    try:
        async with lock:
            yield
    finally:
        if not lock.locked() and not lock._waiters:  # noqa: SLF001 - drop idle locks
            _LOCKS.pop(key, None)


async def _fetch(sql: str, *args: Any) -> list[Any]:
    """Rows as asyncpg records: the feed lists can hold 10,000 rows, and turning them into
    dicts (as Piccolo's raw() does) cost more than the query."""
    pool = Event._meta.db.pool  # type: ignore[attr-defined]
    if pool is None:  # no pool (a script): one connection
        conn = await Event._meta.db.get_new_connection()  # type: ignore[attr-defined]
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


@lru_cache(maxsize=4096)
def _attendee_lines(me: Party) -> bytes:
    return recipient_lines(me)


@lru_cache(maxsize=1024)
def _organizer_line(email: str, name: str) -> bytes:
    return organizer_line(Party(email=email, name=name))


_Item = tuple[uuid.UUID, datetime, str, str]  # event id, updated_at, organizer name, defaults
#: events rendered per slice of a cold build, between which other requests get their turn
_RENDER_SLICE = 50


_Block = tuple[Pieces, bytes]  # cut where a recipient's lines go, and whole without them


async def _blocks(items: Sequence[_Item], *, config: FeedConfig) -> list[_Block]:
    """Each event's VEVENT block, cut where recipient lines go and whole without them: from
    the cache, or rendered (all misses read at once)."""
    cache = _blocks_for(config)
    found: list[_Block | None] = [cache.get(item) for item in items]
    missing = [item[0] for item, block in zip(items, found, strict=True) if block is None]
    if missing:
        fresh: dict[uuid.UUID, _Block] = {}
        for start in range(0, len(missing), 1000):
            fresh.update(await _render(missing[start : start + 1000], config=config, cache=cache))
        for i, item in enumerate(items):
            if found[i] is None:
                # the event changed again between the two queries: what was just read is
                # newer than the list, and the next request (with a new ETag) lists it
                found[i] = fresh.get(item[0], ((), b""))
    return [b for b in found if b is not None and b[1]]


#: rendered VEVENT blocks (cut for recipient lines, and whole without them) by (event id,
#: updated_at, organizer name, default reminders), one cache per way of rendering (with or
#: without sessions, per settings)
_BLOCK_CACHES: dict[FeedConfig, _Lru] = {}


def _blocks_for(config: FeedConfig) -> _Lru:
    cache = _BLOCK_CACHES.get(config)
    if cache is None:
        if len(_BLOCK_CACHES) >= 4:
            _BLOCK_CACHES.clear()  # the settings changed (tests): nothing rendered before holds
        # the first (plain) way gets the larger budget; sessions feeds are the rarer ask
        megabytes = 64 if _BLOCK_CACHES else 128
        cache = _BLOCK_CACHES[config] = _Lru(max_items=100_000, max_bytes=megabytes * 2**20)
    return cache


async def _render(
    event_ids: list[uuid.UUID], *, config: FeedConfig, cache: _Lru
) -> dict[uuid.UUID, _Block]:
    rows = await Event.raw(
        "SELECT e.*, o.name AS org_name, o.default_reminders AS org_default_reminders"
        " FROM event e JOIN organization o ON o.id = e.org WHERE e.id = ANY({}::uuid[])",
        event_ids,
    )
    occurrences = await changed_occurrences([r["id"] for r in rows if r["recurrence"]])
    out: dict[uuid.UUID, _Block] = {}
    for i, row in enumerate(rows):
        if i and i % _RENDER_SLICE == 0:
            # icalendar takes ~0.4 ms an event: a cold 10,000-event feed must not hold the
            # event loop for seconds
            await asyncio.sleep(0)
        event = event_data(
            row, base_url=config.base_url, occurrences=occurrences.get(row["id"], ())
        )
        organizer = Party(email=config.mail_from, name=row["org_name"])
        # DTSTAMP is the last change, so the same event gives the same bytes (and ETag)
        if config.sessions and event.agenda:
            pieces = session_vevents(event, organizer=organizer, dtstamp=row["updated_at"])
        else:
            pieces = vevents(event, organizer=organizer, dtstamp=row["updated_at"])
        whole = b"".join(pieces)
        block = (pieces, whole)
        defaults = _defaults_text(row["org_default_reminders"])
        key = (row["id"], row["updated_at"], row["org_name"], defaults)
        cache.put(key, block, len(whole) * 2)
        out[row["id"]] = block
    return out


def _calendar(
    name: str, zones_used: Sequence[str], config: FeedConfig, blocks: list[bytes]
) -> bytes:
    zones = collections.Counter(zones_used)
    main_zone = zones.most_common(1)[0][0] if zones else ""
    head = _head(name, main_zone, tuple(sorted(zones)), config.refresh)
    return b"".join([head, *blocks, _END])


@lru_cache(maxsize=256)
def _head(name: str, main_zone: str, zones: tuple[str, ...], refresh: timedelta) -> bytes:
    """VCALENDAR properties and one VTIMEZONE per zone used, up to the events."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    if main_zone:
        cal.add("x-wr-timezone", main_zone)
    # RFC 7986 REFRESH-INTERVAL; X-PUBLISHED-TTL for Outlook and older clients
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", _duration_text(refresh))
    for tzid in zones:
        cal.add_component(vtimezone(tzid))
    data: bytes = cal.to_ical()
    return data[: -len(_END)]


def _duration_text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    return f"PT{seconds}S"
