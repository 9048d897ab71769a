"""How sends are going: per event, the messages of the last day (reminders aside) sent,
failed and still to go, the rate of the last minute and the time left at that rate; and the
failures an organizer should look at. Read-only queries over the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events_svc.notifications.tables import Notification

#: a send is the messages an event queued within this window
WINDOW = timedelta(days=1)
#: a finished send stays on the home page this long
SHOW_FINISHED_FOR = timedelta(minutes=15)
RATE_OVER = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class Progress:
    event_id: uuid.UUID
    title: str
    total: int
    sent: int
    failed: int
    pending: int
    per_minute: float  #: messages sent in the last minute
    seconds_left: int | None  #: at that rate; None while nothing goes out

    @property
    def done(self) -> bool:
        return self.pending == 0


@dataclass(frozen=True, slots=True)
class Failure:
    event_id: uuid.UUID
    title: str
    email: str
    kind: str
    error: str
    at: datetime


_SENDS = (
    "SELECT e.id AS event_id, e.title, count(*) AS total,"
    " count(*) FILTER (WHERE n.status IN ('sent', 'skipped')) AS sent,"
    " count(*) FILTER (WHERE n.status = 'failed') AS failed,"
    " count(*) FILTER (WHERE n.status IN ('queued', 'sending')) AS pending,"
    " count(*) FILTER (WHERE n.status = 'sent' AND n.sent_at > {}) AS recent,"
    " max(n.sent_at) AS last_sent"
    " FROM notification n JOIN event e ON e.id = n.event"
    " WHERE {} AND n.kind <> 'reminder' AND n.created_at > {}"
    " GROUP BY e.id, e.title"
)


def _progress(row: dict[str, object]) -> Progress:
    recent = int(row["recent"])  # type: ignore[call-overload]
    pending = int(row["pending"])  # type: ignore[call-overload]
    per_minute = recent * 60.0 / RATE_OVER
    left = None if not recent else int(pending / (recent / RATE_OVER))
    return Progress(
        event_id=row["event_id"],  # type: ignore[arg-type]
        title=str(row["title"]),
        total=int(row["total"]),  # type: ignore[call-overload]
        sent=int(row["sent"]),  # type: ignore[call-overload]
        failed=int(row["failed"]),  # type: ignore[call-overload]
        pending=pending,
        per_minute=per_minute,
        seconds_left=left if pending else 0,
    )


async def sends_in_progress(*, org_id: uuid.UUID, now: datetime | None = None) -> list[Progress]:
    """The organization's events with messages still to go, or finished a moment ago."""
    now = now or datetime.now(UTC)
    rows = await Notification.raw(
        _SENDS.format("{}", "e.org = {}", "{}")
        + " HAVING count(*) FILTER (WHERE n.status IN ('queued', 'sending')) > 0"
        " OR max(n.sent_at) > {} ORDER BY min(n.created_at) DESC LIMIT 20",
        now - timedelta(seconds=RATE_OVER),
        org_id,
        now - WINDOW,
        now - SHOW_FINISHED_FOR,
    )
    return [_progress(dict(r)) for r in rows]


async def event_progress(*, event_id: uuid.UUID, now: datetime | None = None) -> Progress | None:
    """One event's send (the caller has checked that the event is theirs)."""
    now = now or datetime.now(UTC)
    rows = await Notification.raw(
        _SENDS.format("{}", "e.id = {}", "{}"),
        now - timedelta(seconds=RATE_OVER),
        event_id,
        now - WINDOW,
    )
    return _progress(dict(rows[0])) if rows else None


async def failures(
    *, org_id: uuid.UUID, now: datetime | None = None, limit: int = 20
) -> list[Failure]:
    """Messages of the last week that failed for good: the organizer may fix an address
    and resend."""
    now = now or datetime.now(UTC)
    rows = await Notification.raw(
        "SELECT e.id AS event_id, e.title, p.email, n.kind, n.last_error,"
        " coalesce(n.claimed_at, n.created_at) AS at"
        " FROM notification n JOIN event e ON e.id = n.event JOIN person p ON p.id = n.person"
        " WHERE e.org = {} AND n.status = 'failed' AND n.created_at > {}"
        " ORDER BY n.created_at DESC LIMIT {}",
        org_id,
        now - timedelta(days=7),
        limit,
    )
    return [
        Failure(
            event_id=r["event_id"],
            title=r["title"],
            email=r["email"],
            kind=r["kind"],
            error=r["last_error"],
            at=r["at"],
        )
        for r in rows
    ]
