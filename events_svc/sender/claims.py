"""Claiming outbox rows (one sender per row, siblings in order) and finding the rows due again:
sweeps, orphaned claims, retries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from events_svc.jobs import MAX_BACKOFF, ORPHAN_AFTER
from events_svc.notifications.tables import Notification

#: The rows are found by id alone. Their status is tested through coalesce() so that the
#: planner cannot prove the partial index `notification_due` applies: with statistics taken
#: before a large send was queued, it combined the ids with a scan of that whole index (every
#: queued and sending row, and until vacuum the entries of rows sent since: 44,000 entries
#: read for a claim of 40 in bench/fanout.py's database), a cost that grows with the queue.
_CLAIM_SQL = (
    "UPDATE notification n SET status = 'sending', claimed_at = {}, claimed_by = {},"
    " attempts = n.attempts + 1"
    " FROM event e JOIN organization o ON o.id = e.org JOIN person p ON true"
    " LEFT JOIN invitation i ON i.event = e.id AND i.person = p.id"
    " WHERE n.id = ANY({}::uuid[]) AND e.id = n.event AND p.id = n.person"
    " AND ((coalesce(n.status, '') = 'queued' AND n.next_attempt_at <= {})"
    " OR (coalesce(n.status, '') = 'sending' AND (n.claimed_at < {}"
    "   OR (n.claimed_at < {} AND NOT (n.claimed_by = ANY({}::text[]))))))"
    " AND NOT EXISTS (SELECT 1 FROM notification s WHERE s.event = n.event"
    "   AND s.person = n.person AND s.id <> n.id AND s.status = 'sending'"
    "   AND s.claimed_at >= {}"
    "   AND (s.claimed_at >= {} OR s.claimed_by = ANY({}::text[])))"
    " RETURNING n.id, n.key, n.kind, n.event, n.person, n.sequence, n.occurrence, n.detail,"
    " n.attempts, n.created_at, e.id AS event_id, e.uid, e.sequence AS event_sequence, e.title,"
    " n.next_attempt_at,"  # a reminder's lateness (telemetry)
    " e.description, e.location, e.online_url, e.starts_at, e.ends_at, e.timezone,"
    " e.recurrence, e.status, e.itinerary, e.agenda, e.created_at AS event_created_at,"
    " e.updated_at AS event_updated_at, o.name AS org_name, o.name_en AS org_name_en,"
    " o.email AS org_email,"
    " p.email, p.name AS person_name, p.locale, p.feed_token,"
    " i.id AS invitation_id, i.role, i.rsvp, i.message, i.generation, i.removed_at,"
    " i.waitlisted_at,"
    " e.reminders, o.default_reminders AS org_default_reminders,"
    " coalesce((SELECT array_agg(c.name ORDER BY c.slug) FROM organization c"
    "  WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names,"
    " coalesce((SELECT array_agg(coalesce(c.name_en, c.name) ORDER BY c.slug)"
    "  FROM organization c WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names_en"
)


async def claim(
    *,
    notification_id: uuid.UUID,
    now: datetime,
    lease: float,
    worker: str = "",
    live: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """Take a row for sending, atomically, with what its message needs; None when it is not
    due, another worker has it, or another message to the same person about the same event
    is being sent right now."""
    rows = await claim_many(
        notification_ids=[notification_id], now=now, lease=lease, worker=worker, live=live
    )
    return rows[0] if rows else None


async def claim_many(
    *,
    notification_ids: Sequence[uuid.UUID],
    now: datetime,
    lease: float,
    worker: str = "",
    live: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """`claim` for several rows in one statement: the rows that could be taken.

    Not taking a row while a sibling (same person, same event) is being sent keeps each
    person's messages in order (an invitation and the update that follows never race); the
    invitation row locks, taken in a fixed order, make that hold across workers.

    A row claimed by a worker that has stopped sending heartbeats (`live` lists those that
    still do) can be taken again soon, instead of after the whole lease; without `live`,
    only the lease counts.
    """
    stale = now - timedelta(seconds=lease)
    # Without heartbeat information nobody is taken for dead: the cutoff lies in the past.
    orphaned = now - timedelta(seconds=ORPHAN_AFTER if live is not None else lease)
    alive = list(live or [])
    ids = list(notification_ids)
    async with Notification._meta.db.transaction():
        await Notification.raw(
            "SELECT i.id FROM invitation i JOIN notification n"
            " ON n.event = i.event AND n.person = i.person WHERE n.id = ANY({}::uuid[])"
            " ORDER BY i.id FOR UPDATE OF i",
            ids,
        )
        # The claim also reads everything the messages need, in the same round trip.
        rows = await Notification.raw(
            _CLAIM_SQL, now, worker, ids, now, stale, orphaned, alive, stale, orphaned, alive
        )
    return list(rows)


async def waits_for_sibling(notification_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether the row is due and still queued (so only a sibling in flight blocked it)."""
    rows = await Notification.raw(
        "SELECT 1 FROM notification WHERE id = {} AND status = 'queued' AND next_attempt_at <= {}",
        notification_id,
        now,
    )
    return bool(rows)


