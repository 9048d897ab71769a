"""Typed records the reminders service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    """One reminder of an event to one person (a notification row of kind `reminder`)."""

    email: str
    rule: dict[str, str]  #: {"before": "PT1H"} or {"at": "2027-06-10T08:00:00"}
    occurrence: str  #: the occurrence's local start
    due_at: datetime
    status: str  #: pending / sent / failed / skipped
    sent_at: datetime | None
    attempts: int
    outcome: str  #: the SMTP error, or why it was skipped
