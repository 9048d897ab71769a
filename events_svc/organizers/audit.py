"""The audit record: who (an organizer, or an API key by its prefix) changed what, and when.

Written for every successful change request, console or API, right after the change
committed (`web/audit.py` hooks every request); a crash between the two can lose one entry,
never the change. Read per event (its activity) with the event's own access rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from events_svc.organizers.tables import AuditEntry

MAX_LIST = 200


@dataclass(frozen=True, slots=True)
class Entry:
    actor: str
    action: str
    route: str
    subject: str
    status: int
    created_at: datetime


async def record(
    *, org_id: uuid.UUID, actor: str, action: str, route: str, subject: str, status: int
) -> None:
    await AuditEntry.insert(
        AuditEntry(
            org=org_id,
            actor=actor[:300],
            action=action[:80],
            route=route[:200],
            subject=subject[:300],
            status=status,
        )
    )


async def for_subject(*, subject: str, limit: int = MAX_LIST) -> list[Entry]:
    """The newest changes made to one thing (an event's id); the caller has checked that
    the reader may see that thing."""
    rows = await AuditEntry.raw(
        "SELECT actor, action, route, subject, status, created_at FROM audit_entry"
        " WHERE subject = {} ORDER BY created_at DESC LIMIT {}",
        subject,
        limit,
    )
    return [Entry(**r) for r in rows]
