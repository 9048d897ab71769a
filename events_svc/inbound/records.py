"""Typed records the inbound service returns; controllers map them to response schemas."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class HeldReplyRecord:
    """A reply held for the organizer (it did not come to its invitation's reply address)."""

    id: uuid.UUID
    attendee: str
    partstat: str  #: ACCEPTED / TENTATIVE / DECLINED
    comment: str | None
    sequence: int | None
    occurrence: datetime | None  #: the occurrence it answers for (local start); None: series
    recipient: str  #: where it arrived
    sender: str  #: the message's From
    reason: str  #: why it was held
    status: str  #: held / applied / discarded
    received_at: datetime
    decided_at: datetime | None
