"""Calendar feeds: an organization's public events and a person's invitations, as iCalendar
that subscribed clients poll.

A feed is stitched from per-event blocks (the VEVENTs of one event, rendered by icalendar)
kept in memory until the event changes, so a 10,000-event feed after one change renders one
event. The validators come from one aggregate query, so a conditional request that matches
(304) reads one row and renders nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gzip
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
from events_svc.errors import NotFound
from events_svc.events.tables import Event, changed_occurrences
from events_svc.rsvp.tokens import reply_address

#: events that ended longer ago than this leave the feeds
FEED_PAST = timedelta(days=90)
#: a cancelled event stays (as STATUS:CANCELLED) this long, so subscribed clients remove it
CANCELLED_KEPT = timedelta(days=30)
#: part of every ETag: change it when the bytes of a feed change for the same data
FORMAT = "feed-1"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}\Z")
_END = b"END:VCALENDAR\r\n"

_WINDOW = (
    " AND (e.series_ends_at_utc IS NULL OR e.series_ends_at_utc >= {})"
    " AND (e.status <> 'cancelled' OR e.updated_at >= {})"
)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """What every feed of this process shares (from the settings)."""

    base_url: str
    mail_from: str
    refresh: timedelta
    #: REPLY_ADDRESS and SECRET_KEY: a person's feed names each invitation's reply address
    reply_address: str = ""
    secret_key: str = field(default="", repr=False)
    #: `?detail=sessions`: an event with an agenda shows as its sessions, one VEVENT each
    sessions: bool = False


@dataclass(slots=True)
class Stamp:
    """A feed's validators, known before building it."""

    key: str  #: which feed: "org:<id>:<kinds>" or "person:<id>"
    etag: str  #: strong, quoted
    last_modified: datetime
    private: bool
    name: str  #: X-WR-CALNAME
    owner: uuid.UUID  #: the organization or person
    kinds: tuple[str, ...] = ()
    #: for public feeds: "org" (hosted or co-hosted by `owner`) or "partnership" (run under it)
    scope: str = ""


@dataclass(slots=True)
class Body:
    etag: str
    data: bytes
    _gzip: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        """The body gzip-compressed, once per body."""
        if self._gzip is None:
            # level 5: a third of the time of level 9 for a few percent more bytes
            self._gzip = gzip.compress(self.data, compresslevel=5, mtime=0)
        return self._gzip


