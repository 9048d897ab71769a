"""Retention: finished rows older than the settings say are removed, in small batches (each its
own short transaction, so the tables stay writable meanwhile), never a row still needed.

- notifications: `sent` or `skipped` rows finished more than RETAIN_NOTIFICATIONS_DAYS ago,
  except the latest sent message per person and event (the sender compares a new message with
  it: an agenda's changes, whether an update is superseded, whether a CANCEL has anything to
  cancel). Queued, sending and failed rows stay, whatever their age.
- webhook deliveries: `delivered` and `skipped` ones older than RETAIN_WEBHOOK_DELIVERIES_DAYS;
  failed and pending ones stay.
- held replies: those the organizer decided more than RETAIN_HELD_REPLIES_DAYS ago; undecided
  ones stay.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from events_svc.notifications.tables import Notification

#: rows removed per statement
BATCH = 1000
#: a pause between batches, so the job never holds the database's attention for long
PAUSE = 0.05

_NOTIFICATIONS = (
    "DELETE FROM notification WHERE id IN (SELECT n.id FROM notification n"
    " WHERE n.created_at < {} AND n.status IN ('sent', 'skipped')"
    " AND coalesce(n.sent_at, n.created_at) < {}"
    # a later sent message to the same person about the same event exists: this is not the
    # latest one
    " AND EXISTS (SELECT 1 FROM notification m WHERE m.event = n.event AND m.person = n.person"
    "  AND m.status = 'sent' AND m.id <> n.id"
    "  AND (m.sent_at > coalesce(n.sent_at, n.created_at)"
    "   OR (m.sent_at = n.sent_at AND m.id > n.id)))"
    # oldest first, through the partial index notification_finished: without an order the
    # planner read the whole table for every batch (bench/outbox_plans.py)
    " ORDER BY n.created_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id"
)
_WEBHOOK_DELIVERIES = (
    "DELETE FROM webhook_delivery WHERE id IN (SELECT id FROM webhook_delivery"
    " WHERE created_at < {} AND status IN ('delivered', 'skipped')"
    " LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id"
)
_HELD_REPLIES = (
    "DELETE FROM held_reply WHERE id IN (SELECT id FROM held_reply"
    " WHERE status <> 'held' AND decided_at < {} LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id"
)


async def _drain(sql: str, *args: object, limit: int) -> int:
    removed = 0
    while removed < limit:
        rows = await Notification.raw(sql, *args, min(BATCH, limit - removed))
        removed += len(rows)
        if len(rows) < BATCH:
            break
        await asyncio.sleep(PAUSE)
    return removed


async def purge(
    *,
    now: datetime,
    notifications_days: int,
    webhook_deliveries_days: int,
    held_replies_days: int,
    limit: int = 1_000_000,
) -> dict[str, int]:
    """Remove what has outlived its retention (a setting of 0 keeps everything of its kind);
    at most `limit` rows of each kind per run. Returns how many rows of each kind went."""
    removed = {"notifications": 0, "webhook_deliveries": 0, "held_replies": 0}
    if notifications_days > 0:
        cutoff = now - timedelta(days=notifications_days)
        removed["notifications"] = await _drain(_NOTIFICATIONS, cutoff, cutoff, limit=limit)
    if webhook_deliveries_days > 0:
        cutoff = now - timedelta(days=webhook_deliveries_days)
        removed["webhook_deliveries"] = await _drain(_WEBHOOK_DELIVERIES, cutoff, limit=limit)
    if held_replies_days > 0:
        cutoff = now - timedelta(days=held_replies_days)
        removed["held_replies"] = await _drain(_HELD_REPLIES, cutoff, limit=limit)
    return removed
