"""The sender: claim a due outbox row, render it from the event as it is now, hand it to SMTP
and record the outcome (with a lease that a dead worker's rows are taken over by)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from events_svc import telemetry
from events_svc.events.tables import changed_occurrences
from events_svc.jobs import backoff
from events_svc.notifications.service import AGENDA_KINDS
from events_svc.notifications.tables import Notification
from events_svc.outages import database_unavailable
from events_svc.sender import reminder_qr
from events_svc.sender.claims import (
    claim,
    claim_many,
    still_claimed,
    waits_for_sibling,
)
from events_svc.sender.flight import Flight, Record, SentRecorder
from events_svc.sender.render import render
from events_svc.sender.skips import skip_reason
from events_svc.sender.smtp import NotSent, PermanentSendError, SmtpPool, TransientSendError
from events_svc.settings import Settings
from events_svc.webhooks import service as webhooks

# logger names are kept from before the sender had its own package (logs are filtered by them)
log = logging.getLogger("events_svc.notifications")

CLAIM_WAIT = 0.1  # seconds between claim attempts while a sibling message is being sent
CLAIM_WAITS = 50


# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["sent", "skipped", "failed", "retry", "noop"]
    detail: str = ""
    #: for "retry": when to try again, and the row for the next job id
    retry_at: datetime | None = None
    row: dict[str, Any] | None = None
    #: for "failed": the delivery.failed webhook rows, to enqueue (`enqueue_webhooks`)
    webhooks: Sequence[dict[str, Any]] = ()


async def deliver(
    *,
    notification_id: uuid.UUID,
    settings: Settings,
    smtp: SmtpPool,
    now: datetime | None = None,
    worker: str = "",
    live: Sequence[str] | None = None,
    flight: Flight | None = None,
) -> Outcome:
    """Claim, render, send and record one notification. Idempotent: a sent row is a no-op."""
    now = now or datetime.now(UTC)
    lease = settings.send_lease
    async with _budget(flight, 1):
        claimed_mono = _claimed_mark(now)
        row = await claim(
            notification_id=notification_id, now=now, lease=lease, worker=worker, live=live
        )
        for _ in range(CLAIM_WAITS):
            if row is not None or not await waits_for_sibling(notification_id, now=now):
                break
            # Another message to this person is in flight; it takes milliseconds, so wait
            # here rather than give the row back (the sweep would still pick it up).
            await asyncio.sleep(CLAIM_WAIT)
            now = datetime.now(UTC)
            claimed_mono = _claimed_mark(now)
            row = await claim(
                notification_id=notification_id, now=now, lease=lease, worker=worker, live=live
            )
        if row is None:
            return Outcome("noop")
        if flight is not None:
            flight.hold([row], claimed=claimed_mono)
        return await _process(row, settings=settings, smtp=smtp, now=now, flight=flight)


async def deliver_many(
    *,
    notification_ids: Sequence[uuid.UUID],
    settings: Settings,
    smtp: SmtpPool,
    now: datetime | None = None,
    worker: str = "",
    live: Sequence[str] | None = None,
    flight: Flight | None = None,
) -> tuple[list[Outcome], list[uuid.UUID]]:
    """Claim several rows at once and send them side by side over the SMTP pool; each row is
    still recorded as soon as its own message is accepted. Returns the outcomes and the ids
    that could not be claimed while due (a sibling in flight), for the caller to retry one by
    one. With a `flight`, no more rows are claimed than the worker can send soon."""
    async with _budget(flight, len(notification_ids)) as done_one:
        now = now or datetime.now(UTC)
        claimed_mono = _claimed_mark(now)
        rows = await claim_many(
            notification_ids=notification_ids,
            now=now,
            lease=settings.send_lease,
            worker=worker,
            live=live,
        )
        if flight is not None:
            flight.hold(rows, claimed=claimed_mono)
        for _ in range(len(notification_ids) - len(rows)):
            done_one()  # rows not claimed take no share of the budget
        claimed = {row["id"] for row in rows}
        blocked = [i for i in notification_ids if i not in claimed]
        try:
            if blocked:
                due = await Notification.raw(
                    "SELECT id FROM notification WHERE id = ANY({}::uuid[])"
                    " AND status = 'queued' AND next_attempt_at <= {}",
                    blocked,
                    now,
                )
                blocked = [r["id"] for r in due]
            await _load_occurrences(rows)
            await reminder_qr.load(rows)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            blocked = []  # each row's own processing below gives it back
        outcomes = await asyncio.gather(
            *(_process_one(row, settings, smtp, now, flight, done_one) for row in rows)
        )
    return list(outcomes), blocked


async def _process_one(
    row: dict[str, Any],
    settings: Settings,
    smtp: SmtpPool,
    now: datetime,
    flight: Flight | None,
    done_one: Callable[[], None],
) -> Outcome:
    try:
        return await _process(row, settings=settings, smtp=smtp, now=now, flight=flight)
    finally:
        done_one()


def _claimed_mark(now: datetime) -> float:
    """The monotonic instant matching `now`, the `claimed_at` a claim is about to write (a
    `now` from the past makes the claim look older, never fresher)."""
    return time.monotonic() - max((datetime.now(UTC) - now).total_seconds(), 0.0)


def _no_budget() -> None:
    pass


@contextlib.asynccontextmanager
async def _budget(flight: Flight | None, rows: int) -> AsyncIterator[Callable[[], None]]:
    if flight is None:
        yield _no_budget
        return
    async with flight.budget(rows) as done_one:
        yield done_one


async def _load_occurrences(rows: Sequence[dict[str, Any]]) -> None:
    """The changed occurrences of each series the rows are about, in one query for a whole
    batch (a fan-out is many rows about one event)."""
    series = list({r["event"] for r in rows if r["recurrence"] and "occurrences" not in r})
    if not series:
        return
    by_event = await changed_occurrences(series)
    for r in rows:
        if r["recurrence"] and "occurrences" not in r:
            r["occurrences"] = by_event[r["event"]]


#: a row whose processing raised something unexpected (not an SMTP answer, not the database
#: being away) is tried this many times in all, then ends `failed` with the error
MAX_UNEXPECTED_ATTEMPTS = 5


async def _process(
    row: dict[str, Any],
    *,
    settings: Settings,
    smtp: SmtpPool,
    now: datetime,
    flight: Flight | None = None,
) -> Outcome:
    """Decide, render, send and record one claimed row (which also carries its context).

    Whatever happens, the row ends recorded or handed back: no row stays `sending`. An
    outcome the database cannot take now is kept by the worker (`flight`) and written when
    it is back; a message SMTP accepted is never handed back to be sent again.
    """
    try:
        outcome, record = await _attempt(row, settings=settings, smtp=smtp, now=now, flight=flight)
    except asyncio.CancelledError:
        # the job was cancelled (its timeout, or the worker stopping): hand the row back
        if flight is not None:
            flight.keep(row["id"], _released(row))
        raise
    except NotSent:
        outcome, record = Outcome("noop", "the claim was taken over by another worker"), None
    except Exception as exc:
        if database_unavailable(exc):
            outcome, record = Outcome("noop", f"database unavailable: {exc}"), _released(row)
        else:
            log.exception("notification %s: unexpected error", row["id"])
            outcome, record = _unexpected(row, exc, settings=settings, now=now)
    telemetry.message_outcome(row, outcome.status, outcome.detail)
    if record is None:
        if flight is not None:
            flight.drop(row["id"])
        return outcome
    try:
        hooks = await record()
    except asyncio.CancelledError:
        if flight is not None:
            flight.keep(row["id"], record)
        raise
    except Exception as exc:
        if not database_unavailable(exc) or flight is None:
            if outcome.status == "sent":
                log.exception("notification %s was sent but could not be recorded", row["id"])
            if flight is not None:
                flight.drop(row["id"])  # no longer renewed: the lease hands it on
            raise
        flight.keep(row["id"], record)
        log.warning("notification %s: outcome kept until the database is back", row["id"])
        return outcome
    if flight is not None:
        flight.drop(row["id"])
        if outcome.status == "sent":
            flight.sent_one()
    return replace(outcome, webhooks=hooks) if hooks else outcome


async def _attempt(
    row: dict[str, Any],
    *,
    settings: Settings,
    smtp: SmtpPool,
    now: datetime,
    flight: Flight | None = None,
) -> tuple[Outcome, Record | None]:
    """Decide, render and send; returns the outcome and how to record it (not yet written)."""
    ctx = row
    await _load_occurrences([row])  # done for the whole batch when it came in one
    await reminder_qr.load([row])
    if row["kind"] == "certificate":
        # `detail` holds the certificate's id; read as it is now (it may have been revoked)
        found = await Notification.raw(
            "SELECT * FROM certificate WHERE id = {}::uuid", row["detail"]
        )
        row["certificate"] = dict(found[0]) if found else None
    reason = await skip_reason(row, ctx, now=now)
    if reason:
        return Outcome("skipped", reason), _finished(row, "skipped", error=reason)
    try:
        message, message_id, sequence = render(row, ctx, settings=settings, now=now)
    except Exception as exc:  # a bug or bad data: retrying will not help
        log.exception("rendering notification %s failed", row["id"])
        error = f"rendering failed: {exc}"
        return Outcome("failed", error), _finished(row, "failed", error=error)
    try:
        result = await smtp.send(
            sender=settings.mail_from,
            recipient=ctx["email"],
            message=message,
            # re-checked with the connection in hand: a worker that was paused while its rows
            # were taken over sends none of them
            before_send=lambda: _still_ours(row, flight),
        )
    except PermanentSendError as exc:
        return Outcome("failed", str(exc)), _finished(row, "failed", error=str(exc))
    except TransientSendError as exc:
        age = (now - row["created_at"]).total_seconds()
        if age >= settings.send_give_up_after:
            error = f"gave up after {row['attempts']}: {exc}"
            return Outcome("failed", error), _finished(row, "failed", error=error)
        retry_at = now + backoff(row["attempts"], settings.send_retry_first)
        return (
            Outcome("retry", str(exc), retry_at=retry_at, row=row),
            _retried(row, retry_at=retry_at, error=str(exc)),
        )
    telemetry.message_sent(row, message_id=message_id, response=result.response)
    agenda = ctx["agenda"] if row["kind"] in AGENDA_KINDS else None
    payload = None if agenda is None else agenda if isinstance(agenda, str) else json.dumps(agenda)
    return Outcome("sent", result.response), _recorded_sent(
        row,
        message_id=message_id,
        response=result.response,
        sequence=sequence,
        payload=payload,
        recorder=flight.recorder if flight is not None else None,
    )


async def _still_ours(row: dict[str, Any], flight: Flight | None) -> bool:
    """The fence, right before the message is handed to SMTP: without a query while this
    worker's claim or lease renewal is recent (flight.py says why that is safe), else asked
    of the database. Nothing is awaited on the first path, so nothing runs in between."""
    if flight is not None and flight.fenced(row):
        return True
    return await still_claimed(row)


def _unexpected(
    row: dict[str, Any], exc: Exception, *, settings: Settings, now: datetime
) -> tuple[Outcome, Record]:
    """Something that is neither an SMTP answer nor an outage: tried again a few times with
    backoff, then the row ends `failed` with the error (and its webhook)."""
    error = f"{type(exc).__name__}: {exc}"
    if row["attempts"] >= MAX_UNEXPECTED_ATTEMPTS:
        error = f"gave up after {row['attempts']} attempts: {error}"
        return Outcome("failed", error), _finished(row, "failed", error=error)
    retry_at = now + backoff(row["attempts"], settings.send_retry_first)
    return (
        Outcome("retry", error, retry_at=retry_at, row=row),
        _retried(row, retry_at=retry_at, error=error),
    )


def _recorded_sent(
    row: dict[str, Any],
    *,
    message_id: str,
    response: str,
    sequence: int,
    payload: str | None,
    recorder: SentRecorder | None = None,
) -> Record:
    """The accepted message's outcome; written with others in one statement by the
    worker's `recorder` (row by row without one)."""
    sent_at = datetime.now(UTC)

    async def record() -> Sequence[dict[str, Any]]:
        if recorder is not None:
            await recorder.record(
                {
                    "id": row["id"],
                    "attempts": row["attempts"],
                    "sent_at": sent_at,
                    "message_id": message_id,
                    "response": response,
                    "sequence": sequence,
                    "payload": payload,
                }
            )
            return ()
        await Notification.raw(
            "UPDATE notification SET status = 'sent', sent_at = {}, message_id = {},"
            " smtp_response = {}, sent_sequence = {}, last_error = '', payload = {}::jsonb,"
            " claimed_at = NULL WHERE id = {} AND attempts = {} AND status = 'sending'",
            sent_at,
            message_id,
            response[:2000],
            sequence,
            payload,
            row["id"],
            row["attempts"],
        )
        return ()

    return record


