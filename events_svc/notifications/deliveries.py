"""How the outbox is doing, for people: a send's progress (counts by kind and status, the rate
over the last minute, the time left, the failures with their SMTP replies) per event and per
organization, and the operator's tools (status by age, retrying failed rows, one row in full).

Reads only, except `retry_failed` / `retry_one`, which put failed rows back in the queue (the
caller enqueues the rows they return). The API, the console and `events-svc outbox` call these.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from events_svc import sendrate
from events_svc.errors import Conflict, NotFound
from events_svc.notifications.records import DeliveriesRecord, FailureRecord, RequeuedRecord
from events_svc.notifications.tables import Notification
from events_svc.settings import Settings, get_settings

#: the window the send rate is measured over
RATE_WINDOW = timedelta(minutes=1)

_VISIBLE = "(e.org = {} OR {} = ANY(e.cohosts))"

_COUNTS = (
    "SELECT n.kind, CASE WHEN n.status = 'queued' AND n.next_attempt_at > {} THEN 'scheduled'"
    " ELSE n.status END AS status, count(*) AS n,"
    " count(*) FILTER (WHERE n.status = 'sent' AND n.sent_at >= {}) AS recent"
    " FROM notification n JOIN event e ON e.id = n.event WHERE %WHERE% GROUP BY 1, 2"
)

_FAILURES = (
    "SELECT n.id, n.event AS event_id, n.kind, p.email, n.attempts, n.last_error AS smtp_reply,"
    " n.created_at, n.next_attempt_at AS last_attempt_due_at"
    " FROM notification n JOIN event e ON e.id = n.event JOIN person p ON p.id = n.person"
    " WHERE n.status = 'failed' AND %WHERE%"
    # keyset paging: the page starts after the last (created_at, id) given
    " AND ({}::boolean OR (n.created_at, n.id) > ({}::timestamptz, {}::uuid))"
    " ORDER BY n.created_at, n.id LIMIT {}"
)


async def _capped(
    summary: DeliveriesRecord, *, org_id: uuid.UUID, settings: Settings | None, redis: Any
) -> DeliveriesRecord:
    """Under a send-rate cap (SEND_RATE_*), the time left follows the cap and the
    organization's share of it (`rate_cap_per_second`), not only the last minute's pace."""
    settings = settings or get_settings()
    if not settings.send_capped:
        return summary
    share = await sendrate.org_share(redis, settings, org_id)
    eta = sendrate.eta_seconds(
        settings, remaining=summary.remaining, share=share, measured=summary.rate_per_second
    )
    return replace(summary, rate_cap_per_second=share, eta_seconds=eta)


def _progress(rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> DeliveriesRecord:
    counts: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    recent = 0
    for r in rows:
        counts.setdefault(r["kind"], {})[r["status"]] = int(r["n"])
        totals[r["status"]] = totals.get(r["status"], 0) + int(r["n"])
        recent += int(r["recent"])
    remaining = totals.get("queued", 0) + totals.get("sending", 0)
    rate = recent / RATE_WINDOW.total_seconds()
    return DeliveriesRecord(
        counts=counts,
        totals=totals,
        sent_last_minute=recent,
        rate_per_second=round(rate, 3),
        remaining=remaining,
        # rows due now (or being sent) at the last minute's pace; None when nothing moved
        eta_seconds=round(remaining / rate, 1)
        if rate > 0 and remaining
        else (0.0 if not remaining else None),
        failures=[FailureRecord(**f) for f in failures],
    )


async def _visible_event(*, org_id: uuid.UUID, event_id: uuid.UUID) -> uuid.UUID:
    """The event's host organization, when the caller may see the event."""
    found = await Notification.raw(
        "SELECT e.org FROM event e WHERE e.id = {} AND " + _VISIBLE,  # noqa: S608 - constants
        event_id,
        org_id,
        org_id,
    )
    if not found:
        raise NotFound("event not found")
    host: uuid.UUID = found[0]["org"]
    return host


#: where a page of failures starts: after this (created_at, id), or at the first
After = tuple[datetime, uuid.UUID] | None


def _after(after: After) -> tuple[bool, datetime | None, uuid.UUID | None]:
    return (after is None, after[0] if after else None, after[1] if after else None)


async def event_deliveries(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    now: datetime,
    after: After,
    limit: int,
    settings: Settings | None = None,
    redis: Any = None,
) -> DeliveriesRecord:
    """An event's send: counts, rate, time left, and a page of its failures (`limit` + 1
    rows are read, so the caller can tell whether another page follows). Under a send-rate
    cap the time left is the host organization's share of it (`redis`: where the share is
    kept)."""
    host = await _visible_event(org_id=org_id, event_id=event_id)
    rows = await Notification.raw(
        _COUNTS.replace("%WHERE%", "n.event = {}"), now, now - RATE_WINDOW, event_id
    )
    failures = await Notification.raw(
        _FAILURES.replace("%WHERE%", "n.event = {}"), event_id, *_after(after), limit
    )
    return await _capped(
        _progress(list(rows), list(failures)), org_id=host, settings=settings, redis=redis
    )


