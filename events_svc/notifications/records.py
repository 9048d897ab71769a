"""Typed records the outbox's read side returns; controllers map them to response schemas.

Rows of long lists (one per invitee, registration, failure ...) are frozen msgspec Structs:
built in C, they cost a fifth of a frozen dataclass a row; single records stay dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import msgspec


class FailureRecord(msgspec.Struct, frozen=True):
    """A message that failed for good, with the SMTP server's last reply."""

    id: uuid.UUID
    event_id: uuid.UUID
    kind: str
    email: str
    attempts: int
    smtp_reply: str
    created_at: datetime
    last_attempt_due_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveriesRecord:
    """A send's progress (one event's, or an organization's over its events) and a page of its
    failures: `limit` + 1 rows were read, so the caller can tell whether another page follows."""

    counts: dict[str, dict[str, int]]  #: kind -> status -> messages
    totals: dict[str, int]  #: status -> messages
    sent_last_minute: int
    rate_per_second: float
    remaining: int  #: queued or being sent
    eta_seconds: float | None  #: at the last minute's pace; None when nothing moved
    failures: list[FailureRecord]
    #: under a send-rate cap: this organization's share of it (messages/s); None without a cap
    rate_cap_per_second: float | None = None


@dataclass(frozen=True, slots=True)
class RequeuedRecord:
    """A failed message put back in the queue: what `jobs.enqueue_notifications` needs."""

    id: uuid.UUID
    key: str
    attempts: int
    next_attempt_at: datetime
