"""Console sessions: server-side records in Redis, named by a random cookie value.

Redis keys carry the SHA-256 of the cookie value, never the value itself, so a copy of Redis
(or its key listing) signs nobody in. A session ends when it was idle for `idle` seconds (the
key's TTL, renewed on use), `absolute` seconds after it began, on sign-out, or with every
other session of the organizer ("sign out everywhere", an organizer removed).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

PREFIX = "events-svc:console:session:"
BY_ORGANIZER = "events-svc:console:organizer-sessions:"


@dataclass(frozen=True, slots=True)
class Session:
    key: str  #: the Redis key (a hash of the cookie value)
    organizer_id: uuid.UUID
    org_id: uuid.UUID
    started: float  #: epoch seconds
    csrf: str  #: the token every form of this session carries


def _key(cookie: str) -> str:
    return PREFIX + hashlib.sha256(cookie.encode()).hexdigest()


async def start(
    redis: Any, *, organizer_id: uuid.UUID, org_id: uuid.UUID, idle: float, absolute: float
) -> str:
    """A new session; returns the cookie value (shown to the browser only)."""
    cookie = secrets.token_urlsafe(32)
    key = _key(cookie)
    record = {
        "organizer": str(organizer_id),
        "org": str(org_id),
        "started": time.time(),
        "csrf": secrets.token_urlsafe(24),
    }
    index = BY_ORGANIZER + str(organizer_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, json.dumps(record), ex=max(1, int(min(idle, absolute))))
        pipe.sadd(index, key)
        pipe.expire(index, max(1, int(absolute)))
        await pipe.execute()
    return cookie


async def load(redis: Any, cookie: str | None, *, idle: float, absolute: float) -> Session | None:
    """The live session of this cookie, its idle timer renewed; None when there is none."""
    if not cookie or len(cookie) > 100:
        return None
    key = _key(cookie)
    # read and renew the idle timer in one round trip (GETEX); near the absolute end the
    # TTL is cut to what is left
    raw = await redis.getex(key, ex=max(1, int(idle)))
    if raw is None:
        return None
    record = json.loads(raw)
    left = record["started"] + absolute - time.time()
    if left <= 0:
        await redis.delete(key)
        return None
    if left < idle:
        await redis.expire(key, max(1, int(left)))
    return Session(
        key=key,
        organizer_id=uuid.UUID(record["organizer"]),
        org_id=uuid.UUID(record["org"]),
        started=record["started"],
        csrf=record["csrf"],
    )


async def end(redis: Any, session: Session) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(session.key)
        pipe.srem(BY_ORGANIZER + str(session.organizer_id), session.key)
        await pipe.execute()


async def end_all(redis: Any, *, organizer_id: uuid.UUID) -> int:
    """End every session of the organizer; returns how many were live."""
    index = BY_ORGANIZER + str(organizer_id)
    keys = [k.decode() if isinstance(k, bytes) else k for k in await redis.smembers(index)]
    ended = int(await redis.delete(*keys)) if keys else 0
    await redis.delete(index)
    return ended
