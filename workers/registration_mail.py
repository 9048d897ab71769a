"""Jobs that send registration confirmation e-mails, and their sweep (which also expires
registrations nobody confirmed in time)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc.calendar.timeutil import local_iso
from events_svc.jobs import enqueue_registration_mail
from events_svc.mail.registration import render_confirmation
from events_svc.registration import outbox
from events_svc.registration.service import confirm_path
from events_svc.sender.service import backoff
from events_svc.sender.smtp import PermanentSendError, TransientSendError
from events_svc.settings import Settings


def _local(value: datetime, tz_name: str) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M")


async def send_registration_mail(ctx: dict[str, Any], registration_id: str) -> str:
    """Send one confirmation e-mail; takes only the id and re-reads the row (idempotent)."""
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    row = await outbox.claim_mail(
        registration_id=uuid.UUID(registration_id), now=now, lease=settings.send_lease
    )
    if row is None:
        return "noop"
    link = settings.public_base_url + confirm_path(settings.secret_key, row["id"])
    english = row["locale"] == "en" and row["org_name_en"]
    when = local_iso(row["starts_at"]).replace("T", " ")[:16] + f" ({row['timezone']})"
    message = render_confirmation(
        locale=row["locale"],
        name=row["name"],
        email=row["email"],
        org_name=row["org_name_en"] if english else row["org_name"],
        title=row["title"],
        when=when,
        until=_local(row["expires_at"], row["timezone"]) + f" ({row['timezone']})",
        link=link,
        mail_from=settings.mail_from,
        now=now,
    )
    try:
        await ctx["smtp"].send(sender=settings.mail_from, recipient=row["email"], message=message)
    except PermanentSendError as exc:
        await outbox.record_mail(registration_id=row["id"], status="failed", error=str(exc))
        return "failed"
    except TransientSendError as exc:
        retry_at = now + backoff(row["attempts"], settings.send_retry_first)
        await outbox.record_mail(
            registration_id=row["id"], status="queued", error=str(exc), retry_at=retry_at
        )
        await enqueue_registration_mail(ctx["redis"], [row], defer_until=retry_at)
        return "retry"
    await outbox.record_mail(registration_id=row["id"], status="sent")
    return "sent"


async def sweep_registration_mail(ctx: dict[str, Any]) -> int:
    """Expire what nobody confirmed in time; enqueue e-mails still queued after the grace."""
    settings: Settings = ctx["settings"]
    rows = await outbox.mail_due(
        now=datetime.now(UTC), grace=settings.sweep_grace, lease=settings.send_lease
    )
    slot = int(time.time()) // max(1, settings.sweep_interval)
    return await enqueue_registration_mail(ctx["redis"], rows, sweep_slot=slot)
