"""Typed records the partnerships service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class PartyRecord:
    slug: str
    name: str
    accepted_at: datetime | None


@dataclass(frozen=True, slots=True)
class PartnershipRecord:
    """An agreement as its parties see it."""

    id: str
    title: str
    proposer: str  #: the proposing organization's slug
    parties: list[PartyRecord]
    signed_on: date | None
    areas: list[str]
    starts_on: date | None
    ends_on: date | None
    status: str  #: proposed / active / ended
    created_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProgrammeEventRecord:
    id: str
    title: str
    kind: str
    starts_at: str  #: local wall-clock time in `timezone`
    ends_at: str
    timezone: str
    status: str
    host: str
    cohosts: list[str]


@dataclass(frozen=True, slots=True)
class ProgrammeAreaRecord:
    area: str
    events: list[ProgrammeEventRecord]


@dataclass(frozen=True, slots=True)
class ProgrammeRefRecord:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ProgrammeRecord:
    """The events run under an agreement, by area."""

    partnership: ProgrammeRefRecord
    year: int | None
    areas: list[ProgrammeAreaRecord]
    unassigned: list[ProgrammeEventRecord]  #: events that name no area