def _retried(row: dict[str, Any], *, retry_at: datetime, error: str) -> Record:
    async def record() -> Sequence[dict[str, Any]]:
        await Notification.raw(
            "UPDATE notification SET status = 'queued', next_attempt_at = {}, last_error = {},"
            " claimed_at = NULL WHERE id = {} AND attempts = {} AND status = 'sending'",
            retry_at,
            error[:2000],
            row["id"],
            row["attempts"],
        )
        return ()

    return record


def _released(row: dict[str, Any]) -> Record:
    """Nothing was sent: the row goes back to the queue, due as it was."""

    async def record() -> Sequence[dict[str, Any]]:
        await Notification.raw(
            "UPDATE notification SET status = 'queued', claimed_at = NULL"
            " WHERE id = {} AND attempts = {} AND status = 'sending'",
            row["id"],
            row["attempts"],
        )
        return ()

    return record


def _finished(row: dict[str, Any], status: Literal["skipped", "failed"], *, error: str) -> Record:
    async def record() -> Sequence[dict[str, Any]]:
        update = (
            "UPDATE notification SET status = {}, last_error = {}, claimed_at = NULL"
            " WHERE id = {} AND attempts = {} AND status = 'sending' RETURNING id"
        )
        if status == "skipped":
            await Notification.raw(update, status, error[:2000], row["id"], row["attempts"])
            return ()
        # The organization's webhooks hear of the failure in the same commit as the row's
        # outcome (and not at all when the claim was taken over meanwhile).
        async with Notification._meta.db.transaction():
            if not await Notification.raw(update, status, error[:2000], row["id"], row["attempts"]):
                return ()
            org = await Notification.raw("SELECT org FROM event WHERE id = {}", row["event"])
            return await webhooks.emit(
                org_id=org[0]["org"],
                kind="delivery.failed",
                data={
                    "event_id": row["event"],
                    "event_uid": row["uid"],
                    "email": row["email"],
                    "notification_kind": row["kind"],
                    "notification_id": row["id"],
                    "error": error,
                },
                key=f"delivery.failed:{row['id']}",
            )

    return record
