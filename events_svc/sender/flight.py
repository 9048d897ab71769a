"""What one worker holds: the rows it has claimed (their lease renewed with its heartbeat),
the outcomes it could not record yet (the database was away), and how many rows it may claim
ahead of its SMTP connections.

A claim is fenced by the row's `attempts`, which every claim raises: an outcome is written,
and a message handed to SMTP, only while the row still carries the attempt this worker took.
A worker paused past its heartbeat finds its rows taken over and sends none of them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from events_svc.notifications.tables import Notification
from events_svc.outages import database_unavailable

log = logging.getLogger("events_svc.notifications.flight")

#: an outcome to write once the database is back; returns webhook rows to enqueue
Record = Callable[[], Awaitable[Sequence[dict[str, Any]]]]

#: rows claimed ahead: enough for this many seconds of sending at the measured rate ...
AHEAD_SECONDS = 2.0
#: ... but never fewer than this many per SMTP connection, nor more than this many
MIN_PER_CONNECTION = 2
MAX_PER_CONNECTION = 20


class Flight:
    def __init__(self, *, connections: int) -> None:
        self.connections = connections
        #: row id -> the `attempts` value of this worker's claim (the fence)
        self.claims: dict[uuid.UUID, int] = {}
        #: row id -> its outcome, to write when the database answers again
        self.pending: dict[uuid.UUID, Record] = {}
        self._held = 0
        self._changed = asyncio.Condition()
        self._sent: collections.deque[float] = collections.deque(maxlen=512)

    # --- how much to claim -------------------------------------------------------------------

    def limit(self) -> int:
        """Rows this worker may hold claimed at once: what it sends in AHEAD_SECONDS at the
        rate of the last sends, within bounds set by its SMTP connections."""
        low = self.connections * MIN_PER_CONNECTION
        high = self.connections * MAX_PER_CONNECTION
        now = time.monotonic()
        recent = [t for t in self._sent if now - t <= 5.0]
        if len(recent) < 8:
            return high  # no measure yet: the connections' worth
        span = max(now - recent[0], 0.05)
        rate = len(recent) / span
        return max(low, min(high, int(rate * AHEAD_SECONDS) + 1))

    @contextlib.asynccontextmanager
    async def budget(self, rows: int) -> AsyncIterator[None]:
        """Wait until `rows` more may be claimed (a batch larger than the limit goes alone)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._held == 0 or self._held + rows <= self.limit()
            )
            self._held += rows
        try:
            yield
        finally:
            async with self._changed:
                self._held -= rows
                self._changed.notify_all()

    def sent_one(self) -> None:
        self._sent.append(time.monotonic())

    # --- claims and their fence --------------------------------------------------------------

    def hold(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            self.claims[row["id"]] = row["attempts"]

    def drop(self, notification_id: uuid.UUID) -> None:
        if notification_id not in self.pending:
            self.claims.pop(notification_id, None)

    def keep(self, notification_id: uuid.UUID, record: Record) -> None:
        """The database is away: write this outcome when it is back (the row stays claimed by
        this worker meanwhile, its lease renewed, so nobody sends it again)."""
        self.pending[notification_id] = record

    async def renew(self) -> int:
        """Renew the lease of every row this worker still works on (called with the heartbeat):
        a slow SMTP server never makes a row look abandoned. Holding nothing, it still asks
        the database something, so an idle worker notices an outage and its end too."""
        if not self.claims:
            await Notification.raw("SELECT 1")
            return 0
        ids = list(self.claims)
        rows = await Notification.raw(
            "UPDATE notification n SET claimed_at = {} FROM unnest({}::uuid[], {}::int[])"
            " AS c(id, attempts) WHERE n.id = c.id AND n.attempts = c.attempts"
            " AND n.status = 'sending' RETURNING n.id",
            datetime.now(UTC),
            ids,
            [self.claims[i] for i in ids],
        )
        return len(rows)

    async def flush(self) -> list[dict[str, Any]]:
        """Write the outcomes kept while the database was away; returns webhook rows."""
        hooks: list[dict[str, Any]] = []
        for notification_id, record in list(self.pending.items()):
            try:
                hooks.extend(await record())
            except Exception as exc:
                if database_unavailable(exc):
                    break  # still away: keep everything for the next beat
                log.exception("recording the outcome of %s failed", notification_id)
            self.pending.pop(notification_id, None)
            self.claims.pop(notification_id, None)
        return hooks
