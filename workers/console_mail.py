"""Jobs that send the console's sign-in e-mails, and their sweep."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc.jobs import enqueue_console_mail
from events_svc.mail.signin import render_sign_in
from events_svc.organizers import signin
from events_svc.sender.service import backoff
from events_svc.sender.smtp import PermanentSendError, TransientSendError
from events_svc.settings import Settings

log = logging.getLogger("workers.console_mail")


async def send_console_mail(ctx: dict[str, Any], mail_id: str) -> str:
    """Send one sign-in e-mail row; takes only its id and re-reads it (idempotent)."""
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    row = await signin.claim_mail(mail_id=uuid.UUID(mail_id), now=now, lease=settings.send_lease)
    if row is None:
        return "noop"
    if now - row["created_at"] > timedelta(seconds=signin.LINK_TTL):
        await signin.record_mail(mail_id=row["id"], status="failed", error="the link expired")
        return "failed"
    link = settings.public_base_url + signin.sign_in_path(settings.secret_key, row["nonce"])
    english = row["locale"] == "en" and row["org_name_en"]
    org_name = row["org_name_en"] if english else row["org_name"]
    message = render_sign_in(
        locale=row["locale"],
        name=row["name"],
        email=row["email"],
        org_name=org_name,
        link=link,
        mail_from=settings.mail_from,
        now=now,
    )
    try:
        await ctx["smtp"].send(sender=settings.mail_from, recipient=row["email"], message=message)
    except PermanentSendError as exc:
        await signin.record_mail(mail_id=row["id"], status="failed", error=str(exc))
        return "failed"
    except TransientSendError as exc:
        retry_at = now + backoff(row["attempts"], settings.send_retry_first)
        await signin.record_mail(
            mail_id=row["id"], status="queued", error=str(exc), retry_at=retry_at
        )
        await enqueue_console_mail(ctx["redis"], [row], defer_until=retry_at)
        return "retry"
    await signin.record_mail(mail_id=row["id"], status="sent")
    return "sent"


async def sweep_console_mail(ctx: dict[str, Any]) -> int:
    """Enqueue rows still queued after the grace period (Redis lost their job)."""
    settings: Settings = ctx["settings"]
    rows = await signin.mail_due(
        now=datetime.now(UTC), grace=settings.sweep_grace, lease=settings.send_lease
    )
    slot = int(time.time()) // max(1, settings.sweep_interval)
    return await enqueue_console_mail(ctx["redis"], rows, sweep_slot=slot)
