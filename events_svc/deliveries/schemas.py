"""Response bodies of send progress."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class FailureOut(msgspec.Struct):
    id: uuid.UUID  #: the message (retry it with POST .../deliveries/{id}/retry)
    event_id: uuid.UUID
    kind: str  #: invitation / update / cancellation / reminder / ...
    email: str
    attempts: int
    smtp_reply: str  #: the SMTP server's last reply (or the connection error)
    created_at: datetime
    last_attempt_due_at: datetime


class FailurePage(msgspec.Struct):
    items: list[FailureOut]
    next: str | None


class EventDeliveries(msgspec.Struct, omit_defaults=True):
    event_id: uuid.UUID
    counts: dict[str, dict[str, int]]  #: kind -> status -> messages
    totals: dict[str, int]  #: status -> messages (scheduled: queued, due later)
    sent_last_minute: int
    rate_per_second: float  #: over the last minute
    remaining: int  #: queued (due now) or being sent
    eta_seconds: float | None  #: the time left at the last minute's pace; null when none sent
    failures: FailurePage
    #: only under a send-rate cap (SEND_RATE_*): the organization's share of it, messages/s
    rate_cap_per_second: float | None = None


class OrgDeliveries(msgspec.Struct, omit_defaults=True):
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    sent_last_minute: int
    rate_per_second: float
    remaining: int
    eta_seconds: float | None
    failures: FailurePage
    #: only under a send-rate cap (SEND_RATE_*): the organization's share of it, messages/s
    rate_cap_per_second: float | None = None


class Retried(msgspec.Struct):
    id: uuid.UUID
    status: str  #: queued
