"""Job names and enqueue helpers: the only place arq job ids are made.

`events_svc` never imports `workers`; it enqueues by these names.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms

log = logging.getLogger("events_svc.jobs")

#: answers "pong" from a worker: proves the API -> Redis -> worker path end to end
PING = "ping"
#: send one notification row: `send_notification(notification_id)`
SEND_NOTIFICATION = "send_notification"
#: send several rows claimed together: `send_notifications([notification_id, ...])`
SEND_NOTIFICATIONS = "send_notifications"
#: rows per batch job: each job costs about eight Redis round trips (arq's fetch, lock, read,
#: finish) and one claim, so a fan-out pays them once per 40 messages; a worker takes only
#: as many of these jobs as it can send soon (sender.flight.Flight.take_limit), so a second
#: worker finds the rest in the queue
BATCH_SIZE = 40
#: cron: re-enqueue notification rows still queued (Redis lost them, or a crash lost the enqueue)
SWEEP_NOTIFICATIONS = "sweep_notifications"
#: cron: plan reminder rows for occurrences that came within the planning horizon
EXTEND_REMINDERS = "extend_reminder_horizon"
#: POST one webhook delivery row: `deliver_webhook(delivery_id)`
DELIVER_WEBHOOK = "deliver_webhook"
#: cron: re-enqueue webhook deliveries still queued (Redis lost them) or held by a dead worker
SWEEP_WEBHOOKS = "sweep_webhooks"
#: send one side-mail row (a sign-in link, a registration's confirmation): `send_side_mail(id)`
SEND_SIDE_MAIL = "send_side_mail"
#: cron: re-enqueue side-mail rows still queued (Redis lost them, or a crash the enqueue),
#: and expire registrations nobody confirmed in time
SWEEP_SIDE_MAIL = "sweep_side_mail"


def redis_settings(url: str) -> RedisSettings:
    """arq's settings for REDIS_URL; a rediss:// URL checks the server's certificate and name
    (arq checks no name by default), against `?ssl_ca_certs=/path/ca.pem` when given."""
    settings = RedisSettings.from_dsn(url.split("?", 1)[0] if url.startswith("rediss") else url)
    if settings.ssl:
        query = parse_qs(urlsplit(url).query)
        settings.ssl_ca_certs = query.get("ssl_ca_certs", [None])[-1]
        settings.ssl_check_hostname = True
        if "db" in query:
            settings.database = int(query["db"][-1])
    return settings


async def redis_pool(url: str, *, command_timeout: float) -> ArqRedis:
    """An arq Redis pool whose every connection has connect and command timeouts (arq sets
    only the connect one), so a frozen or vanished Redis fails fast instead of hanging."""
    settings = redis_settings(url)
    settings.conn_timeout = max(1, round(command_timeout))
    settings.conn_retries = 2
    pool = await create_pool(settings)
    pool.connection_pool.connection_kwargs["socket_timeout"] = command_timeout
    pool.connection_pool.connection_kwargs["socket_connect_timeout"] = command_timeout
    await pool.connection_pool.disconnect()  # the connection made before the timeout was set
    return pool


def notification_job_id(key: str, attempts: int, sweep_slot: int | None = None) -> str:
    """One job per (row, attempt): enqueueing twice runs once; a retry gets a new id.

    The sweep adds its time slot: a job that a dead worker left "in progress" in Redis keeps
    its id blocked for minutes, so a re-enqueue must not depend on that id. Running a row
    twice is safe (the database claim lets one through); the ids only spare the work.
    """
    job_id = f"notify:{key}:a{attempts}"
    return job_id if sweep_slot is None else f"{job_id}:s{sweep_slot}"


# arq's enqueue_job, for many jobs in one round trip: the same keys, serialization and
# "a job id already queued or finished is not enqueued again" rule, checked atomically in
# Redis per job instead of with WATCH/MULTI (three round trips a job).
_ENQUEUE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""
_BATCH = 500


async def enqueue_many(
    redis: ArqRedis,
    function: str,
    jobs: Sequence[tuple[str, tuple[Any, ...], datetime | None]],
) -> int:
    """Enqueue `function` once per (job id, args, run-at or None for now); returns how many
    were new to the queue."""
    added = 0
    for start in range(0, len(jobs), _BATCH):
        enqueue_ms = timestamp_ms()
        async with redis.pipeline(transaction=False) as pipe:
            for job_id, args, run_at in jobs[start : start + _BATCH]:
                score = to_unix_ms(run_at) if run_at is not None else enqueue_ms
                expires_ms = max(score - enqueue_ms, 0) + redis.expires_extra_ms
                data = serialize_job(
                    function, args, {}, None, enqueue_ms, serializer=redis.job_serializer
                )
                keys_and_args: list[Any] = [
                    job_key_prefix + job_id,
                    result_key_prefix + job_id,
                    redis.default_queue_name,
                    expires_ms,
                    data,
                    score,
                    job_id,
                ]
                pipe.eval(_ENQUEUE_LUA, 3, *keys_and_args)
            added += sum(int(r) for r in await pipe.execute())
    return added


async def enqueue_notifications(
    queue: ArqRedis | None,
    rows: Iterable[dict[str, Any]],
    *,
    defer_until: datetime | None = None,
    sweep_slot: int | None = None,
    at_due_time: bool = False,
    batch: bool = False,
) -> int:
    """Enqueue `send_notification` for rows with `id`, `key` and `attempts` (and
    `next_attempt_at` with `at_due_time`, to run each exactly when due); returns how many were
    new to the queue (a job id already there is not enqueued twice).

    Runs after commit. Redis being down is not an error here: the rows are committed and the
    worker's sweep will enqueue them.
    """
    if queue is None:
        return 0
    if batch:
        return await _enqueue_batches(
            queue, list(rows), at_due_time=at_due_time, sweep_slot=sweep_slot
        )
    count = 0
    jobs = [
        (
            notification_job_id(row["key"], row["attempts"], sweep_slot),
            (str(row["id"]),),
            row["next_attempt_at"] if at_due_time else defer_until,
        )
        for row in rows
    ]
    try:
        count = await enqueue_many(queue, SEND_NOTIFICATION, jobs)
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("enqueue failed; the sweep will pick the jobs up: %s", exc)
    return count


async def _enqueue_batches(
    queue: ArqRedis, rows: list[dict[str, Any]], *, at_due_time: bool, sweep_slot: int | None
) -> int:
    """One `send_notifications` job per BATCH_SIZE rows (rows due at the same second, for
    `at_due_time`), each deferred to the latest due time in it. A batch's id derives from
    its rows (and the recovery slot), so the same rows enqueued twice run once."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        second = int(row["next_attempt_at"].timestamp()) if at_due_time else 0
        groups.setdefault(second, []).append(row)
    jobs: list[tuple[str, tuple[Any, ...], datetime | None]] = []
    for group in groups.values():
        for start in range(0, len(group), BATCH_SIZE):
            chunk = group[start : start + BATCH_SIZE]
            run_at = max(r["next_attempt_at"] for r in chunk) if at_due_time else None
            # the due time is part of the id: a reminder moved after its job was queued (a
            # look-ahead of minutes) gets a job at its new time, not the old one's no-op
            digest = hashlib.sha1(  # noqa: S324 - an id, not a secret
                "|".join(f"{r['key']}:{r['attempts']}" for r in chunk).encode()
                + (b"" if sweep_slot is None else f"#{sweep_slot}".encode())
                + (b"" if run_at is None else f"@{run_at.timestamp()}".encode())
            ).hexdigest()
            jobs.append((f"notify-batch:{digest}", ([str(r["id"]) for r in chunk],), run_at))
    try:
        return await enqueue_many(queue, SEND_NOTIFICATIONS, jobs)
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("enqueue failed; the sweep will pick the jobs up: %s", exc)
        return 0


