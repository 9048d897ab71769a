"""The audit record: who (an organizer, or an API key by its prefix) changed what, and when.

Written for every successful change request, console or API, right after the change
committed (`web/audit.py` hooks every request); a crash between the two can lose one entry,
never the change. Read per event (its activity) with the event's own access rules.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events_svc import database
from events_svc.organizers.tables import AuditEntry

MAX_LIST = 200


@dataclass(frozen=True, slots=True)
class Entry:
    actor: str
    action: str
    route: str
    subject: str
    status: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Note:
    """An entry to write together with the change it records (in the same statement), for a
    creation whose service does so: who, through which route, with which answer. The service
    adds the subject (what it made) and the time (`columns`)."""

    org_id: uuid.UUID
    actor: str
    action: str
    route: str
    status: int

    def columns(self, *, subject: str, at: datetime) -> tuple[Any, ...]:
        """Values for COLUMNS, in order: org, actor, action, route, subject, status, at (the
        entry's id is the database's `gen_random_uuid()`)."""
        return (
            self.org_id,
            self.actor[:300],
            self.action[:80],
            self.route[:200],
            subject[:300],
            self.status,
            at,
        )


#: the columns `Note.columns` gives values for, after the id
COLUMNS = "org, actor, action, route, subject, status, created_at"

#: at most this many entries go into one INSERT
BATCH_MAX = 500
_INSERT = (
    "INSERT INTO audit_entry (id, org, actor, action, route, subject, status, created_at)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::int[], $8::timestamptz[])"
)
_Row = tuple[uuid.UUID, uuid.UUID, str, str, str, str, int, datetime]


class _Writer:
    """Group commit for one event loop: entries that arrive while an INSERT is under way wait
    for the next one, and each caller returns once the INSERT holding its entry committed.
    Under load a change costs a share of one statement instead of a statement of its own;
    alone it costs the same one round trip as before."""

    def __init__(self) -> None:
        self.waiting: list[tuple[_Row, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    async def add(self, row: _Row) -> None:
        future = asyncio.get_running_loop().create_future()
        # retrieved here too: a caller that went away leaves nobody to read a failure
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.waiting.append((row, future))
        if self.task is None or self.task.done():
            # a fresh context: the writer must never run inside the caller's transaction
            self.task = asyncio.create_task(self._drain(), context=contextvars.Context())
        # a caller that goes away still has its entry written: the row is in `waiting`, and
        # the writer stores what it took whatever became of the future (no shield needed)
        await future

    async def _drain(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
            try:
                await _insert([row for row, _ in batch])
            except Exception:  # noqa: BLE001 - one bad entry must not cost the others theirs
                for row, future in batch:
                    try:
                        await _insert([row])
                    except Exception as exc:  # noqa: BLE001 - handed to its caller, who logs it
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if not future.done():
                            future.set_result(None)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


async def _insert(rows: list[_Row]) -> None:
    await database.fetch(_INSERT, *(list(column) for column in zip(*rows, strict=True)))


_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = (
    weakref.WeakKeyDictionary()
)


async def record(
    *, org_id: uuid.UUID, actor: str, action: str, route: str, subject: str, status: int
) -> None:
    """Write one entry; returns once it is stored (in one INSERT with the entries of other
    requests that were waiting at the same time). Not part of any transaction of the caller's."""
    loop = asyncio.get_running_loop()
    writer = _WRITERS.get(loop)
    if writer is None:
        writer = _WRITERS[loop] = _Writer()
    await writer.add(
        (
            uuid.uuid4(),
            org_id,
            actor[:300],
            action[:80],
            route[:200],
            subject[:300],
            status,
            datetime.now(UTC),
        )
    )


async def for_subject(*, subject: str, limit: int = MAX_LIST) -> list[Entry]:
    """The newest changes made to one thing (an event's id); the caller has checked that
    the reader may see that thing."""
    rows = await AuditEntry.raw(
        "SELECT actor, action, route, subject, status, created_at FROM audit_entry"
        " WHERE subject = {} ORDER BY created_at DESC LIMIT {}",
        subject,
        limit,
    )
    return [Entry(**r) for r in rows]
