"""What one worker holds: the rows it has claimed (their lease renewed with its heartbeat),
the outcomes it could not record yet (the database was away), and how many rows it may claim
ahead of its SMTP connections.

A claim is fenced by the row's `attempts`, which every claim raises: an outcome is written,
and a message handed to SMTP, only while the row still carries the attempt this worker took.
A worker paused past its heartbeat finds its rows taken over and sends none of them.

Why a worker may hand a message to SMTP without asking the database first, as long as this
worker itself set the row's `claimed_at` (its claim, or a lease renewal that found the row
still carrying its `attempts`) less than `fence_window` seconds ago by its own monotonic
clock: the claim statement (`claims.claim_many`) is the only thing that takes a row in
`sending` away from its worker, and it does so only when `claimed_at` is older than the lease,
or older than ORPHAN_AFTER (6 s) while the worker's heartbeat has lapsed. `fence_window` is
at most a third of both, so within it no other worker can have taken the row, even with
clocks between hosts a few seconds apart. A worker that was paused (SIGSTOP, a swapped-out
VM) wakes up with its monotonic clock moved on: the window has passed, and it asks the
database (`claims.still_claimed`) before every send, as before. The check and the hand-over
to SMTP run with no await between them. The heartbeat renews every second, so a worker that
is not stalled never needs the query.
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

import asyncpg

from events_svc.database import fetch
from events_svc.jobs import BATCH_SIZE, ORPHAN_AFTER
from events_svc.notifications.tables import Notification
from events_svc.outages import database_unavailable

log = logging.getLogger("events_svc.notifications.flight")

#: an outcome to write once the database is back; returns webhook rows to enqueue
Record = Callable[[], Awaitable[Sequence[dict[str, Any]]]]

#: rows claimed ahead: enough for this many seconds of sending at the measured rate ...
AHEAD_SECONDS = 2.0
#: ... but never fewer than this many per SMTP connection, nor more than this many (enough
#: for two and a half batch jobs (jobs.BATCH_SIZE): the next job claims while one is sending)
MIN_PER_CONNECTION = 2
MAX_PER_CONNECTION = 25
#: seconds since this worker last set a row's `claimed_at` within which it sends without a
#: fence query (see the module's docstring); capped at a third of the lease and ORPHAN_AFTER
FENCE_WINDOW = 2.0
#: batch jobs a worker takes from the queue beyond the rows it may hold claimed: enough that
#: its SMTP connections never wait for a claim, few enough that another worker gets the rest
WAITING_JOBS = 2
#: seconds between two estimates of the limit
LIMIT_EVERY = 0.05


class Flight:
    def __init__(self, *, connections: int, lease: float = 60.0) -> None:
        self.connections = connections
        #: row id -> the `attempts` value of this worker's claim (the fence)
        self.claims: dict[uuid.UUID, int] = {}
        #: row id -> when (time.monotonic()) this worker last set its `claimed_at`
        self.fresh: dict[uuid.UUID, float] = {}
        self.fence_window = min(FENCE_WINDOW, lease / 3, ORPHAN_AFTER / 3)
        self.recorder = SentRecorder()
        #: row id -> its outcome, to write when the database answers again
        self.pending: dict[uuid.UUID, Record] = {}
        self._held = 0
        #: set whenever rows are given back: batches waiting for room look again
        self._room = asyncio.Event()
        self._limit, self._limit_at = 0, float("-inf")
        self._sent: collections.deque[float] = collections.deque(maxlen=512)

    # --- how much to claim -------------------------------------------------------------------

    def limit(self) -> int:
        """Rows this worker may hold claimed at once: what it sends in AHEAD_SECONDS at the
        rate of the last sends, within bounds set by its SMTP connections (worked out at most
        every LIMIT_EVERY seconds: it is asked for each row that finishes)."""
        now = time.monotonic()
        if now - self._limit_at < LIMIT_EVERY:
            return self._limit
        low = self.connections * MIN_PER_CONNECTION
        high = self.connections * MAX_PER_CONNECTION
        recent = [t for t in self._sent if now - t <= 5.0]
        if len(recent) < 8:
            limit = high  # no measure yet: the connections' worth
        else:
            span = max(now - recent[0], 0.05)
            rate = len(recent) / span
            limit = max(low, min(high, int(rate * AHEAD_SECONDS) + 1))
        self._limit, self._limit_at = limit, now
        return limit

    @contextlib.asynccontextmanager
    async def budget(self, rows: int) -> AsyncIterator[Callable[[], None]]:
        """Wait until `rows` more may be claimed (a batch larger than the limit goes alone).
        Yields a function that gives one row's share back as soon as that row is done, so the
        next batch is claimed while the last rows of this one are still being sent."""
        while not (self._held == 0 or self._held + rows <= self.limit()):
            self._room.clear()
            await self._room.wait()
        self._held += rows
        left = rows

        def done_one() -> None:
            nonlocal left
            if left > 0:
                left -= 1
                self._held -= 1
                self._room.set()

        try:
            yield done_one
        finally:
            self._held -= left
            left = 0
            self._room.set()

    def take_limit(self) -> int:
        """Rows of send jobs this worker takes from the queue at most (claimed or about to
        be): what it may hold claimed, and WAITING_JOBS batches more. The rest stays in the
        queue for whichever worker has room first."""
        return self.limit() + WAITING_JOBS * BATCH_SIZE

    def sent_one(self) -> None:
        self._sent.append(time.monotonic())

    # --- claims and their fence --------------------------------------------------------------

    def hold(self, rows: Sequence[dict[str, Any]], *, claimed: float | None = None) -> None:
        """Rows this worker claimed; `claimed`: when (time.monotonic()) their `claimed_at`
        was taken (None: not known to be recent, so each send asks the database)."""
        for row in rows:
            self.claims[row["id"]] = row["attempts"]
            if claimed is not None:
                self.fresh[row["id"]] = claimed

    def fenced(self, row: dict[str, Any]) -> bool:
        """Whether the row is certainly still this claim's, without asking the database:
        its claim or lease renewal is recent enough that nobody can have taken it over."""
        since = self.fresh.get(row["id"])
        return (
            since is not None
            and self.claims.get(row["id"]) == row["attempts"]
            and time.monotonic() - since < self.fence_window
        )

    def drop(self, notification_id: uuid.UUID) -> None:
        if notification_id not in self.pending:
            self.claims.pop(notification_id, None)
            self.fresh.pop(notification_id, None)

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
        attempts = [self.claims[i] for i in ids]
        # taken before the statement: `claimed_at` is set to a time no earlier than this
        renewed = time.monotonic()
        rows = await fetch(
            _LOCK_IN_ORDER  # noqa: S608 - constants
            + "UPDATE notification n SET claimed_at = $2"
            " FROM unnest($1::uuid[], $3::int[]) AS c(id, attempts), locked"
            " WHERE n.id = c.id AND n.id = locked.id AND n.attempts = c.attempts"
            " AND n.status = 'sending' RETURNING n.id",
            ids,
            datetime.now(UTC),
            attempts,
        )
        fenced = dict(zip(ids, attempts, strict=True))
        for row in rows:
            # still this worker's (the same attempt as when the renewal was sent)
            if self.claims.get(row["id"]) == fenced[row["id"]]:
                self.fresh[row["id"]] = renewed
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
            self.fresh.pop(notification_id, None)
        return hooks


#: rows written by one statement at most
RECORD_MAX = 200


class SentRecorder:
    """Writes the outcomes of accepted messages, many rows in one statement (group commit):
    a message's outcome is written at once when no write is under way, else with the others
    that came in meanwhile as soon as that write returns. So nothing waits on purpose, and
    the messages accepted but not yet recorded (what a crash would send twice) are no more
    than with one statement per message, while a busy worker writes tens of rows a
    statement. Each row is written only while it still carries its claim's `attempts`."""

    def __init__(self) -> None:
        self._queue: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, entry: dict[str, Any]) -> bool:
        """Write one accepted message (`id`, `attempts`, `sent_at`, `message_id`, `response`,
        `sequence`, `payload`); True when the row was still this claim's."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # a caller cancelled meanwhile leaves its outcome unread: not an error worth a log
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append((entry, future))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        # shielded: a cancelled caller hands its row to Flight.keep, the write goes on
        return await asyncio.shield(future)

    async def _run(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:RECORD_MAX], self._queue[RECORD_MAX:]
                try:
                    written = await _write_with_retry([entry for entry, _ in batch])
                except asyncio.CancelledError:
                    for _, future in batch + self._queue:
                        future.cancel()
                    self._queue = []
                    raise
                except Exception as exc:  # noqa: BLE001 - each caller decides what it means
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for entry, future in batch:
                    if not future.done():
                        future.set_result(entry["id"] in written)
        finally:
            self._task = None


#: Multi-row updates of the outbox (the grouped outcome write, the lease renewal) lock their
#: rows in id order first: two of them locking the same rows in the orders their joins
#: happened to produce deadlocked (PostgreSQL aborted one, and its messages, accepted by SMTP,
#: were left `sending`, to be sent again after the lease). One parameter: the ids.
_LOCK_IN_ORDER = (
    "WITH locked AS MATERIALIZED (SELECT id FROM notification WHERE id = ANY($1::uuid[])"
    " ORDER BY id FOR UPDATE) "
)

#: a grouped write aborted as a deadlock victim anyway (by a statement of another kind) is
#: tried again this many times before its callers hear of the error
DEADLOCK_RETRIES = 3


async def _write_with_retry(entries: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            return await _write_sent(entries)
        except asyncpg.exceptions.DeadlockDetectedError:
            if attempt == DEADLOCK_RETRIES:
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


async def _write_sent(entries: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    # asyncpg directly (database.fetch): the statement runs for every few messages sent
    rows = await fetch(
        _LOCK_IN_ORDER  # noqa: S608 - constants
        + "UPDATE notification n SET status = 'sent', sent_at = u.sent_at,"
        " message_id = u.message_id, smtp_response = u.response, sent_sequence = u.sequence,"
        " last_error = '', payload = u.payload::jsonb, claimed_at = NULL"
        " FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::text[], $5::text[],"
        " $6::int[], $7::text[]) AS u(id, attempts, sent_at, message_id, response, sequence,"
        " payload), locked WHERE n.id = u.id AND n.id = locked.id AND n.attempts = u.attempts"
        " AND n.status = 'sending' RETURNING n.id",
        [e["id"] for e in entries],
        [e["attempts"] for e in entries],
        [e["sent_at"] for e in entries],
        [e["message_id"] for e in entries],
        [e["response"][:2000] for e in entries],
        [e["sequence"] for e in entries],
        [e["payload"] for e in entries],
    )
    return {r["id"] for r in rows}
