"""Typed records the organizations service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class OrgRecord:
    """An organization as it sees itself (fields in the order the API and the cli print)."""

    id: str
    slug: str
    name: str
    name_en: str | None
    email: str
    created_at: datetime
    default_reminders: list[dict[str, Any]] | None
    kind: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as its organization sees it: never the key itself."""

    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    """The other side of a membership: the member (for the federation) or the federation."""

    slug: str
    name: str
    name_en: str | None
    kind: str | None
    region: str | None
    status: str  #: pending / active
    invited_at: datetime
    accepted_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrgRefRecord:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """What anyone may read about an organization: never addresses or keys."""

    slug: str
    name: str
    name_en: str | None
    kind: str | None
    region: str | None
    member_of: list[OrgRefRecord]
    members_count: int | None  #: a federation's active member units
