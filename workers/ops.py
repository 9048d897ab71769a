"""The worker's operations jobs: the daily retention run, and the arq job id in every log line
a job writes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from arq import cron

from events_svc import logctx, retention
from events_svc.settings import Settings

log = logging.getLogger("workers.ops")

#: cron: remove finished rows past their retention (`events_svc.retention`)
PURGE = "purge_old_rows"


async def bind_job(ctx: dict[str, Any]) -> None:
    """arq's on_job_start: runs in the job's own task before it starts (its context is
    copied into the job), so the job's log lines carry `job_id`."""
    logctx.begin(job_id=ctx.get("job_id"))


async def purge_old_rows(ctx: dict[str, Any]) -> dict[str, int]:
    settings: Settings = ctx["settings"]
    removed = await retention.purge(
        now=datetime.now(UTC),
        notifications_days=settings.retain_notifications_days,
        webhook_deliveries_days=settings.retain_webhook_deliveries_days,
        held_replies_days=settings.retain_held_replies_days,
    )
    log.info("retention: removed %s", removed, extra={"removed": removed})
    return removed


def cron_jobs() -> list[Any]:
    # once a day at a quiet hour: 19:17 UTC is 03:17 in China (the batches are small and
    # each is its own transaction, so another hour would do too)
    return [
        cron(
            purge_old_rows,
            name=PURGE,
            hour={19},
            minute={17},
            unique=True,
            keep_result=0,
            timeout=3600,
        )
    ]
