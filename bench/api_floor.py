"""The floor of `bench/api.py`: the same stack as the service (Litestar + asyncpg in one uvicorn
process, a pool of DB_POOL_SIZE connections reset the same cheap way) doing only the round trips
an authenticated request cannot avoid.

    GET  /events/{id}  look the API key up by its prefix (one query), check its hash, read the
                       event row of the key's organization (one query), answer it as JSON
    POST /events       look the key up, insert one event row from the JSON body, answer it

No validation, no audit entry, no metrics, no logging: what is left is the framework, the
driver and PostgreSQL. Served by `bench/api.py` as `uvicorn api_floor:app` with DATABASE_URL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar, Request, get, post
from litestar.exceptions import NotAuthorizedException, NotFoundException

_KEY_RE = re.compile(r"^Bearer evs_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_KEY_SQL = (
    "SELECT k.key_hash, k.revoked_at, o.id AS org_id, o.slug FROM api_key k"
    " JOIN organization o ON o.id = k.org WHERE k.prefix = $1"
)
_EVENT_SQL = (
    "SELECT id, uid, sequence, kind, title, description, location, online_url, starts_at,"
    " ends_at, timezone, starts_at_utc, ends_at_utc, status, visibility, created_at, updated_at"
    " FROM event WHERE id = $1 AND org = $2"
)
_INSERT_SQL = (
    "INSERT INTO event (id, org, uid, sequence, kind, title, description, location, online_url,"
    " starts_at, ends_at, timezone, starts_at_utc, ends_at_utc, status, visibility,"
    " completion_threshold, cohosts, visiting, registration, created_at, updated_at)"
    " VALUES ($1, $2, $3, 0, $4, $5, $6, $7, '', $8, $9, $10, $11, $12, 'scheduled', 'public',"
    " 0.8, '{}', '{}', 'closed', $13, $13)"
)

pool: asyncpg.Pool | None = None


async def _reset(conn: asyncpg.Connection) -> None:
    """As the service's pool (`events_svc.database`): no RESET ALL round trip per release."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=1,
        max_size=int(os.environ.get("DB_POOL_SIZE", "20")),
        reset=_reset,
    )
    try:
        yield
    finally:
        await pool.close()


async def _caller(request: Request[Any, Any, Any]) -> asyncpg.Record:
    found = _KEY_RE.match(request.headers.get("authorization", ""))
    if found is None or pool is None:
        raise NotAuthorizedException()
    row = await pool.fetchrow(_KEY_SQL, found.group(1))
    token = request.headers["authorization"][7:]
    digest = hashlib.sha256(token.encode()).hexdigest()
    if row is None or not hmac.compare_digest(digest, row["key_hash"]) or row["revoked_at"]:
        raise NotAuthorizedException()
    return row


@get("/events/{event_id:uuid}")
async def fetch(request: Request[Any, Any, Any], event_id: uuid.UUID) -> dict[str, Any]:
    caller = await _caller(request)
    assert pool is not None
    row = await pool.fetchrow(_EVENT_SQL, event_id, caller["org_id"])
    if row is None:
        raise NotFoundException()
    return {**dict(row), "organization": caller["slug"]}


@post("/events", status_code=201)
async def create(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, Any]:
    caller = await _caller(request)
    assert pool is not None
    zone = ZoneInfo(data["timezone"])
    starts = datetime.fromisoformat(data["starts_at"])
    ends = datetime.fromisoformat(data["ends_at"])
    now = datetime.now(UTC)
    event_id = uuid.uuid4()
    uid = f"{event_id}@bench.example.org"
    await pool.execute(
        _INSERT_SQL,
        event_id,
        caller["org_id"],
        uid,
        data["kind"],
        data["title"],
        data.get("description", ""),
        data.get("location", ""),
        starts,
        ends,
        data["timezone"],
        starts.replace(tzinfo=zone).astimezone(UTC),
        ends.replace(tzinfo=zone).astimezone(UTC),
        now,
    )
    return {"id": str(event_id), "uid": uid, "organization": caller["slug"], **data}


app = Litestar([fetch, create], lifespan=[lifespan])
