"""Who holds a place: the waitlist's promotions and the `rsvp.changed` webhooks, shared by
answering (rsvp) and uninviting (invitations)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from events_svc.invitations.tables import Invitation
from events_svc.notifications.tables import Notification
from events_svc.webhooks import service as webhooks


async def rsvp_changed(
    event: dict[str, Any],
    person_ids: list[uuid.UUID],
    *,
    source: str,
    occurrence: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """`rsvp.changed` for the organizer's webhooks, inside the answering transaction."""
    rows = await Invitation.raw(
        "SELECT p.email, p.name, i.rsvp, i.waitlisted_at, i.comment, i.person"
        " FROM invitation i JOIN person p ON p.id = i.person"
        " WHERE i.event = {} AND i.person = ANY({}::uuid[])",
        event["id"],
        person_ids,
    )
    hooks: list[dict[str, Any]] = []
    for row in rows:
        data = {
            "event": {"id": event["id"], "uid": event["uid"], "title": event["title"]},
            "email": row["email"],
            "name": row["name"],
            "rsvp": row["rsvp"],
            "waitlisted": row["waitlisted_at"] is not None,
            "comment": row["comment"],
            "source": source,
            "occurrence": occurrence.isoformat() if occurrence else None,
            "answered_at": now,
        }
        # every host of the event hears of its answers (a co-host invites its own people)
        for org in dict.fromkeys([event["org"], *(event.get("cohosts") or ())]):
            hooks += await webhooks.emit(org_id=org, kind="rsvp.changed", data=data)
    return hooks


async def accepted_count(event_id: uuid.UUID) -> int:
    rows = await Invitation.raw(
        "SELECT count(*) AS n FROM invitation WHERE event = {} AND removed_at IS NULL"
        " AND rsvp = 'accepted' AND waitlisted_at IS NULL",
        event_id,
    )
    return int(rows[0]["n"])


async def promote_waitlist(
    *, event_id: uuid.UUID, capacity: int | None, now: datetime
) -> list[dict[str, Any]]:
    """Give free places to the people waiting longest; each gets an e-mail saying so.
    Call with the event row locked. Returns the outbox rows (with `person`, who was
    promoted)."""
    if capacity is None:
        free = None
    else:
        free = capacity - await accepted_count(event_id)
        if free <= 0:
            return []
    promoted = await Invitation.raw(
        "UPDATE invitation SET rsvp = 'accepted', waitlisted_at = NULL, updated_at = {}"
        " WHERE id IN (SELECT id FROM invitation WHERE event = {} AND removed_at IS NULL"
        "  AND waitlisted_at IS NOT NULL ORDER BY waitlisted_at, id LIMIT {} FOR UPDATE)"
        " RETURNING person, generation",
        now,
        event_id,
        free,
    )
    if not promoted:
        return []
    stamp = int(now.timestamp() * 1000)
    rows = await Notification.raw(
        "INSERT INTO notification (id, key, kind, event, person, sequence, detail)"
        " SELECT gen_random_uuid(),"
        " 'waitlist-promoted:' || {} || ':' || p || ':g' || g || ':' || {},"
        " 'waitlist-promoted', {}, p, e.sequence, ''"
        " FROM unnest({}::uuid[], {}::int[]) AS u(p, g), event e WHERE e.id = {}"
        " ON CONFLICT (key) DO NOTHING RETURNING id, key, attempts, person",
        str(event_id),
        str(stamp),
        event_id,
        [r["person"] for r in promoted],
        [r["generation"] for r in promoted],
        event_id,
    )
    return list(rows)
