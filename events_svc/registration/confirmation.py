"""What a registration's confirmation e-mail says (the side-mail worker renders it)."""

from __future__ import annotations

import uuid
from typing import Any

from events_svc.registration.tables import Registration


async def mail_facts(registration_id: uuid.UUID) -> dict[str, Any] | None:
    """The person, the event and its organization of a pending registration; None when it
    is no longer pending (confirmed, expired, or started over under a new id)."""
    rows = await Registration.raw(
        "SELECT r.id, r.expires_at, r.name, r.locale, p.email, e.title, e.starts_at,"
        " e.timezone, o.name AS org_name, o.name_en AS org_name_en"
        " FROM registration r JOIN person p ON p.id = r.person JOIN event e ON e.id = r.event"
        " JOIN organization o ON o.id = e.org WHERE r.id = {} AND r.status = 'pending'",
        registration_id,
    )
    return dict(rows[0]) if rows else None
