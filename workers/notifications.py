"""Jobs that send notification rows, and the sweep that keeps Redis honest."""

from __future__ import annotations

import collections
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc.jobs import due_backlog, enqueue_notifications, enqueue_webhooks, live_workers
from events_svc.outages import while_unavailable
from events_svc.reminders import service as reminders
from events_svc.sender import claims, rate, reminder_qr, service
from events_svc.settings import Settings

log = logging.getLogger("workers.notifications")

#: a job that cannot claim its rows because the database is away waits this long for it
#: (a restart takes seconds) before it gives up and leaves the rows to the sweep
DATABASE_WAIT = 90.0


async def send_notification(ctx: dict[str, Any], notification_id: str) -> str:
    """Send one row; takes only its id and re-reads everything (idempotent)."""
    settings: Settings = ctx["settings"]
    # --- send-rate cap (events_svc/sender/rate.py); without a cap nothing here runs -------
    if settings.send_capped and not await _admitted(ctx, [uuid.UUID(notification_id)]):
        return "none due, or deferred by the send rate"
    # ---------------------------------------------------------------------------------------
    live = await live_workers(ctx["redis"])
    outcome = await while_unavailable(
        lambda: service.deliver(
            notification_id=uuid.UUID(notification_id),
            settings=settings,
            smtp=ctx["smtp"],
            worker=ctx.get("worker_name", ""),
            live=live,
            flight=ctx.get("flight"),
        ),
        give_up_after=DATABASE_WAIT,
        what=f"notification {notification_id}",
    )
    if outcome.status == "retry" and outcome.row is not None:
        # The next attempt is its own job (new id); the sweep re-creates it if Redis loses it.
        await enqueue_notifications(ctx["redis"], [outcome.row], defer_until=outcome.retry_at)
        log.info(
            "notification %s: retry at %s: %s", notification_id, outcome.retry_at, outcome.detail
        )
    elif outcome.status in ("failed", "skipped"):
        log.info("notification %s %s: %s", notification_id, outcome.status, outcome.detail)
    await enqueue_webhooks(ctx["redis"], outcome.webhooks)
    return outcome.status


async def send_notifications(ctx: dict[str, Any], notification_ids: list[str]) -> str:
    """Send rows claimed together (a fan-out, or reminders due at the same time)."""
    settings: Settings = ctx["settings"]
    # --- send-rate cap (events_svc/sender/rate.py); without a cap nothing here runs -------
    if settings.send_capped:
        admitted = await _admitted(ctx, [uuid.UUID(i) for i in notification_ids])
        if not admitted:
            return "none due, or deferred by the send rate"
        notification_ids = [str(i) for i in admitted]
    # ---------------------------------------------------------------------------------------
    live = await live_workers(ctx["redis"])
    outcomes, blocked = await while_unavailable(
        lambda: service.deliver_many(
            notification_ids=[uuid.UUID(i) for i in notification_ids],
            settings=settings,
            smtp=ctx["smtp"],
            worker=ctx.get("worker_name", ""),
            live=live,
            flight=ctx.get("flight"),
        ),
        give_up_after=DATABASE_WAIT,
        what=f"{len(notification_ids)} notification(s)",
    )
    for outcome in outcomes:
        if outcome.status == "retry" and outcome.row is not None:
            await enqueue_notifications(ctx["redis"], [outcome.row], defer_until=outcome.retry_at)
    await enqueue_webhooks(ctx["redis"], [hook for o in outcomes for hook in o.webhooks])
    if blocked:
        # A sibling message to the same person was in flight: these go one by one, waiting.
        rows = await claims.rows_for_jobs(blocked)
        await enqueue_notifications(ctx["redis"], rows)
    counts = collections.Counter(o.status for o in outcomes)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"


async def _admitted(ctx: dict[str, Any], ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids the send rate lets through now (the others are deferred)."""
    return await while_unavailable(
        lambda: rate.admit(ctx["redis"], ctx["settings"], ids, job_id=ctx.get("job_id", "")),
        give_up_after=DATABASE_WAIT,
        what=f"{len(ids)} notification(s)",
    )


#: while the queue has a backlog of due jobs, the sweep takes a queued row for lost (Redis
#: dropped its job, or the enqueue after commit failed) only after this many seconds
BACKLOG_GRACE = 600.0


async def sweep_notifications(ctx: dict[str, Any]) -> int:
    """Enqueue rows still queued after a grace period, or claimed by a worker that died."""
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    grace = settings.sweep_grace
    if await due_backlog(ctx["redis"]):
        # The queue still holds due jobs (a send of tens of thousands drains for minutes):
        # rows queued a minute ago are most likely in them, and enqueueing each again as a
        # job of its own cost a claim round trip per row for nothing. Only rows queued for
        # longer than a large send takes are taken for lost then.
        grace = max(grace, BACKLOG_GRACE)
    rows = await claims.due_for_sweep(now=now, grace=grace, lease=settings.send_lease)
    # --- send-rate cap: rows waiting in the queue for their slot are not lost -------------
    if settings.send_capped:
        rows = await rate.unheld(ctx["redis"], rows)
    # ---------------------------------------------------------------------------------------
    # One slot per grace period: sweeps within it enqueue a row once; a later one tries again.
    slot = int(now.timestamp() // settings.sweep_grace)
    count = await enqueue_notifications(ctx["redis"], rows, sweep_slot=slot)
    if rows:
        log.info("sweep: %d notification(s) re-enqueued", count)
    return count


#: reminders falling due within this many seconds are enqueued (deferred to their instant):
#: minutes, so that a run that comes late (the database slow, the worker busy) still finds
#: its reminders ahead; with one tick of look-ahead they went overdue, were left to the
#: sweep's grace and went one by one
SCHEDULE_AHEAD = 300.0


async def schedule_reminders(ctx: dict[str, Any]) -> int:
    """Enqueue the reminders falling due within SCHEDULE_AHEAD, each deferred to its due
    instant, so they go out on time rather than on the next tick (run every sweep interval
    by each worker, outside the arq queue: workers.main._reminders). Ids derive from the rows:
    scheduling a reminder twice (or after a Redis flush, again) runs it once."""
    rows = await reminders.due_soon(now=datetime.now(UTC), within=SCHEDULE_AHEAD)
    count = await enqueue_notifications(ctx["redis"], rows, at_due_time=True, batch=True)
    if count:
        log.info("scheduled %d reminder(s)", count)
    return count


#: held by the worker rendering reminders' codes ahead, so two workers do not render the same
PREPARE_LOCK = "events-svc:prepare-reminder-codes"


async def prepare_reminder_codes(ctx: dict[str, Any]) -> int:
    """Render the check-in QR codes of reminders falling due within the hour, so that the
    due instant only sends (a code costs milliseconds; ten thousand due at once, seconds)."""
    redis = ctx["redis"]
    if not await redis.set(PREPARE_LOCK, ctx.get("worker_name", "") or "1", nx=True, ex=60):
        return 0
    try:
        count = await reminder_qr.prepare(settings=ctx["settings"], now=datetime.now(UTC))
    finally:
        await redis.delete(PREPARE_LOCK)
    if count:
        log.info("rendered %d reminder check-in code(s) ahead", count)
    return count


async def extend_reminder_horizon(ctx: dict[str, Any]) -> int:
    """Plan reminders for series occurrences that have come within the planning horizon."""
    return await reminders.extend_horizon(now=datetime.now(UTC))
