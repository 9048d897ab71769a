"""The confirmation e-mails of registrations: claimed, recorded and swept by the worker (the
console sign-in mail's pattern; the row is the record)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from events_svc.registration.tables import Registration


async def claim_mail(
    *, registration_id: uuid.UUID, now: datetime, lease: float
) -> dict[str, Any] | None:
    """Take one queued (or abandoned) confirmation e-mail, with what it says."""
    rows = await Registration.raw(
        "UPDATE registration r SET mail_status = 'sending', mail_attempts = r.mail_attempts + 1,"
        " mail_claimed_at = {} FROM person p, event e, organization o"
        " WHERE r.id = {} AND p.id = r.person AND e.id = r.event AND o.id = e.org"
        " AND r.status = 'pending' AND r.mail_next_attempt_at <= {}"
        " AND (r.mail_status = 'queued'"
        "  OR (r.mail_status = 'sending' AND r.mail_claimed_at < {}))"
        " RETURNING r.id, r.mail_attempts AS attempts, r.expires_at, r.name, r.locale,"
        " p.email, e.title, e.starts_at, e.timezone, o.name AS org_name, o.name_en AS org_name_en",
        now,
        registration_id,
        now,
        now - timedelta(seconds=lease),
    )
    return dict(rows[0]) if rows else None


async def record_mail(
    *, registration_id: uuid.UUID, status: str, error: str = "", retry_at: datetime | None = None
) -> None:
    """The outcome: sent, failed (with the error), or queued again for `retry_at`."""
    if status == "queued":
        await Registration.raw(
            "UPDATE registration SET mail_status = 'queued', mail_last_error = {},"
            " mail_next_attempt_at = {} WHERE id = {}",
            error,
            retry_at,
            registration_id,
        )
    else:
        await Registration.raw(
            "UPDATE registration SET mail_status = {}, mail_last_error = {},"
            " mail_sent_at = CASE WHEN {} = 'sent' THEN now() ELSE NULL END WHERE id = {}",
            status,
            error,
            status,
            registration_id,
        )


async def mail_due(*, now: datetime, grace: float, lease: float) -> list[dict[str, Any]]:
    """Rows the sweep enqueues again: queued past the grace, or held by a worker too long;
    registrations past their time expire first (their link no longer works)."""
    await Registration.raw(
        "UPDATE registration SET status = 'expired',"
        " mail_status = CASE WHEN mail_status IN ('queued', 'sending') THEN 'failed'"
        "  ELSE mail_status END"
        " WHERE status = 'pending' AND expires_at <= {}",
        now,
    )
    rows = await Registration.raw(
        "SELECT id, mail_attempts AS attempts FROM registration WHERE status = 'pending' AND"
        " ((mail_status = 'queued' AND mail_next_attempt_at <= {})"
        " OR (mail_status = 'sending' AND mail_claimed_at < {})) LIMIT 1000",
        now - timedelta(seconds=grace),
        now - timedelta(seconds=lease),
    )
    return [dict(r) for r in rows]
