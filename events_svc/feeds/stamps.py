"""Feed validators: the ETag and Last-Modified of a feed, from a cheap query (remembered for
a moment), so an unchanged feed answers 304 without rendering."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from events_svc.calendar.ics import (
    PRODID,
)
from events_svc.errors import NotFound
from events_svc.events.tables import Event
from events_svc.feeds.model import (
    _TOKEN_RE,
    _WINDOW,
    CANCELLED_KEPT,
    FEED_PAST,
    FORMAT,
    FeedConfig,
    Stamp,
    _etag,
)

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
