"""arq WorkerSettings: job functions, cron jobs, start-up and shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from datetime import UTC, datetime
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings

from events_svc.app import configure_database, start_database_pool
from events_svc.jobs import (
    DELIVER_WEBHOOK,
    EXTEND_REMINDERS,
    HEARTBEAT_EVERY,
    PING,
    RECLAIM_EVERY,
    SCHEDULE_REMINDERS,
    SEND_NOTIFICATION,
    SEND_NOTIFICATIONS,
    SWEEP_NOTIFICATIONS,
    SWEEP_WEBHOOKS,
    WORKERS_KEY,
    enqueue_notifications,
    forget_worker,
    heartbeat,
    live_workers,
    take_dead_workers,
)
from events_svc.mail.smtp import SmtpPool
from events_svc.notifications.service import due_queued, orphaned_claims, release_claims
from events_svc.piccolo_conf import DB
from events_svc.settings import Settings, get_settings
from events_svc.webhooks.service import http_client
from workers.notifications import (
    extend_reminder_horizon,
    schedule_reminders,
    send_notification,
    send_notifications,
    sweep_notifications,
)
from workers.webhooks import deliver_webhook, sweep_webhooks

log = logging.getLogger("workers.main")


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_database(settings)
    await start_database_pool(max_size=10)
    ctx["settings"] = settings
    ctx["smtp"] = SmtpPool(
        settings.smtp, size=settings.smtp_pool_size, timeout=settings.smtp_timeout
    )
    ctx["http"] = http_client(timeout=settings.webhook_timeout)
    # host:pid names a process; the random part tells a restarted worker from its
    # predecessor even where the pid repeats (pid 1 in a restarted container)
    ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    await heartbeat(ctx["redis"], ctx["worker_name"])
    await _recover_local_dead(ctx["redis"])
    ctx["heartbeat"] = asyncio.create_task(_beat(ctx["redis"], ctx["worker_name"]))
    ctx["reclaim"] = asyncio.create_task(_reclaim(ctx["redis"]))


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive
    return False


async def _recover_local_dead(redis: Any) -> None:
    """A worker that starts where another one was killed (the usual restart) recovers the
    dead one's work at once: a worker of this host whose process is gone cannot be sending,
    so there is no need to wait for its heartbeat to lapse."""
    host = socket.gethostname()
    dead = []
    for raw in await redis.zrange(WORKERS_KEY, 0, -1):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        parts = name.rsplit(":", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if int(parts[1]) != os.getpid() and _process_gone(int(parts[1])):
            if await redis.zrem(WORKERS_KEY, raw):
                dead.append(name)
    if dead:
        await release_claims(workers=dead)
        await _requeue_due(redis, dead, now=datetime.now(UTC))


async def _requeue_due(redis: Any, dead: list[str], *, now: datetime) -> None:
    """After workers died: jobs they had taken but not started stay locked in arq for their
    timeout while their rows are still queued, so every due queued row goes in again
    (claims are atomic: a row in two jobs is sent once)."""
    rows = await due_queued(now=now)
    count = await enqueue_notifications(
        redis, rows, at_due_time=True, sweep_slot=int(now.timestamp() // 10), batch=True
    )
    log.info("worker(s) %s died: %d due row(s) enqueued again", dead, count)


async def _beat(redis: Any, name: str) -> None:
    """While this worker lives, its rows in flight are its own; when it stops, others take
    them over within seconds instead of after the whole lease."""
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY)
        try:
            await heartbeat(redis, name)
        except Exception:  # noqa: BLE001 - Redis away for a moment: try again next beat
            log.warning("heartbeat failed", exc_info=True)


async def _reclaim(redis: Any) -> None:
    """Hand the rows of a dead worker to the queue again, each at its due time (so they go
    ahead of later work), within seconds of its last heartbeat."""
    while True:
        await asyncio.sleep(RECLAIM_EVERY)
        try:
            now = datetime.now(UTC)
            slot = int(now.timestamp() // 10)
            dead = await take_dead_workers(redis)
            if dead:
                await _requeue_due(redis, dead, now=now)
            rows = await orphaned_claims(now=now, live=await live_workers(redis))
            if rows:
                count = await enqueue_notifications(redis, rows, at_due_time=True, sweep_slot=slot)
                log.info("re-enqueued %d row(s) held by a worker that died", count)
        except Exception:  # noqa: BLE001 - database or Redis away for a moment: next round
            log.warning("reclaim failed", exc_info=True)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "reclaim" in ctx:
        ctx["reclaim"].cancel()
    if "heartbeat" in ctx:
        ctx["heartbeat"].cancel()
        await forget_worker(ctx["redis"], ctx["worker_name"])
    if "smtp" in ctx:
        await ctx["smtp"].close()
    if "http" in ctx:
        await ctx["http"].aclose()
    await DB.close_connection_pool()


async def ping(ctx: dict[str, Any]) -> str:
    """Answer from this worker; used to check the enqueue path end to end."""
    return f"pong from {ctx['worker_name']}"


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)


def functions() -> list[Any]:
    return [
        func(ping, name=PING),
        # no result is kept: the row is the record, and a finished job id is free at once
        func(send_notification, name=SEND_NOTIFICATION, keep_result=0, max_tries=1, timeout=120),
        func(send_notifications, name=SEND_NOTIFICATIONS, keep_result=0, max_tries=1, timeout=600),
        func(deliver_webhook, name=DELIVER_WEBHOOK, keep_result=0, max_tries=1, timeout=180),
    ]


def cron_jobs(settings: Settings) -> list[Any]:
    seconds = set(range(0, 60, settings.sweep_interval))
    return [
        cron(
            sweep_notifications,
            name=SWEEP_NOTIFICATIONS,
            second=seconds,
            unique=True,
            run_at_startup=True,
            keep_result=0,
        ),
        cron(
            schedule_reminders,
            name=SCHEDULE_REMINDERS,
            second=seconds,
            unique=True,
            run_at_startup=True,
            keep_result=0,
        ),
        cron(
            extend_reminder_horizon,
            name=EXTEND_REMINDERS,
            minute={7},
            second={30},
            unique=True,
            run_at_startup=True,
            keep_result=0,
            timeout=3600,
        ),
        cron(
            sweep_webhooks,
            name=SWEEP_WEBHOOKS,
            second=seconds,
            unique=True,
            run_at_startup=True,
            keep_result=0,
        ),
    ]


def worker_options(settings: Settings) -> dict[str, Any]:
    """Everything `arq.Worker` needs; used by `events-svc worker` and by the tests."""
    return {
        "functions": functions(),
        "cron_jobs": cron_jobs(settings),
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        # A batch job claims its rows when it starts, so a crash strands what the running jobs
        # hold (heartbeats hand it to another worker within seconds); 40 x BATCH_SIZE (10)
        # rows keep the SMTP connections busy (bench/fanout.py: 16 jobs x 25 rows was 40%
        # slower).
        "max_jobs": 40,
        # arq sleeps poll_delay between fetches even while jobs wait (default 0.5 s, which
        # caps a worker near max_jobs / 0.5 messages a second)
        "poll_delay": 0.05,
        "job_timeout": 120,
        "keep_result": 60,
        "health_check_interval": 10,
        # SIGTERM lets running jobs finish (arq's default cancels them, which can cut a message
        # between its acceptance by SMTP and its record: a duplicate after the restart)
        "job_completion_wait": settings.worker_stop_grace,
    }


class WorkerSettings:
    """For `arq workers.main.WorkerSettings`; `events-svc worker` uses `worker_options`."""

    functions = functions()
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 40
    job_timeout = 120
    health_check_interval = 10
    job_completion_wait = 60
