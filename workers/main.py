"""arq WorkerSettings: job functions, cron jobs, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import time
from datetime import UTC, datetime
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker

from events_svc.database import configure_database, start_database_pool
from events_svc.heap import settle_heap
from events_svc.jobs import (
    BATCH_SIZE,
    DELIVER_WEBHOOK,
    EXTEND_REMINDERS,
    HEARTBEAT_EVERY,
    PING,
    RECLAIM_EVERY,
    SEND_NOTIFICATION,
    SEND_NOTIFICATIONS,
    SEND_SIDE_MAIL,
    SWEEP_NOTIFICATIONS,
    SWEEP_SIDE_MAIL,
    SWEEP_WEBHOOKS,
    WORKERS_KEY,
    enqueue_notifications,
    enqueue_webhooks,
    forget_worker,
    heartbeat,
    live_workers,
    redis_pool,
    take_dead_workers,
)
from events_svc.outages import database_unavailable, redis_unavailable, unavailable
from events_svc.piccolo_conf import DB
from events_svc.sender.claims import (
    due_queued,
    orphaned_claims,
    release_claims,
    retry_now,
)
from events_svc.sender.flight import Flight
from events_svc.sender.smtp import SmtpPool
from events_svc.settings import Settings, get_settings
from events_svc.webhooks.service import http_client
from workers import ops
from workers.notifications import (
    extend_reminder_horizon,
    prepare_reminder_codes,
    schedule_reminders,
    send_notification,
    send_notifications,
    sweep_notifications,
)
from workers.side_mail import send_side_mail, sweep_side_mail
from workers.webhooks import deliver_webhook, sweep_webhooks

log = logging.getLogger("workers.main")

#: how often a worker whose SMTP server fails tries a few held-back rows again (seconds)
SMTP_PROBE_EVERY = 2.0
#: a worker's statement timeout (seconds); the API uses DB_TIMEOUT_SECONDS
WORKER_STATEMENT_TIMEOUT = 30.0
#: seconds a stopping worker spends writing outcomes it kept while the database was away
SHUTDOWN_FLUSH = 10.0


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_database(settings)
    # statements get more time than the API's: a worker can wait out a slow moment, and its
    # sweeps and reminder planning touch many rows
    await start_database_pool(
        max_size=settings.worker_db_pool_size,
        connect_timeout=settings.db_timeout,
        command_timeout=WORKER_STATEMENT_TIMEOUT,
    )
    ctx["settings"] = settings
    ctx["smtp"] = SmtpPool(
        settings.smtp, size=settings.smtp_pool_size, timeout=settings.smtp_timeout
    )
    ctx["http"] = http_client(timeout=settings.webhook_timeout)
    # host:pid names a process; the random part tells a restarted worker from its
    # predecessor even where the pid repeats (pid 1 in a restarted container)
    ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    ctx["flight"] = Flight(connections=settings.smtp_pool_size, lease=settings.send_lease)
    await heartbeat(ctx["redis"], ctx["worker_name"])
    await _recover_local_dead(ctx["redis"])
    # a worker that starts on an emptied Redis (its start was retried while Redis restarted,
    # or no worker ran then) queues the due rows again too, not only one already running
    await _requeue_if_forgotten(ctx["redis"], now=datetime.now(UTC))
    ctx["heartbeat"] = asyncio.create_task(_beat(ctx["redis"], ctx["worker_name"]))
    ctx["leases"] = asyncio.create_task(_renew_leases(ctx["redis"], ctx["flight"]))
    ctx["reclaim"] = asyncio.create_task(_reclaim(ctx["redis"]))
    ctx["reminders"] = asyncio.create_task(_reminders(ctx))
    ctx["smtp_watch"] = asyncio.create_task(
        _watch_smtp(ctx["redis"], ctx["smtp"], settings.smtp_pool_size)
    )
    settle_heap()


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
        await _requeue_due(redis, f"worker(s) {dead} died", now=datetime.now(UTC))


async def _requeue_due(redis: Any, reason: str, *, now: datetime) -> None:
    """Every due queued row goes into the queue again, now rather than after the sweep's
    grace: after workers died (jobs they had taken stay locked in arq for their timeout
    while their rows still say queued), after Redis lost its queue, after the database was
    away. Claims are atomic: a row in two jobs is sent once."""
    rows = await due_queued(now=now)
    count = await enqueue_notifications(
        redis, rows, at_due_time=True, sweep_slot=int(now.timestamp() // 10), batch=True
    )
    log.info("%s: %d due row(s) enqueued again", reason, count)


async def _beat(redis: Any, name: str) -> None:
    """While this worker lives, its rows in flight are its own; when it stops, others take
    them over within seconds instead of after the whole lease."""
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY)
        try:
            await heartbeat(redis, name)
        except Exception:  # noqa: BLE001 - Redis away for a moment: try again next beat
            log.warning("heartbeat failed", exc_info=True)


async def _renew_leases(redis: Any, flight: Flight) -> None:
    """With each heartbeat, in the database: outcomes kept while it was away are written
    (before anyone could take those rows over), then the lease of every row this worker
    still works on is renewed."""
    away = False
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY)
        try:
            if flight.pending:
                hooks = await flight.flush()
                await enqueue_webhooks(redis, hooks)
            await flight.renew()
            if away:
                # jobs that gave up and rows handed back meanwhile: all due rows go now
                away = False
                await _requeue_due(redis, "the database is back", now=datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - the database away: kept for the next beat
            away = away or database_unavailable(exc)
            log.warning("renewing leases failed: %s", exc)


async def _watch_smtp(redis: Any, smtp: SmtpPool, connections: int) -> None:
    """While the SMTP server fails, a few held-back rows are tried again every few seconds
    (rather than each after its own growing backoff); once one is accepted, every row held
    back goes at once, so a relay that was away for a minute costs a minute, not an hour."""
    while True:
        await asyncio.sleep(SMTP_PROBE_EVERY)
        try:
            now = datetime.now(UTC)
            if smtp.take_recovery():
                state, rows = "back", await retry_now(now=now, limit=100_000)
            elif smtp.failing:
                state, rows = "failing", await retry_now(now=now, limit=connections)
            else:
                continue
            if rows:
                # a slot of its own: the rows' later jobs (at their backoff) stay queued too
                slot = int(time.time() * 1000)
                count = await enqueue_notifications(redis, rows, sweep_slot=slot, batch=True)
                log.info("SMTP %s: %d held-back row(s) tried now", state, count)
        except Exception as exc:  # noqa: BLE001 - database or Redis away: next round
            log.warning("SMTP watch failed: %s", exc)


#: a key that only an emptied Redis lacks (FLUSHALL, or a restart without persistence)
REDIS_MEMORY_KEY = "events-svc:memory"


async def _remember_redis(redis: Any) -> bool:
    """Whether Redis had lost its memory (every queued job with it); marks it again."""
    return bool(await redis.set(REDIS_MEMORY_KEY, "1", nx=True))


async def _requeue_if_forgotten(redis: Any, *, now: datetime) -> None:
    """When Redis lost its memory, every due row is queued again, and only then is Redis
    marked: a round that failed half-way (Redis or the database still waking up) is tried
    again by the next one instead of leaving the rows to the sweep's grace."""
    if not await redis.exists(REDIS_MEMORY_KEY):
        await _requeue_due(redis, "Redis lost its queue", now=now)
        await _remember_redis(redis)


