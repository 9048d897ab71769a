"""The send-rate hook of the sender (SEND_RATE_*; the bucket and its design are in
`events_svc.sendrate`): before a job claims its rows it takes tokens for them, per
organization, and gives the rows it got none for back as a job deferred to the slot the
bucket reserved. Only the granted rows are claimed, so none waits claimed for tokens and a
capped organization never holds up another's rows. Called only when a cap is set."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc import sendrate
from events_svc.jobs import ORPHAN_AFTER, SEND_NOTIFICATIONS, enqueue_many
from events_svc.notifications.tables import Notification
from events_svc.settings import Settings

log = logging.getLogger("events_svc.notifications.rate")

#: rows a job may still send: queued and due, or held by a claim that looks abandoned (the
#: claim decides; this only keeps tokens from rows that surely cannot be claimed)
_PENDING = (
    "SELECT n.id, n.key, n.attempts, e.org FROM notification n JOIN event e ON e.id = n.event"
    " WHERE n.id = ANY({}::uuid[]) AND ((n.status = 'queued' AND n.next_attempt_at <= {})"
    " OR (n.status = 'sending' AND n.claimed_at < {}))"
)


#: row id -> the id of the deferred job that holds the row's place in the bucket's queue
HELD_PREFIX = sendrate.PREFIX + "held:"
#: a hold outlives its slot by this much (a worker running late still finds it)
HOLD_SLACK = 300


async def admit(
    redis: Any, settings: Settings, notification_ids: Sequence[uuid.UUID], *, job_id: str = ""
) -> list[uuid.UUID]:
    """The ids to claim now: those the send rate has tokens for. The others are enqueued
    again, deferred to when their tokens will be there, and marked as held by that job.

    A row can be in several jobs (the sweep, the recovery after a Redis loss or a dead
    worker enqueue copies): a row held by another deferred job is left to it, so copies
    neither take tokens nor push the organization's queue further out. Rows no longer
    pending are dropped (the claim would not take them either). Redis away: every pending
    id goes through (see `events_svc.sendrate`)."""
    now = datetime.now(UTC)
    rows = await Notification.raw(
        _PENDING, list(notification_ids), now, now - timedelta(seconds=ORPHAN_AFTER)
    )
    if not rows:
        return []
    order = {ident: i for i, ident in enumerate(notification_ids)}
    rows = sorted(rows, key=lambda r: order.get(r["id"], 0))
    try:
        holders = await redis.mget([HELD_PREFIX + str(r["id"]) for r in rows])
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("send rate: Redis unavailable, sending without the cap: %s", exc)
        return [r["id"] for r in rows]
    mine = job_id.encode()
    by_org: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row, holder in zip(rows, holders, strict=True):
        if holder is None or holder == mine:
            by_org.setdefault(row["org"], []).append(row)
    admitted: list[uuid.UUID] = []
    later: list[tuple[str, tuple[Any, ...], datetime | None]] = []
    holds: dict[str, tuple[str, float]] = {}
    for org, org_rows in by_org.items():
        try:
            grant = await sendrate.take(redis, settings, org, len(org_rows))
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("send rate: Redis unavailable, sending without the cap: %s", exc)
            admitted += [r["id"] for r in org_rows]
            continue
        admitted += [r["id"] for r in org_rows[: grant.granted]]
        rest = org_rows[grant.granted :]
        for chunk, wait in _paced(rest, grant, settings):
            run_at = now + timedelta(seconds=wait)
            digest = hashlib.sha1(  # noqa: S324 - an id, not a secret
                "|".join(f"{r['key']}:{r['attempts']}" for r in chunk).encode()
                + f"#{int(run_at.timestamp() * 1000)}".encode()
            ).hexdigest()
            later_id = f"notify-paced:{digest}"
            later.append((later_id, ([str(r["id"]) for r in chunk],), run_at))
            for r in chunk:
                holds[HELD_PREFIX + str(r["id"])] = (later_id, wait + HOLD_SLACK)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            # the rows going now hold nothing any more (a retry of one must not be dropped)
            for ident in admitted:
                pipe.delete(HELD_PREFIX + str(ident))
            for key, (holder_id, ttl) in holds.items():
                pipe.set(key, holder_id, ex=max(1, int(ttl)))
            await pipe.execute()
        if later:
            await enqueue_many(redis, SEND_NOTIFICATIONS, later)
    except Exception as exc:  # noqa: BLE001 - see above
        # the rows stay queued in PostgreSQL: the sweep enqueues them again
        log.warning("send rate: deferring failed; the sweep will pick the rows up: %s", exc)
    return admitted


def _paced(
    rest: list[dict[str, Any]], grant: sendrate.Grant, settings: Settings
) -> list[tuple[list[dict[str, Any]], float]]:
    """The rows without tokens as deferred jobs of at most one burst each, the last at the
    reserved slot and each earlier one as much sooner as its followers' tokens take to come.
    (One job for all of them would find at its slot no more than a burst's worth of tokens
    — the bucket holds no more — and send a burst per slot: a 40-row batch under a 40/s cap
    with a burst of 10 went out at 17/s.)"""
    if not rest:
        return []
    rate = settings.send_rate_per_second
    if rate <= 0:  # only an hour or day cap: the window's start, all at once
        return [(rest, grant.wait)]
    size = max(1, sendrate.burst(settings) // max(1, grant.active))
    out = []
    for start in range(0, len(rest), size):
        chunk = rest[start : start + size]
        behind = len(rest) - start - len(chunk)
        out.append((chunk, max(0.0, grant.wait - behind / rate)))
    return out


async def unheld(redis: Any, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows no deferred job holds: what the sweep should enqueue under a cap (the rest
    waits in the queue for its slot). Redis away: all of them."""
    if not rows:
        return []
    try:
        holders = await redis.mget([HELD_PREFIX + str(r["id"]) for r in rows])
    except Exception:  # noqa: BLE001 - OSError or one of redis' own error classes
        return list(rows)
    return [r for r, holder in zip(rows, holders, strict=True) if holder is None]
