"""The job that sends side mails (sign-in links, registration confirmations), and their
sweep (which also expires registrations nobody confirmed in time)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc.jobs import enqueue_side_mail
from events_svc.registration import service as registration
from events_svc.sender import side_mail
from events_svc.settings import Settings
from events_svc.sidemail import service as sidemail


async def send_side_mail(ctx: dict[str, Any], mail_id: str) -> str:
    """Send one side-mail row; takes only its id and re-reads it (idempotent)."""
    outcome, row, retry_at = await side_mail.send(
        mail_id=uuid.UUID(mail_id),
        settings=ctx["settings"],
        smtp=ctx["smtp"],
        now=datetime.now(UTC),
    )
    if outcome == "retry" and row is not None:
        await enqueue_side_mail(ctx["redis"], [row], defer_until=retry_at)
    return outcome


async def sweep_side_mail(ctx: dict[str, Any]) -> int:
    """Expire what nobody confirmed in time; enqueue rows still queued after the grace
    period (Redis lost their job) or held too long by a worker."""
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    await registration.expire(now=now)
    rows = await sidemail.due(now=now, grace=settings.sweep_grace, lease=settings.send_lease)
    slot = int(time.time()) // max(1, settings.sweep_interval)
    return await enqueue_side_mail(ctx["redis"], rows, sweep_slot=slot)