async def _reminders(ctx: dict[str, Any]) -> None:
    """Every sweep interval, outside the arq queue (a cron job waits behind a backlog, and ran
    minutes late after a large fan-out, past its reminders' due time): enqueue the reminders
    falling due soon, deferred to their instants, then render the check-in codes of those
    falling due within the hour. Every worker does it; job ids and a lock keep it once."""
    settings: Settings = ctx["settings"]
    while True:
        for step in (schedule_reminders, prepare_reminder_codes):
            try:
                await step(ctx)
            except Exception as exc:  # noqa: BLE001 - database or Redis away: next round
                log.warning("%s failed: %s", step.__name__, exc)
        await asyncio.sleep(settings.sweep_interval)


async def _reclaim(redis: Any) -> None:
    """Hand the rows of a dead worker to the queue again, each at its due time (so they go
    ahead of later work), within seconds of its last heartbeat; and every due row at once
    when Redis comes back empty, instead of waiting for the sweep's grace."""
    while True:
        await asyncio.sleep(RECLAIM_EVERY)
        try:
            now = datetime.now(UTC)
            slot = int(now.timestamp() // 10)
            await _requeue_if_forgotten(redis, now=now)
            dead = await take_dead_workers(redis)
            if dead:
                await _requeue_due(redis, f"worker(s) {dead} died", now=now)
            live = await live_workers(redis)
            rows = [] if live is None else await orphaned_claims(now=now, live=live)
            if rows:
                count = await enqueue_notifications(redis, rows, at_due_time=True, sweep_slot=slot)
                log.info("re-enqueued %d row(s) held by a worker that died", count)
        except Exception as exc:  # noqa: BLE001 - database or Redis away for a moment: next round
            log.warning("reclaim failed: %s", exc)


async def shutdown(ctx: dict[str, Any]) -> None:
    for task in ("reminders", "smtp_watch", "reclaim", "leases", "heartbeat"):
        if task in ctx:
            ctx[task].cancel()
    flight: Flight | None = ctx.get("flight")
    if flight is not None and flight.pending:
        # outcomes kept while the database was away: a last chance to write them
        with contextlib.suppress(Exception):
            await asyncio.wait_for(flight.flush(), SHUTDOWN_FLUSH)
        if flight.pending:
            log.error("%d outcome(s) could not be recorded before stopping", len(flight.pending))
    if "heartbeat" in ctx:
        with contextlib.suppress(Exception):
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
        func(send_side_mail, name=SEND_SIDE_MAIL, keep_result=0, max_tries=1, timeout=120),
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
            extend_reminder_horizon,
            name=EXTEND_REMINDERS,
            minute={7},
            second={30},
            unique=True,
            run_at_startup=True,
            keep_result=0,
            timeout=3600,
        ),
        *ops.cron_jobs(),
        cron(
            sweep_side_mail,
            name=SWEEP_SIDE_MAIL,
            second=seconds,
            unique=True,
            run_at_startup=True,
            keep_result=0,
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
        "on_job_start": ops.bind_job,
        # A batch job claims its rows when it starts, so a crash strands what the running jobs
        # hold (heartbeats hand it to another worker within seconds); 40 x BATCH_SIZE (10)
        # rows keep the SMTP connections busy (bench/fanout.py: 16 jobs x 25 rows was 40%
        # slower).
        "max_jobs": 40,
        # arq sleeps poll_delay between fetches even while jobs wait (default 0.5 s, which
        # caps a worker near max_jobs / 0.5 messages a second)
        "poll_delay": 0.05,
        # ids read per poll (arq's default: 200); a worker takes only the send jobs it can
        # send soon (ResilientWorker.start_jobs), and reads the queue again 20 times a second
        "queue_read_limit": 50,
        "job_timeout": 120,
        "keep_result": 60,
        "health_check_interval": 10,
        # SIGTERM lets running jobs finish (arq's default cancels them, which can cut a message
        # between its acceptance by SMTP and its record: a duplicate after the restart)
        "job_completion_wait": settings.worker_stop_grace,
    }


