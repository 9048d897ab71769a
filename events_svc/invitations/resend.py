"""Sending a person's failed message again (after the organizer fixed what was wrong: the
mailbox was full, the relay refused for a while)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc.errors import Conflict, NotFound
from events_svc.invitations.tables import Invitation
from events_svc.validation import email_key


async def resend(
    *, org_id: uuid.UUID, event_id: uuid.UUID, email: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Queue the invitee's failed messages of this event again; returns the rows to enqueue
    after commit. 409 when none of their messages failed (nothing to resend)."""
    now = now or datetime.now(UTC)
    async with Invitation._meta.db.transaction():
        found = await Invitation.raw(
            "SELECT i.person FROM invitation i JOIN event e ON e.id = i.event"
            " JOIN person p ON p.id = i.person"
            " WHERE i.event = {} AND (e.org = {} OR {} = ANY(e.cohosts))"
            " AND p.email_key = {} AND i.removed_at IS NULL",
            event_id,
            org_id,
            org_id,
            email_key(email),
        )
        if not found:
            raise NotFound(f"{email} is not invited to this event")
        rows = await Invitation.raw(
            "UPDATE notification SET status = 'queued', next_attempt_at = {}, last_error = ''"
            " WHERE event = {} AND person = {} AND status = 'failed' AND kind <> 'reminder'"
            " RETURNING id, key, attempts",
            now,
            event_id,
            found[0]["person"],
        )
    if not rows:
        raise Conflict(f"no message to {email} failed: there is nothing to resend")
    return [dict(r) for r in rows]
