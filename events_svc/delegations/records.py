"""Typed records the delegations service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DelegateRecord:
    email: str
    name: str
    role: str  #: chair (the leader) / required
    rsvp: str | None  #: the delegate's answer
    waitlisted: bool


@dataclass(frozen=True, slots=True)
class DelegationRecord:
    """Whom a visiting organization sends, with each delegate's answer."""

    organization: str
    name: str
    leader: DelegateRecord | None  #: None until the organization names its delegation
    members: list[DelegateRecord]
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """An exchange visit an organization takes part in as a visitor."""

    id: str
    title: str
    starts_at: str  #: local wall-clock time in `timezone`, ISO 8601 without offset
    timezone: str
    host_name: str
