"""Answer 503 at once while PostgreSQL does not answer, instead of letting requests hang.

A connection refused or dropped already fails fast (and becomes a 503 in `errors`). A frozen
or unreachable server is the hard case: queries just wait. So each API process keeps a watch
on the database: a `SELECT 1` on its own connection every half second, with a short timeout.
While the watch says "down", new requests get a 503 problem with Retry-After straight away,
and requests already waiting on the database are answered 503 the moment the watch notices
(their work is cancelled; an unfinished transaction never commits). Statements themselves
keep a generous timeout, so a legitimately large write is never cut short.

The request middleware (`metrics_http.request_middleware`) does the per-request part without
a task of its own per request: each request in flight is a `Waiter` in the watch's set, and
the watch, when it notices, answers those whose answer has not started and cancels their work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import asyncpg
import msgspec
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Scope, Send

from events_svc.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, RETRY_AFTER_OUTAGE, Problem

log = logging.getLogger("events_svc.availability")

#: how often the watch asks, and how long an answer may take before the server counts as down
WATCH_EVERY = 0.5
#: routes that answer without the database (or report on it themselves)
UNWATCHED = ("/healthz", "/readyz")


class Waiter(Protocol):
    """A request in flight while the database may stop answering."""

    def database_down(self) -> None:
        """Answer 503 now unless the answer has started, and stop the request's work."""


class DatabaseWatch:
    def __init__(self, dsn: str, *, timeout: float) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.down = False
        #: requests in flight (the middleware adds and removes them): answered 503 when the
        #: database stops answering
        self.waiting: set[Waiter] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        # the flag as well as the cancel: Python 3.11's wait_for can swallow a cancellation
        # that arrives as its query completes, and the loop would then go on for ever
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while not self._stopping:
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self.dsn, timeout=self.timeout)
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), self.timeout)
                except Exception as exc:  # noqa: BLE001 - every failure means "not answering"
                    if conn is not None:
                        conn.terminate()  # a frozen connection would hang a polite close
                        conn = None
                    self._mark(down=True, reason=exc)
                else:
                    self._mark(down=False)
                await asyncio.sleep(WATCH_EVERY)
        finally:
            if conn is not None:
                conn.terminate()

    def _mark(self, *, down: bool, reason: BaseException | None = None) -> None:
        if down and not self.down:
            log.warning("PostgreSQL is not answering (%r): API answers 503", reason)
            self.down = True
            for waiter in list(self.waiting):
                waiter.database_down()
        elif not down and self.down:
            log.info("PostgreSQL answers again")
            self.down = False


def _problem_body(path: str) -> bytes:
    return msgspec.json.encode(
        Problem(
            type=PROBLEM_BASE + "unavailable",
            title="Service unavailable",
            status=503,
            detail="the database is unavailable for a moment; try again shortly",
            instance=path,
        )
    )


_RETRY_AFTER = (b"retry-after", str(RETRY_AFTER_OUTAGE).encode())
_PROBLEM_TYPE = (b"content-type", PROBLEM_MEDIA_TYPE.encode())


async def send_503(scope: Scope, send: Send, extra_headers: list[tuple[bytes, bytes]]) -> None:
    """The 503 problem document with Retry-After (and `extra_headers`), on `send`."""
    body = _problem_body(str(scope.get("path", "")))
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            _PROBLEM_TYPE,
            (b"content-length", str(len(body)).encode()),
            _RETRY_AFTER,
            *extra_headers,
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def watch_of(scope: Scope) -> DatabaseWatch | None:
    """The app's watch when this request is one it guards (not /healthz, /readyz)."""
    if scope["path"] in UNWATCHED:
        return None
    watch: DatabaseWatch | None = getattr(scope["app"].state, "database_watch", None)
    return watch