def row_job_id(prefix: str, row_id: object, attempts: int, sweep_slot: int | None = None) -> str:
    """One job per (row, attempt) of a table whose row id is the job's key; a sweep's
    re-enqueue adds its slot, so a job id Redis still remembers does not swallow it."""
    job_id = f"{prefix}:{row_id}:a{attempts}"
    return job_id if sweep_slot is None else f"{job_id}:s{sweep_slot}"


def webhook_job_id(delivery_id: object, attempts: int, sweep_slot: int | None = None) -> str:
    """One job per (delivery, attempt), like `notification_job_id`: the row id is its key."""
    return row_job_id("webhook", delivery_id, attempts, sweep_slot)


async def _enqueue_rows(
    queue: ArqRedis | None,
    function: str,
    prefix: str,
    rows: Iterable[dict[str, Any]],
    *,
    defer_until: datetime | None,
    sweep_slot: int | None,
) -> int:
    """Enqueue `function(row id)` for rows with `id` and `attempts`, after commit; returns
    how many were new to the queue. Redis being down is left to the sweep."""
    jobs = [
        (row_job_id(prefix, row["id"], row["attempts"], sweep_slot), (str(row["id"]),), defer_until)
        for row in rows
    ]
    if queue is None or not jobs:
        return 0
    try:
        return await enqueue_many(queue, function, jobs)
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("enqueue failed; the sweep will pick the jobs up: %s", exc)
        return 0


