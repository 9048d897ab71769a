"""The send-rate hook of the sender (SEND_RATE_*; the bucket and its design are in
`events_svc.sendrate`): before a job claims its rows it takes tokens for them, per
organization, and gives the rows it got none for back as a job deferred to the slot the
bucket reserved. Only the granted rows are claimed, so none waits claimed for tokens and a
capped organization never holds up another's rows. Called only when a cap is set."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc import sendrate
from events_svc.jobs import ORPHAN_AFTER, SEND_NOTIFICATIONS, enqueue_many
from events_svc.notifications.tables import Notification
from events_svc.settings import Settings

log = logging.getLogger("events_svc.notifications.rate")

#: rows a job may still send: queued and due, or held by a claim that looks abandoned (the
#: claim decides; this only keeps tokens from rows that surely cannot be claimed)
_PENDING = (
    "SELECT n.id, n.key, n.attempts, e.org FROM notification n JOIN event e ON e.id = n.event"
    " WHERE n.id = ANY({}::uuid[]) AND ((n.status = 'queued' AND n.next_attempt_at <= {})"
    " OR (n.status = 'sending' AND n.claimed_at < {}))"
)


async def admit(
    redis: Any, settings: Settings, notification_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The ids to claim now: those the send rate has tokens for. The others are enqueued
    again, deferred to when their tokens will be there (rows no longer pending are dropped:
    the claim would not take them either). Redis away: every pending id (see the module)."""
    now = datetime.now(UTC)
    rows = await Notification.raw(
        _PENDING, list(notification_ids), now, now - timedelta(seconds=ORPHAN_AFTER)
    )
    order = {ident: i for i, ident in enumerate(notification_ids)}
    by_org: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: order.get(r["id"], 0)):
        by_org.setdefault(row["org"], []).append(row)
    admitted: list[uuid.UUID] = []
    later: list[tuple[str, tuple[Any, ...], datetime | None]] = []
    for org, org_rows in by_org.items():
        try:
            grant = await sendrate.take(redis, settings, org, len(org_rows))
        except Exception as exc:  # noqa: BLE001 - OSError or one of redis' own error classes
            log.warning("send rate: Redis unavailable, sending without the cap: %s", exc)
            admitted += [r["id"] for r in org_rows]
            continue
        admitted += [r["id"] for r in org_rows[: grant.granted]]
        rest = org_rows[grant.granted :]
        if rest:
            run_at = now + timedelta(seconds=grant.wait)
            digest = hashlib.sha1(  # noqa: S324 - an id, not a secret
                "|".join(f"{r['key']}:{r['attempts']}" for r in rest).encode()
                + f"#{int(run_at.timestamp() * 1000)}".encode()
            ).hexdigest()
            later.append((f"notify-paced:{digest}", ([str(r["id"]) for r in rest],), run_at))
    if later:
        try:
            await enqueue_many(redis, SEND_NOTIFICATIONS, later)
        except Exception as exc:  # noqa: BLE001 - see above
            # the rows stay queued in PostgreSQL: the sweep enqueues them again
            log.warning("send rate: deferring failed; the sweep will pick the rows up: %s", exc)
    return admitted