async def org_deliveries(
    *,
    org_id: uuid.UUID,
    now: datetime,
    after: After,
    limit: int,
    settings: Settings | None = None,
    redis: Any = None,
) -> DeliveriesRecord:
    """The same over every event the organization hosts or co-hosts."""
    rows = await Notification.raw(
        _COUNTS.replace("%WHERE%", _VISIBLE), now, now - RATE_WINDOW, org_id, org_id
    )
    failures = await Notification.raw(
        _FAILURES.replace("%WHERE%", _VISIBLE), org_id, org_id, *_after(after), limit
    )
    return await _capped(
        _progress(list(rows), list(failures)), org_id=org_id, settings=settings, redis=redis
    )


_RETURNING = " RETURNING id, key, attempts, next_attempt_at"


async def retry_one(
    *, org_id: uuid.UUID, event_id: uuid.UUID, notification_id: uuid.UUID, now: datetime
) -> RequeuedRecord:
    """A failed message of the event goes back to the queue, due now; 409 unless failed."""
    await _visible_event(org_id=org_id, event_id=event_id)
    rows = await Notification.raw(
        "UPDATE notification SET status = 'queued', next_attempt_at = {}, claimed_at = NULL"  # noqa: S608
        " WHERE id = {} AND event = {} AND status = 'failed'" + _RETURNING,
        now,
        notification_id,
        event_id,
    )
    if rows:
        return RequeuedRecord(**rows[0])
    found = await Notification.raw(
        "SELECT status FROM notification WHERE id = {} AND event = {}", notification_id, event_id
    )
    if not found:
        raise NotFound("notification not found")
    raise Conflict(f"only a failed message can be retried; this one is {found[0]['status']}")


async def retry_failed(
    *, now: datetime, event_id: uuid.UUID | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every failed row (of one event; whose last attempt was due since `since`) queued again,
    due now. For the operator after an outage that outlasted the retries."""
    where = ["status = 'failed'"]
    args: list[Any] = [now]
    if event_id is not None:
        where.append("event = {}")
        args.append(event_id)
    if since is not None:
        where.append("next_attempt_at >= {}")
        args.append(since)
    rows = await Notification.raw(
        "UPDATE notification SET status = 'queued', next_attempt_at = {}, claimed_at = NULL"  # noqa: S608
        " WHERE " + " AND ".join(where) + _RETURNING,
        *args,
    )
    return list(rows)


async def outbox_status(*, now: datetime) -> list[dict[str, Any]]:
    """Rows by status and age (since queued): under an hour, a day, a week, older; and the
    oldest of each status."""
    rows = await Notification.raw(
        "SELECT CASE WHEN status = 'queued' AND next_attempt_at > {} THEN 'scheduled'"
        " ELSE status END AS status,"
        " count(*) FILTER (WHERE created_at >= {}) AS under_1h,"
        " count(*) FILTER (WHERE created_at < {} AND created_at >= {}) AS under_1d,"
        " count(*) FILTER (WHERE created_at < {} AND created_at >= {}) AS under_7d,"
        " count(*) FILTER (WHERE created_at < {}) AS older,"
        " count(*) AS total, min(created_at) AS oldest"
        " FROM notification GROUP BY 1 ORDER BY 1",
        now,
        now - timedelta(hours=1),
        now - timedelta(hours=1),
        now - timedelta(days=1),
        now - timedelta(days=1),
        now - timedelta(days=7),
        now - timedelta(days=7),
    )
    return list(rows)


async def outbox_row(notification_id: uuid.UUID) -> dict[str, Any] | None:
    """One row in full, with the recipient and the event's title (payload left out)."""
    rows = await Notification.raw(
        "SELECT n.id, n.key, n.kind, n.status, n.event AS event_id, e.title AS event_title,"
        " o.slug AS org, p.email, n.sequence, n.occurrence, n.detail, n.attempts,"
        " n.next_attempt_at, n.claimed_at, n.claimed_by, n.last_error, n.message_id,"
        " n.smtp_response, n.sent_sequence, n.sent_at, n.created_at"
        " FROM notification n JOIN event e ON e.id = n.event"
        " JOIN organization o ON o.id = e.org JOIN person p ON p.id = n.person WHERE n.id = {}",
        notification_id,
    )
    return dict(rows[0]) if rows else None
