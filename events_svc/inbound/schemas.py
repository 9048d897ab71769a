"""Response body of the inbound e-mail route."""

from __future__ import annotations

import msgspec


class IgnoredReply(msgspec.Struct):
    uid: str
    attendee: str
    reason: str  #: e.g. "unknown UID", "attendee not invited", "SEQUENCE 1 is older than 2"


class InboundReport(msgspec.Struct):
    replies: int  #: answers in the message (one per VEVENT)
    applied: int
    ignored: list[IgnoredReply]
