"""How sends are going: per event, the messages of the last day (reminders aside) sent,
failed and still to go, the rate of the last minute and the time left at that rate; and the
failures an organizer should look at. Read-only queries over the outbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from events_svc import sendrate
from events_svc.notifications.tables import Notification
from events_svc.settings import get_settings

#: a send is the messages an event queued within this window
WINDOW = timedelta(days=1)
#: a finished send stays on the home page this long
SHOW_FINISHED_FOR = timedelta(minutes=15)
RATE_OVER = 60.0  # seconds
#: counting a send of 10,000 rows costs ~5 ms: each count is kept this long in Redis, so
#: many organizers (and their pages' 2-second polls) share one (the numbers lag by at most it)
CACHE_MS = 1500
CACHE_PREFIX = "events-svc:progress:"
T = TypeVar("T")


async def _cached(
    redis: Any | None,
    key: str,
    compute: Callable[[], Awaitable[T]],
    dump: Callable[[T], Any],
    load: Callable[[Any], T],
) -> T:
    """`compute()`, or its value of less than CACHE_MS ago. Redis failing is no error here:
    the count is made again."""
    if redis is not None:
        try:
            raw = await redis.get(CACHE_PREFIX + key)
        except Exception:  # noqa: BLE001 - a cache that is away is only slower
            raw = None
        if raw is not None:
            return load(json.loads(raw))
    value = await compute()
    if redis is not None:
        try:
            await redis.set(CACHE_PREFIX + key, json.dumps(dump(value), default=str), px=CACHE_MS)
        except Exception:  # noqa: BLE001, S110 - see above
            pass
    return value


def _dump_progress(p: Progress | None) -> Any:
    return None if p is None else asdict(p)


def _load_progress(raw: Any) -> Progress | None:
    return None if raw is None else Progress(**{**raw, "event_id": uuid.UUID(raw["event_id"])})


@dataclass(frozen=True, slots=True)
class Progress:
    event_id: uuid.UUID
    title: str
    total: int
    sent: int
    failed: int
    pending: int
    per_minute: float  #: messages sent in the last minute
    #: at that rate, or under a send-rate cap at the organization's share of the cap; None
    #: while nothing goes out and nothing caps the rate
    seconds_left: int | None

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
    "SELECT e.id AS event_id, e.title, e.org, count(*) AS total,"
    " count(*) FILTER (WHERE n.status IN ('sent', 'skipped')) AS sent,"
    " count(*) FILTER (WHERE n.status = 'failed') AS failed,"
    " count(*) FILTER (WHERE n.status IN ('queued', 'sending')) AS pending,"
    " count(*) FILTER (WHERE n.status = 'sent' AND n.sent_at > {}) AS recent,"
    " max(n.sent_at) AS last_sent"
    " FROM notification n JOIN event e ON e.id = n.event"
    " WHERE {} AND n.kind <> 'reminder' AND n.created_at > {}"
    " GROUP BY e.id, e.title"
)


async def _share(cache: Any | None, org_id: object) -> float | None:
    """The organization's share of the send-rate cap (None without a per-second cap)."""
    settings = get_settings()
    if not settings.send_capped:
        return None
    return await sendrate.org_share(cache, settings, str(org_id))


def _progress(row: dict[str, object], share: float | None = None) -> Progress:
    recent = int(row["recent"])  # type: ignore[call-overload]
    pending = int(row["pending"])  # type: ignore[call-overload]
    per_minute = recent * 60.0 / RATE_OVER
    left = None if not recent else int(pending / (recent / RATE_OVER))
    settings = get_settings()
    if settings.send_capped:
        # the same time left as the API's (`deliveries`): from the cap and the share
        eta = sendrate.eta_seconds(
            settings, remaining=pending, share=share, measured=recent / RATE_OVER
        )
        left = None if eta is None else int(eta)
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


async def sends_in_progress(
    *, org_id: uuid.UUID, now: datetime | None = None, cache: Any | None = None
) -> list[Progress]:
    """The organization's events with messages still to go, or finished a moment ago."""
    return await _cached(
        cache,
        f"org:{org_id}",
        lambda: _sends_in_progress(org_id=org_id, now=now, cache=cache),
        lambda rows: [asdict(r) for r in rows],
        lambda raw: [p for p in (_load_progress(r) for r in raw) if p is not None],
    )


async def _sends_in_progress(
    *, org_id: uuid.UUID, now: datetime | None, cache: Any | None
) -> list[Progress]:
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
    share = await _share(cache, org_id)
    return [_progress(dict(r), share) for r in rows]


async def event_progress(
    *, event_id: uuid.UUID, now: datetime | None = None, cache: Any | None = None
) -> Progress | None:
    """One event's send (the caller has checked that the event is theirs)."""
    return await _cached(
        cache,
        f"event:{event_id}",
        lambda: _event_progress(event_id=event_id, now=now, cache=cache),
        _dump_progress,
        _load_progress,
    )


async def _event_progress(
    *, event_id: uuid.UUID, now: datetime | None, cache: Any | None
) -> Progress | None:
    now = now or datetime.now(UTC)
    rows = await Notification.raw(
        _SENDS.format("{}", "e.id = {}", "{}"),
        now - timedelta(seconds=RATE_OVER),
        event_id,
        now - WINDOW,
    )
    if not rows:
        return None
    return _progress(dict(rows[0]), await _share(cache, rows[0]["org"]))


async def failures(
    *, org_id: uuid.UUID, now: datetime | None = None, limit: int = 20, cache: Any | None = None
) -> list[Failure]:
    """Messages of the last week that failed for good: the organizer may fix an address
    and resend."""
    return await _cached(
        cache,
        f"failures:{org_id}",
        lambda: _failures(org_id=org_id, now=now, limit=limit),
        lambda rows: [asdict(r) for r in rows],
        lambda raw: [
            Failure(
                **{**r, "event_id": uuid.UUID(r["event_id"]), "at": datetime.fromisoformat(r["at"])}
            )
            for r in raw
        ],
    )


async def _failures(*, org_id: uuid.UUID, now: datetime | None, limit: int) -> list[Failure]:
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
