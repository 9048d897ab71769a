"""Queueing side mails inside the caller's transaction, and the worker's claim, record and
sweep queries (one set for every kind)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from events_svc.sidemail.tables import SideMail


async def queue(
    *,
    kind: str,
    about: uuid.UUID,
    now: datetime,
    expires_at: datetime,
    nonce: str | None = None,
) -> dict[str, Any]:
    """Queue one mail; call it inside the transaction that makes what the mail is about, and
    enqueue the returned row (`id`, `attempts`) after commit (`jobs.enqueue_side_mail`)."""
    ident = uuid.uuid4()
    await SideMail.raw(
        "INSERT INTO side_mail (id, kind, about, nonce, status, attempts, next_attempt_at,"
        " last_error, created_at, expires_at) VALUES ({}, {}, {}, {}, 'queued', 0, {}, '', {}, {})",
        ident,
        kind,
        about,
        nonce,
        now,
        now,
        expires_at,
    )
    return {"id": ident, "attempts": 0}


async def claim(*, mail_id: uuid.UUID, now: datetime, lease: float) -> dict[str, Any] | None:
    """Take one queued (or abandoned) row for sending."""
    rows = await SideMail.raw(
        "UPDATE side_mail SET status = 'sending', attempts = attempts + 1, claimed_at = {}"
        " WHERE id = {} AND next_attempt_at <= {}"
        " AND (status = 'queued' OR (status = 'sending' AND claimed_at < {}))"
        " RETURNING id, kind, about, nonce, attempts, created_at, expires_at",
        now,
        mail_id,
        now,
        now - timedelta(seconds=lease),
    )
    return dict(rows[0]) if rows else None


async def record(
    *, mail_id: uuid.UUID, status: str, error: str = "", retry_at: datetime | None = None
) -> None:
    """The outcome: sent, failed (with the error), or queued again for `retry_at`."""
    if status == "queued":
        await SideMail.raw(
            "UPDATE side_mail SET status = 'queued', last_error = {}, next_attempt_at = {}"
            " WHERE id = {}",
            error,
            retry_at,
            mail_id,
        )
    else:
        await SideMail.raw(
            "UPDATE side_mail SET status = {}, last_error = {},"
            " sent_at = CASE WHEN {} = 'sent' THEN now() ELSE NULL END WHERE id = {}",
            status,
            error,
            status,
            mail_id,
        )


async def due(*, now: datetime, grace: float, lease: float) -> list[dict[str, Any]]:
    """Rows the sweep enqueues again: queued past the grace, or held by a worker too long.
    Rows past their expiry fail first (their link no longer works)."""
    await SideMail.raw(
        "UPDATE side_mail SET status = 'failed', last_error = 'the link expired unsent'"
        " WHERE status IN ('queued', 'sending') AND expires_at <= {}",
        now,
    )
    rows = await SideMail.raw(
        "SELECT id, attempts FROM side_mail WHERE (status = 'queued' AND next_attempt_at <= {})"
        " OR (status = 'sending' AND claimed_at < {}) LIMIT 1000",
        now - timedelta(seconds=grace),
        now - timedelta(seconds=lease),
    )
    return [dict(r) for r in rows]
