"""Calendar feeds: an organization's public events and a person's invitations, as iCalendar
that subscribed clients poll.

A feed is stitched from per-event blocks (the VEVENTs of one event, rendered by icalendar)
kept in memory until the event changes, so a 10,000-event feed after one change renders one
event. The validators come from one aggregate query, so a conditional request that matches
(304) reads one row and renders nothing.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from icalendar import Calendar

from events_svc.calendar.ics import (
    MARKER,
    PRODID,
    Party,
    event_data,
    recipient_lines,
    vevents,
)
from events_svc.calendar.vtimezone import vtimezone
from events_svc.errors import NotFound
from events_svc.events.tables import Event
from events_svc.people.service import FEED_TOKEN_SQL

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
    org_name: str = ""
    org_defaults: str = ""


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


#: rendered VEVENT blocks by (event id, updated_at, organizer name, default reminders)
BLOCKS = _Lru(max_items=100_000, max_bytes=128 * 1024 * 1024)
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


async def org_stamp(*, slug: str, kinds: Sequence[str], now: datetime, config: FeedConfig) -> Stamp:
    """The validators of an organization's public feed; 404 for an unknown slug."""
    orgs = await Event.raw(
        "SELECT id, name, default_reminders FROM organization WHERE slug = {}", slug
    )
    if not orgs:
        raise NotFound("organization not found")
    org = orgs[0]
    kind_list = sorted(set(kinds))
    rows = await Event.raw(
        "SELECT count(*) AS n, max(e.updated_at) AS last, md5(coalesce(string_agg("  # noqa: S608 - constant SQL
        "e.id::text || '@' || e.updated_at::text, ',' ORDER BY e.id), '')) AS digest"
        " FROM event e WHERE e.org = {} AND e.visibility = 'public'"
        " AND (cardinality({}::text[]) = 0 OR e.kind = ANY({}::text[]))" + _WINDOW,
        org["id"],
        kind_list,
        kind_list,
        now - FEED_PAST,
        now - CANCELLED_KEPT,
    )
    agg = rows[0]
    defaults = _defaults_text(org["default_reminders"])
    return Stamp(
        key=f"org:{org['id']}:{','.join(kind_list)}",
        etag=_etag(
            FORMAT, PRODID, config, org["name"], defaults, kind_list, agg["n"], agg["digest"]
        ),
        last_modified=agg["last"] or datetime(2000, 1, 1, tzinfo=UTC),
        private=False,
        name=org["name"],
        owner=org["id"],
        kinds=tuple(kind_list),
        org_name=org["name"],
        org_defaults=defaults,
    )


async def person_stamp(*, token: str, now: datetime, config: FeedConfig) -> Stamp:
    """The validators of a person's feed; 404 for a token that is not (or no longer) one."""
    if not _TOKEN_RE.match(token):
        raise NotFound("feed not found")
    people = await Event.raw("SELECT id, email, name FROM person WHERE feed_token = {}", token)
    if not people:
        raise NotFound("feed not found")
    person = people[0]
    rows = await Event.raw(
        "SELECT count(*) AS n, max(greatest(e.updated_at, i.updated_at)) AS last,"  # noqa: S608 - constant SQL
        " md5(coalesce(string_agg(e.id::text || '@' || e.updated_at::text || '@' || i.role"
        " || '@' || i.rsvp || '@' || o.name || '@' || coalesce(o.default_reminders::text, ''),"
        " ',' ORDER BY e.id), '')) AS digest"
        " FROM invitation i JOIN event e ON e.id = i.event JOIN organization o ON o.id = e.org"
        " WHERE i.person = {} AND i.removed_at IS NULL" + _WINDOW,
        person["id"],
        now - FEED_PAST,
        now - CANCELLED_KEPT,
    )
    agg = rows[0]
    name = person["name"] or person["email"]
    return Stamp(
        key=f"person:{person['id']}",
        etag=_etag(FORMAT, PRODID, config, name, person["email"], agg["n"], agg["digest"]),
        last_modified=agg["last"] or datetime(2000, 1, 1, tzinfo=UTC),
        private=True,
        name=name,
        owner=person["id"],
    )


# --- bodies -----------------------------------------------------------------------------------


async def org_body(*, stamp: Stamp, now: datetime, config: FeedConfig) -> Body:
    """The organization's public feed (the last one again while nothing changed)."""
    cached = BODIES.get(stamp.key)
    if cached is not None and cached.etag == stamp.etag:
        return cached
    kinds = list(stamp.kinds)
    rows = await Event.raw(
        "SELECT e.id, e.updated_at, e.timezone FROM event e"  # noqa: S608 - constant SQL
        " WHERE e.org = {} AND e.visibility = 'public'"
        " AND (cardinality({}::text[]) = 0 OR e.kind = ANY({}::text[]))"
        + _WINDOW
        + " ORDER BY e.starts_at_utc, e.id",
        stamp.owner,
        kinds,
        kinds,
        now - FEED_PAST,
        now - CANCELLED_KEPT,
    )
    items = [
        (r["id"], r["updated_at"], r["timezone"], stamp.org_name, stamp.org_defaults) for r in rows
    ]
    blocks = await _blocks(items, config=config)
    body = Body(stamp.etag, _calendar(stamp.name, items, config, b"".join(blocks), public=True))
    BODIES.put(stamp.key, body, len(body.data))
    return body