# Every outcome is written only while the row still carries this worker's claim (`attempts`,
# raised by each claim, is the fence: "WHERE id = {} AND attempts = {} AND status = 'sending'"):
# a worker whose rows were taken over records nothing.


async def still_claimed(row: dict[str, Any]) -> bool:
    """Whether the row is still this claim's: checked just before the message is handed to
    SMTP. A read (the heartbeat renews leases): a claim taken over has a higher `attempts`."""
    found = await Notification.raw(
        "SELECT 1 FROM notification WHERE id = {} AND attempts = {} AND status = 'sending'",
        row["id"],
        row["attempts"],
    )
    return bool(found)


async def due_for_sweep(
    *,
    now: datetime,
    grace: float,
    lease: float,
    live: Sequence[str] | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Rows that should be in the queue but may not be: queued and due for a while, or claimed
    by a worker that has not finished within the lease (it probably died)."""
    orphaned = now - timedelta(seconds=ORPHAN_AFTER if live is not None else lease)
    rows = await Notification.raw(
        "SELECT id, key, attempts FROM notification"
        " WHERE (status = 'queued' AND next_attempt_at <= {})"
        " OR (status = 'sending' AND (claimed_at < {}"
        "  OR (claimed_at < {} AND NOT (claimed_by = ANY({}::text[])))))"
        " ORDER BY next_attempt_at LIMIT {}",
        now - timedelta(seconds=grace),
        now - timedelta(seconds=lease),
        orphaned,
        list(live or []),
        limit,
    )
    return list(rows)


async def rows_for_jobs(notification_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """What a job id is made of, for rows to enqueue one by one."""
    rows = await Notification.raw(
        "SELECT id, key, attempts FROM notification WHERE id = ANY({}::uuid[])",
        list(notification_ids),
    )
    return list(rows)


async def orphaned_claims(
    *, now: datetime, live: Sequence[str], limit: int = 10_000
) -> list[dict[str, Any]]:
    """Rows claimed by a worker that stopped sending heartbeats, oldest due first."""
    rows = await Notification.raw(
        "SELECT id, key, attempts, next_attempt_at FROM notification"
        " WHERE status = 'sending' AND claimed_at < {} AND NOT (claimed_by = ANY({}::text[]))"
        " ORDER BY next_attempt_at LIMIT {}",
        now - timedelta(seconds=ORPHAN_AFTER),
        list(live),
        limit,
    )
    return list(rows)


async def due_queued(*, now: datetime, limit: int = 100_000) -> list[dict[str, Any]]:
    """Queued rows due now: after a worker died, some of them may sit in jobs it had taken
    from the queue (arq holds those for the job's whole timeout), so they are enqueued anew."""
    rows = await Notification.raw(
        "SELECT id, key, attempts, next_attempt_at FROM notification"
        " WHERE status = 'queued' AND next_attempt_at <= {} ORDER BY next_attempt_at LIMIT {}",
        now,
        limit,
    )
    return list(rows)


async def retry_now(*, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Rows waiting for a retry after a passing failure (`last_error` set, the retry ahead,
    never more than MAX_BACKOFF away), made due now, soonest first: the SMTP server is back
    (or, with a small `limit`, to find out whether it is)."""
    rows = await Notification.raw(
        "UPDATE notification SET next_attempt_at = {} WHERE id IN (SELECT id FROM notification"
        " WHERE status = 'queued' AND next_attempt_at > {} AND next_attempt_at <= {}"
        " AND last_error <> '' ORDER BY next_attempt_at LIMIT {} FOR UPDATE SKIP LOCKED)"
        " RETURNING id, key, attempts, next_attempt_at",
        now,
        now,
        now + MAX_BACKOFF + timedelta(minutes=1),
        limit,
    )
    return list(rows)


async def release_claims(*, workers: Sequence[str]) -> int:
    """Give back the rows claimed by workers known to be gone (their process has exited):
    they are queued again, due as they were."""
    rows = await Notification.raw(
        "UPDATE notification SET status = 'queued', claimed_at = NULL"
        " WHERE status = 'sending' AND claimed_by = ANY({}::text[]) RETURNING id",
        list(workers),
    )
    return len(rows)
