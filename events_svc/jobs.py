"""Job names and enqueue helpers: the only place arq job ids are made.

`events_svc` never imports `workers`; it enqueues by these names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger("events_svc.jobs")

#: answers "pong" from a worker: proves the API -> Redis -> worker path end to end
PING = "ping"
#: send one notification row: `send_notification(notification_id)`
SEND_NOTIFICATION = "send_notification"
#: cron: re-enqueue notification rows still queued (Redis lost them, or a crash lost the enqueue)
SWEEP_NOTIFICATIONS = "sweep_notifications"


class JobQueue(Protocol):
    """The part of arq's ArqRedis the service uses."""

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Any: ...


def notification_job_id(key: str, attempts: int, sweep_slot: int | None = None) -> str:
    """One job per (row, attempt): enqueueing twice runs once; a retry gets a new id.

    The sweep adds its time slot: a job that a dead worker left "in progress" in Redis keeps
    its id blocked for minutes, so a re-enqueue must not depend on that id. Running a row
    twice is safe (the database claim lets one through); the ids only spare the work.
    """
    job_id = f"notify:{key}:a{attempts}"
    return job_id if sweep_slot is None else f"{job_id}:s{sweep_slot}"


async def enqueue_notifications(
    queue: JobQueue | None,
    rows: Iterable[dict[str, Any]],
    *,
    defer_until: datetime | None = None,
    sweep_slot: int | None = None,
) -> int:
    """Enqueue `send_notification` for rows with `id`, `key` and `attempts`; returns how many
    were new to the queue (a job id already there is not enqueued twice).

    Runs after commit. Redis being down is not an error here: the rows are committed and the
    worker's sweep will enqueue them.
    """
    if queue is None:
        return 0
    count = 0
    try:
        for row in rows:
            job = await queue.enqueue_job(
                SEND_NOTIFICATION,
                str(row["id"]),
                _job_id=notification_job_id(row["key"], row["attempts"], sweep_slot),
                _defer_until=defer_until,
            )
            count += job is not None
    except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
        log.warning("enqueue failed after %d jobs; the sweep will pick the rest up: %s", count, exc)
    return count
