"""Typed records the invitations service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The latest message to an invitee, and how far it got."""

    kind: str
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    """One current invitee of an event."""

    email: str
    name: str
    role: str
    rsvp: str
    locale: str
    invited_at: datetime
    delivery: DeliveryRecord | None


@dataclass(frozen=True, slots=True)
class AgendaRecord:
    """An event's agenda as stored, and what setting it caused."""

    event: str
    #: the stored sessions: {"id", "title", "starts_at", "ends_at", "room", "description",
    #: "speakers": [{"email", "name", "role"}]} with local times
    items: list[dict[str, Any]]
    invited: int  #: speakers newly invited
    updates_queued: int  #: invitees who will get one update with what changed