def _send_rows(job_id: str) -> int:
    """Rows a send job holds at most, from its id (jobs.notification_job_id and the batch
    ids of jobs._enqueue_batches); 0 for any other job."""
    if job_id.startswith("notify-batch:"):
        return BATCH_SIZE
    if job_id.startswith("notify:"):
        return 1
    return 0


class ResilientWorker(Worker):
    """arq's Worker, made to outlive Redis going away (a restart, a failover, a dropped
    connection): its poll loop logs, backs off and carries on instead of letting the error
    end the process, and it stops cleanly even while Redis is away."""

    _failures = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: running send jobs (job id -> rows at most): what this worker has taken to send
        self._sending: dict[str, int] = {}

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        flight: Flight | None = self.ctx.get("flight")
        for raw in job_ids:
            job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            if job_id in self.tasks:
                # running here: it stays in the queue until it ends, and arq would spend three
                # Redis round trips on each poll to find that out
                continue
            rows = _send_rows(job_id)
            if rows and flight is not None and self._taken_rows() + rows > flight.take_limit():
                # Enough to send for now: the job stays in the queue, for another worker or
                # this one's next poll, instead of waiting here while another worker idles.
                # (A worker with nothing taken always takes one.)
                if self._sending:
                    continue
            try:
                await super().start_jobs([raw])
            except Exception:
                # arq took a job slot before the Redis round trip that failed: give it back,
                # or a few outages would leave the worker with no slot at all
                self.job_counter -= 1
                self.sem.release()
                raise
            if rows and job_id in self.tasks:
                self._sending[job_id] = rows

    def _taken_rows(self) -> int:
        for job_id in [j for j in self._sending if j not in self.tasks or self.tasks[j].done()]:
            del self._sending[job_id]
        return sum(self._sending.values())

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except Exception as exc:  # noqa: BLE001 - nothing may end the worker's loop
            self._failures += 1
            delay = min(0.1 * 2 ** min(self._failures - 1, 5), 2.0)
            if redis_unavailable(exc):
                if self._failures == 1 or self._failures % 30 == 0:
                    log.warning("Redis unavailable (%s); polling again in %.1f s", exc, delay)
            else:
                log.exception("worker poll failed; carrying on in %.1f s", delay)
            await asyncio.sleep(delay)
            return
        if self._failures:
            log.info("Redis is back after %d failed poll(s)", self._failures)
            self._failures = 0

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(Exception):
            await self.pool.close(close_connection_pool=True)
        self._pool = None


async def run(settings: Settings) -> None:
    """`events-svc worker`: run a worker until SIGTERM/SIGINT. A start that fails because
    Redis or PostgreSQL is away is tried again with backoff, in this process (no supervisor
    outside is needed); once running, the worker rides out their restarts itself."""
    stopping = asyncio.Event()
    delay = 0.5
    while not stopping.is_set():
        worker: ResilientWorker | None = None
        try:
            # every Redis command of the worker gets a timeout (arq's own pool has none)
            pool = await redis_pool(settings.redis_url, command_timeout=settings.redis_timeout)
            worker = ResilientWorker(**worker_options(settings), redis_pool=pool)
            worker.on_stop = lambda _signal: stopping.set()
            await worker.async_run()
            return  # the loop ended without a signal (a burst run)
        except asyncio.CancelledError:
            return  # SIGTERM/SIGINT: arq cancels the main task once running jobs finish
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("worker start failed (%s); trying again in %.1f s", exc, delay)
        finally:
            if worker is not None:
                await worker.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        delay = min(delay * 2, 10.0)


class WorkerSettings:
    """For `arq workers.main.WorkerSettings`; `events-svc worker` uses `worker_options`."""

    functions = functions()
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 40
    job_timeout = 120
    health_check_interval = 10
    job_completion_wait = 60
