"""The outbox, low side: notification rows queued inside the transaction of the change that
causes them (invitations, updates, cancellations), and the per-organization hourly cap.

The sender (`events_svc.sender`) claims, renders, sends and records them; nothing here sends.
Raw SQL is used where the query builder would cost more than the query.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from events_svc.notifications.tables import Notification
from events_svc.settings import get_settings

log = logging.getLogger("events_svc.notifications")

#: kinds whose ICS is a REQUEST (the full current event)
REQUEST_KINDS = ("invitation", "update", "agenda")
#: messages that show the agenda: the agenda they showed is kept, for the next update's diff
AGENDA_KINDS = ("invitation", "update", "agenda")


def _key(kind: str, event_id: uuid.UUID, person_id: uuid.UUID, suffix: str) -> str:
    return f"{kind}:{event_id}:{person_id}:{suffix}"


async def queue_invitations(
    *, event_id: uuid.UUID, sequence: int, invitations: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One invitation row per new (or renewed) invitation; call inside the transaction."""
    if not invitations:
        return []
    keys = [
        _key("invitation", event_id, inv["person"], f"g{inv['generation']}") for inv in invitations
    ]
    return await _insert(
        kind="invitation",
        event_id=event_id,
        sequence=sequence,
        person_ids=[inv["person"] for inv in invitations],
        keys=keys,
        detail="",
    )


async def queue_uninvite(
    *, event_id: uuid.UUID, sequence: int, person_id: uuid.UUID, generation: int
) -> list[dict[str, Any]]:
    """A CANCEL for one person taken off the list; call inside the transaction."""
    return await _insert(
        kind="cancellation",
        event_id=event_id,
        sequence=sequence,
        person_ids=[person_id],
        keys=[_key("uninvite", event_id, person_id, f"g{generation}")],
        detail="uninvited",
    )


async def queue_event_change(
    *,
    event_id: uuid.UUID,
    sequence: int,
    kind: Literal["update", "cancellation"],
    occurrence: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for every current invitee after the event's SEQUENCE rose (or, with
    `occurrence`, the SEQUENCE of that one occurrence of a series); inside the transaction.

    Updates skip people who declined; a cancellation reaches everyone still invited.
    """
    suffix = f"s{sequence}" if occurrence is None else f"o{occurrence}:s{sequence}"
    rows = await Notification.raw(
        "INSERT INTO notification (id, key, kind, event, person, sequence, occurrence, detail)"
        " SELECT gen_random_uuid(), {} || ':' || i.event || ':' || i.person || ':' || {},"
        " {}, i.event, i.person, {}, {}, ''"
        " FROM invitation i WHERE i.event = {} AND i.removed_at IS NULL"
        " AND ({} OR i.rsvp <> 'declined')"
        " ON CONFLICT (key) DO NOTHING RETURNING id, key, attempts, next_attempt_at",
        kind,
        suffix,
        kind,
        sequence,
        occurrence,
        event_id,
        kind == "cancellation",  # updates skip people who declined; a cancellation does not
    )
    return await _hold_over_cap(event_id=event_id, rows=list(rows))


async def _insert(
    *,
    kind: str,
    event_id: uuid.UUID,
    sequence: int,
    person_ids: Sequence[uuid.UUID],
    keys: Sequence[str],
    detail: str,
) -> list[dict[str, Any]]:
    rows = await Notification.raw(
        "INSERT INTO notification (id, key, kind, event, person, sequence, detail)"
        " SELECT gen_random_uuid(), k, {}, {}, p, {}, {}"
        " FROM unnest({}::text[], {}::uuid[]) AS u(k, p)"
        " ON CONFLICT (key) DO NOTHING RETURNING id, key, attempts, next_attempt_at",
        kind,
        event_id,
        sequence,
        detail,
        list(keys),
        list(person_ids),
    )
    return await _hold_over_cap(event_id=event_id, rows=list(rows))


HOUR = 3600


async def _hold_over_cap(
    *, event_id: uuid.UUID, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows just queued past the host organization's hourly cap
    (RATE_LIMIT_ORG_MESSAGES_PER_HOUR) wait for the next clock hours with room, never
    dropped; returns the rows with their `next_attempt_at` (and `deferred` on those that
    wait). Counted in PostgreSQL under a per-organization lock, so the cap holds across
    processes and a rolled-back change uses none of it. Reminders are not counted (see the
    README's Rate limits)."""
    cap = get_settings().rate_limit_org_messages_per_hour
    if not rows or cap <= 0:
        return rows
    start = min(r["next_attempt_at"] for r in rows)
    window = int(start.timestamp()) // HOUR * HOUR
    # one lock per organization and transaction: two concurrent sends cannot both see room
    found = await Notification.raw(
        "SELECT e.org, pg_advisory_xact_lock(hashtextextended('notification-cap:' || e.org, 0))"
        " FROM event e WHERE e.id = {}",
        event_id,
    )
    if not found:
        return rows
    counts = await Notification.raw(
        "SELECT floor(extract(epoch FROM n.next_attempt_at) / {})::bigint * {} AS hour,"
        " count(*) AS n FROM notification n JOIN event e ON e.id = n.event"
        " WHERE e.org = {} AND n.kind <> 'reminder' AND n.next_attempt_at >= {}"
        " GROUP BY 1",
        HOUR,
        HOUR,
        found[0]["org"],
        datetime.fromtimestamp(window, UTC),
    )
    used = {int(c["hour"]): int(c["n"]) for c in counts}
    over = min(used.get(window, 0) - cap, len(rows))  # these rows are counted in `used`
    if over <= 0:
        return rows
    held = rows[len(rows) - over :]
    plan: list[datetime] = []
    hour = window
    while len(plan) < len(held):  # ends: past the last hour in `used` every hour has room
        hour += HOUR
        room = max(cap - used.get(hour, 0), 0)
        plan += [datetime.fromtimestamp(hour, UTC)] * min(room, len(held) - len(plan))
    await Notification.raw(
        "UPDATE notification n SET next_attempt_at = u.at"
        " FROM unnest({}::uuid[], {}::timestamptz[]) AS u(id, at) WHERE n.id = u.id",
        [r["id"] for r in held],
        plan,
    )
    log.info("event %s: %d message(s) over the hourly cap wait until %s", event_id, over, plan[-1])
    return rows[: len(rows) - over] + [
        {**r, "next_attempt_at": at, "deferred": True} for r, at in zip(held, plan, strict=True)
    ]
