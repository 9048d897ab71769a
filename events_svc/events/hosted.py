"""An event the caller hosts or co-hosts: read for a listing, or locked for a change that
raises its SEQUENCE. Anybody else gets the 404 an unknown id gets."""

from __future__ import annotations

import uuid
from typing import Any

from events_svc.errors import NotFound
from events_svc.events.tables import Event


async def hosted_event(*, org_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """The event's id, uid and capacity; 404 unless the caller hosts or co-hosts it."""
    rows = await Event.raw(
        "SELECT id, uid, capacity FROM event e"
        " WHERE id = {} AND (e.org = {} OR {} = ANY(e.cohosts))",
        event_id,
        org_id,
        org_id,
    )
    if not rows:
        raise NotFound("event not found")
    return dict(rows[0])


async def lock_hosted_event(*, org_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """The event, locked (FOR UPDATE) until the caller's transaction ends; 404 when it does not
    exist or the caller neither hosts nor co-hosts it (the same answer: ids are not probed)."""
    rows = await Event.raw(
        "SELECT id, org, cohosts, uid, title, sequence, status, capacity, starts_at, ends_at,"
        " timezone, recurrence, agenda FROM event e"
        " WHERE id = {} AND (e.org = {} OR {} = ANY(e.cohosts)) FOR UPDATE",
        event_id,
        org_id,
        org_id,
    )
    if not rows:
        raise NotFound("event not found")
    return dict(rows[0])