class _Lru:
    """A small in-process LRU map with a size budget."""

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self._items: collections.OrderedDict[Any, tuple[Any, int]] = collections.OrderedDict()
        self.max_items, self.max_bytes, self.bytes = max_items, max_bytes, 0

    def get(self, key: Any) -> Any:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (value, size)
        self.bytes += size
        while self._items and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
            _k, (_v, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


#: the last body of each feed, by feed key; served again while its ETag holds
BODIES = _Lru(max_items=64, max_bytes=96 * 1024 * 1024)


def _etag(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def _defaults_text(raw: Any) -> str:
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)


# --- validators -------------------------------------------------------------------------------

#: how long this process reuses a feed's validators without asking the database. Feeds are
#: declared fresh for 5 minutes anyway (Cache-Control), so a change made through another
#: process shows within this; a change made through this one forgets them at once.
STAMP_TTL = 2.0
_STAMPS: dict[Any, tuple[Stamp, float, int]] = {}
_writes = [0]


def note_write() -> None:
    """A write request succeeded in this process: validators read before it are stale."""
    _writes[0] += 1


async def _remembered(key: Any, build: Callable[[], Awaitable[Stamp]]) -> Stamp:
    """The validators kept for `key`, or `build()` ones and keep them; a write request
    through this process since they were read, or STAMP_TTL, makes them stale."""
    found = _STAMPS.get(key)
    if found is not None:
        stamp, expires, writes = found
        if writes == _writes[0] and time.monotonic() < expires:
            return stamp
    writes = _writes[0]
    stamp = await build()
    if len(_STAMPS) > 10_000:
        _STAMPS.clear()
    _STAMPS[key] = (stamp, time.monotonic() + STAMP_TTL, writes)
    return stamp


#: the events of a public feed: an organization's (hosted or co-hosted) or a partnership's
_SCOPES = {
    "org": "(e.org = {owner} OR {owner} = ANY(e.cohosts))",
    # an ended agreement's feed is empty: its events are their hosts' alone from then on
    "partnership": "e.partnership = {owner} AND EXISTS (SELECT 1 FROM partnership p"
    " WHERE p.id = e.partnership AND p.status <> 'ended')",
}


async def org_stamp(*, slug: str, kinds: Sequence[str], now: datetime, config: FeedConfig) -> Stamp:
    """The validators of an organization's public feed; 404 for an unknown slug."""

    async def build() -> Stamp:
        orgs = await Event.raw("SELECT id, name FROM organization WHERE slug = {}", slug)
        if not orgs:
            raise NotFound("organization not found")
        return await _public_stamp(
            "org", orgs[0]["id"], orgs[0]["name"], kinds=kinds, now=now, config=config
        )

    return await _remembered(("org", slug, tuple(sorted(set(kinds))), config), build)


async def partnership_stamp(*, ident: str, now: datetime, config: FeedConfig) -> Stamp:
    """The validators of the public feed of a co-operation agreement's events."""
    try:
        partnership_id = uuid.UUID(ident)
    except ValueError as exc:
        raise NotFound("feed not found") from exc

    async def build() -> Stamp:
        found = await Event.raw("SELECT title FROM partnership WHERE id = {}", partnership_id)
        if not found:
            raise NotFound("feed not found")
        return await _public_stamp(
            "partnership", partnership_id, found[0]["title"], kinds=(), now=now, config=config
        )

    return await _remembered(("partnership", partnership_id, config), build)


async def _public_stamp(
    scope: str,
    owner: uuid.UUID,
    name: str,
    *,
    kinds: Sequence[str],
    now: datetime,
    config: FeedConfig,
) -> Stamp:
    kind_list = sorted(set(kinds))
    where = _SCOPES[scope].format(owner="{}")
    rows = await Event.raw(
        # an order-free digest (no sort): XOR of one 64-bit hash per event as it renders
        # (its id and last change, and its host's name and default reminders)
        "SELECT count(*) AS n, max(e.updated_at) AS last, coalesce(bit_xor(hashtextextended("  # noqa: S608 - constant SQL
        "e.id::text || '@' || e.updated_at::text || '@' || o.name || '@'"
        " || coalesce(o.default_reminders::text, ''), 0)), 0) AS digest"
        " FROM event e JOIN organization o ON o.id = e.org WHERE "
        + where
        + " AND e.visibility = 'public'"
        " AND (cardinality({}::text[]) = 0 OR e.kind = ANY({}::text[]))" + _WINDOW,
        *([owner] * where.count("{}")),
        kind_list,
        kind_list,
        now - FEED_PAST,
        now - CANCELLED_KEPT,
    )
    agg = rows[0]
    return Stamp(
        key=f"{scope}:{owner}:{','.join(kind_list)}:{'sessions' if config.sessions else ''}",
        etag=_etag(FORMAT, PRODID, config, scope, name, kind_list, agg["n"], agg["digest"]),
        last_modified=agg["last"] or datetime(2000, 1, 1, tzinfo=UTC),
        private=False,
        name=name,
        owner=owner,
        kinds=tuple(kind_list),
        scope=scope,
    )


async def person_stamp(*, token: str, now: datetime, config: FeedConfig) -> Stamp:
    """The validators of a person's feed; 404 for a token that is not (or no longer) one."""
    if not _TOKEN_RE.match(token):
        raise NotFound("feed not found")

    async def build() -> Stamp:
        people = await Event.raw("SELECT id, email, name FROM person WHERE feed_token = {}", token)
        if not people:
            raise NotFound("feed not found")
        person = people[0]
        rows = await Event.raw(
            "SELECT count(*) AS n, max(greatest(e.updated_at, i.updated_at)) AS last,"  # noqa: S608 - constant SQL
            " coalesce(bit_xor(hashtextextended(e.id::text || '@' || e.updated_at::text || '@'"
            " || i.role || '@' || i.rsvp || '@' || coalesce(i.waitlisted_at::text, '') || '@'"
            " || o.name || '@' || coalesce(o.default_reminders::text, ''), 0)), 0) AS digest"
            " FROM invitation i JOIN event e ON e.id = i.event JOIN organization o ON o.id = e.org"
            " WHERE i.person = {} AND i.removed_at IS NULL" + _WINDOW,
            person["id"],
            now - FEED_PAST,
            now - CANCELLED_KEPT,
        )
        agg = rows[0]
        name = person["name"] or person["email"]
        return Stamp(
            key=f"person:{person['id']}:{'sessions' if config.sessions else ''}",
            etag=_etag(FORMAT, PRODID, config, name, person["email"], agg["n"], agg["digest"]),
            last_modified=agg["last"] or datetime(2000, 1, 1, tzinfo=UTC),
            private=True,
            name=name,
            owner=person["id"],
        )

    return await _remembered(("person", token, config), build)


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


# --- personal links ---------------------------------------------------------------------------


def person_feed_urls(base_url: str, token: str) -> tuple[str, str]:
    """The https and webcal URLs of a person's feed."""
    https = f"{base_url}/feeds/people/{token}.ics"
    return https, "webcal://" + https.split("://", 1)[1]
