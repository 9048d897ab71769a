"""Response bodies of the inbound e-mail route and of the organizer's held replies."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class IgnoredReply(msgspec.Struct):
    uid: str
    attendee: str
    reason: str  #: e.g. "unknown UID", "attendee not invited", "SEQUENCE 1 is older than 2"


class InboundReport(msgspec.Struct):
    replies: int  #: answers in the message (one per VEVENT)
    applied: int
    ignored: list[IgnoredReply]
    #: not sent to the invitation's reply address: kept for the organizer to apply or discard
    held: list[IgnoredReply] = msgspec.field(default_factory=list)


class HeldReplyOut(msgspec.Struct):
    """A reply held for the organizer: it did not come to its invitation's reply address."""

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


class HeldReplyPage(msgspec.Struct):
    items: list[HeldReplyOut]
    next: str | None