async def enqueue_webhooks(
    queue: ArqRedis | None,
    rows: Iterable[dict[str, Any]],
    *,
    defer_until: datetime | None = None,
    sweep_slot: int | None = None,
) -> int:
    """Enqueue `deliver_webhook` for rows with `id` and `attempts` (what `emit` returns)."""
    return await _enqueue_rows(
        queue, DELIVER_WEBHOOK, "webhook", rows, defer_until=defer_until, sweep_slot=sweep_slot
    )


async def enqueue_side_mail(
    queue: ArqRedis | None,
    rows: Iterable[dict[str, Any]],
    *,
    sweep_slot: int | None = None,
    defer_until: datetime | None = None,
) -> int:
    """Enqueue `send_side_mail` for side-mail rows with `id` and `attempts`."""
    return await _enqueue_rows(
        queue, SEND_SIDE_MAIL, "side-mail", rows, defer_until=defer_until, sweep_slot=sweep_slot
    )


# --- worker heartbeats ---------------------------------------------------------------------
#: sorted set: worker name -> the instant (epoch seconds) its heartbeat expires
WORKERS_KEY = "events-svc:workers"
HEARTBEAT_EVERY = 1.0  # seconds
HEARTBEAT_TTL = 4.0  # a worker silent this long is taken for dead
#: a claim is orphaned once its worker is dead and the claim is older than this (so a Redis
#: flush, which forgets every heartbeat for a moment, orphans nothing: beats return in 1 s)
ORPHAN_AFTER = 6.0
#: how often each worker looks for rows a dead worker held (outside the arq queue, which a
#: backlog would make wait)
RECLAIM_EVERY = 2.0


#: hash: worker name -> the instant (epoch seconds) of its last heartbeat, for the operator
#: (`/metrics`, `/healthz/workers`); kept after a death, so the age rises; a day later it goes
BEATS_KEY = "events-svc:worker-beats"


async def heartbeat(redis: ArqRedis, name: str) -> None:
    # expired entries stay until `take_dead_workers` claims them: a death must be noticed
    now = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(WORKERS_KEY, {name: now + HEARTBEAT_TTL})
        pipe.hset(BEATS_KEY, name, str(now))
        await pipe.execute()


async def take_dead_workers(redis: ArqRedis) -> list[str]:
    """Workers whose heartbeat lapsed; each is returned to one caller only (who then
    recovers what it held). A worker that stopped cleanly has removed itself."""
    names = await redis.zrangebyscore(WORKERS_KEY, "-inf", time.time())
    taken = []
    for raw in names:
        if await redis.zrem(WORKERS_KEY, raw):
            taken.append(raw.decode() if isinstance(raw, bytes) else str(raw))
    return taken


async def live_workers(redis: ArqRedis) -> list[str] | None:
    """Workers whose heartbeat holds; None when Redis cannot say (then only the lease counts,
    and nobody is taken for dead)."""
    try:
        names = await redis.zrangebyscore(WORKERS_KEY, time.time(), "+inf")
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("cannot read worker heartbeats: %s", exc)
        return None
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


async def due_backlog(redis: ArqRedis) -> int:
    """Jobs in the queue that are due now (not yet started); 0 when Redis cannot say."""
    try:
        count = await redis.zcount(redis.default_queue_name, 0, timestamp_ms())
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("cannot read the queue's backlog: %s", exc)
        return 0
    return int(count)


async def forget_worker(redis: ArqRedis, name: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(WORKERS_KEY, name)
        pipe.hdel(BEATS_KEY, name)
        await pipe.execute()


#: the longest wait between two attempts of an outbox row (a message or a webhook delivery)
MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int, first: float) -> timedelta:
    """first, 2 x first, 4 x first, ... capped at an hour."""
    return min(timedelta(seconds=first * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
