"""Jobs that POST webhook deliveries, and the sweep that keeps Redis honest about them."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc import telemetry
from events_svc.jobs import enqueue_webhooks
from events_svc.settings import Settings
from events_svc.webhooks import service

log = logging.getLogger("workers.webhooks")


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    """POST one delivery; takes only its id and re-reads everything (idempotent)."""
    settings: Settings = ctx["settings"]
    outcome = await service.deliver(
        delivery_id=uuid.UUID(delivery_id), settings=settings, client=ctx["http"]
    )
    telemetry.webhook_outcome(outcome.status)
    if outcome.status == "retry" and outcome.row is not None:
        # The next attempt is its own job (new id); the sweep re-creates it if Redis loses it.
        await enqueue_webhooks(ctx["redis"], [outcome.row], defer_until=outcome.retry_at)
        log.info(
            "webhook delivery %s: retry at %s: %s", delivery_id, outcome.retry_at, outcome.detail
        )
    elif outcome.status in ("failed", "skipped"):
        log.info("webhook delivery %s %s: %s", delivery_id, outcome.status, outcome.detail)
    return outcome.status


async def sweep_webhooks(ctx: dict[str, Any]) -> int:
    """Enqueue deliveries still queued after a grace period, or held by a worker that died."""
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    rows = await service.due_for_sweep(
        now=now, grace=settings.sweep_grace, lease=settings.webhook_lease
    )
    # One slot per grace period: sweeps within it enqueue a row once; a later one tries again.
    slot = int(now.timestamp() // settings.sweep_grace)
    count = await enqueue_webhooks(ctx["redis"], rows, sweep_slot=slot)
    if rows:
        log.info("sweep: %d webhook delivery(ies) re-enqueued", count)
    return count