async def person_body(*, stamp: Stamp, now: datetime, config: FeedConfig) -> Body:
    """A person's feed: every event they are invited to, with their own ATTENDEE line."""
    cached = BODIES.get(stamp.key)
    if cached is not None and cached.etag == stamp.etag:
        return cached
    rows = await Event.raw(
        "SELECT e.id, e.updated_at, e.timezone, i.role, i.rsvp, o.name AS org_name,"  # noqa: S608 - constant SQL
        " o.default_reminders, p.email, p.name AS person_name"
        " FROM invitation i JOIN event e ON e.id = i.event JOIN organization o ON o.id = e.org"
        " JOIN person p ON p.id = i.person"
        " WHERE i.person = {} AND i.removed_at IS NULL"
        + _WINDOW
        + " ORDER BY e.starts_at_utc, e.id",
        stamp.owner,
        now - FEED_PAST,
        now - CANCELLED_KEPT,
    )
    items = [
        (
            r["id"],
            r["updated_at"],
            r["timezone"],
            r["org_name"],
            _defaults_text(r["default_reminders"]),
        )
        for r in rows
    ]
    blocks = await _blocks(items, config=config)
    parts = []
    for block, r in zip(blocks, rows, strict=True):
        me = Party(email=r["email"], name=r["person_name"], role=r["role"], rsvp=r["rsvp"])
        parts.append(block.replace(MARKER, _attendee_lines(me)))
    body = Body(stamp.etag, _calendar(stamp.name, items, config, b"".join(parts), public=False))
    BODIES.put(stamp.key, body, len(body.data))
    return body


@lru_cache(maxsize=4096)
def _attendee_lines(me: Party) -> bytes:
    return recipient_lines(me)


_Item = tuple[uuid.UUID, datetime, str, str, str]  # id, updated_at, zone, org name, defaults


async def _blocks(items: Sequence[_Item], *, config: FeedConfig) -> list[bytes]:
    """Each event's VEVENT block: from the cache, or rendered (all misses read at once)."""
    found: list[bytes | None] = [BLOCKS.get((*item[:2], *item[3:], config)) for item in items]
    missing = [item[0] for item, block in zip(items, found, strict=True) if block is None]
    if missing:
        fresh = await _render(missing, config=config)
        for i, item in enumerate(items):
            if found[i] is None:
                block = fresh.get(item[0])
                # the event changed again between the two queries: what was just read is
                # newer than the list, and the next request (with a new ETag) lists it
                found[i] = block if block is not None else b""
    return [b for b in found if b]


async def _render(event_ids: list[uuid.UUID], *, config: FeedConfig) -> dict[uuid.UUID, bytes]:
    rows = await Event.raw(
        "SELECT e.*, o.name AS org_name, o.default_reminders AS org_default_reminders"
        " FROM event e JOIN organization o ON o.id = e.org WHERE e.id = ANY({}::uuid[])",
        event_ids,
    )
    series = [r["id"] for r in rows if r["recurrence"]]
    occurrences: dict[uuid.UUID, list[dict[str, Any]]] = collections.defaultdict(list)
    if series:
        for o in await Event.raw(
            "SELECT * FROM occurrence WHERE event = ANY({}::uuid[]) ORDER BY recurrence_id",
            series,
        ):
            occurrences[o["event"]].append(o)
    out: dict[uuid.UUID, bytes] = {}
    for row in rows:
        event = event_data(row, base_url=config.base_url, occurrences=occurrences[row["id"]])
        organizer = Party(email=config.mail_from, name=row["org_name"])
        # DTSTAMP is the last change, so the same event gives the same bytes (and ETag)
        block = vevents(event, organizer=organizer, dtstamp=row["updated_at"])
        defaults = _defaults_text(row["org_default_reminders"])
        BLOCKS.put(
            (row["id"], row["updated_at"], row["org_name"], defaults, config), block, len(block)
        )
        out[row["id"]] = block
    return out


def _calendar(
    name: str, items: Sequence[_Item], config: FeedConfig, blocks: bytes, *, public: bool
) -> bytes:
    zones = collections.Counter(item[2] for item in items)
    main_zone = zones.most_common(1)[0][0] if zones else ""
    head = _head(name, main_zone, tuple(sorted(zones)), config.refresh)
    if public:
        blocks = blocks.replace(MARKER, b"")
    return head + blocks + _END


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


async def rotate_token(*, org_id: uuid.UUID, email: str) -> None:
    """Give the person a new feed token (the old URL answers 404 from now on); only for
    people invited to the caller's events, anyone else is a 404."""
    rows = await Event.raw(
        f"UPDATE person p SET feed_token = {FEED_TOKEN_SQL}"  # noqa: S608 - constant SQL
        " WHERE p.email_key = lower({}) AND EXISTS (SELECT 1 FROM invitation i"
        " JOIN event e ON e.id = i.event WHERE i.person = p.id AND e.org = {})"
        " RETURNING p.id",
        email.strip(),
        org_id,
    )
    if not rows:
        raise NotFound("no person with this address was invited to your events")
