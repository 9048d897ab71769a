"""Responses of the reminders area."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ReminderOut(msgspec.Struct):
    email: str
    rule: dict[str, str]  #: {"before": "PT1H"} or {"at": "2027-06-10T08:00:00"}
    occurrence: str  #: the occurrence's local start, e.g. 2027-06-10T09:30:00
    due_at: datetime
    status: str  #: pending / sent / failed / skipped
    sent_at: datetime | None
    attempts: int
    outcome: str  #: the SMTP error, or why it was skipped (e.g. "late: the event had started")


class ReminderPage(msgspec.Struct):
    items: list[ReminderOut]
    next: str | None  #: pass as `cursor` for the next page; null on the last
