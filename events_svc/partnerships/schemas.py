"""Request and response bodies of co-operation agreements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
Area = Annotated[str, msgspec.Meta(max_length=200)]


class PartnershipCreate(msgspec.Struct, forbid_unknown_fields=True):
    partners: Annotated[list[Slug], msgspec.Meta(min_length=1, max_length=50)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    areas: Annotated[list[Area], msgspec.Meta(max_length=30)] = []
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class PartyOut(msgspec.Struct):
    slug: str
    name: str
    accepted_at: datetime | None


class PartnershipOut(msgspec.Struct):
    id: str
    title: str
    proposer: str
    parties: list[PartyOut]
    signed_on: date | None
    areas: list[str]
    starts_on: date | None
    ends_on: date | None
    status: str  #: proposed / active / ended
    created_at: datetime
    ended_at: datetime | None


class ProgrammeEvent(msgspec.Struct):
    id: str
    title: str
    kind: str
    starts_at: str
    ends_at: str
    timezone: str
    status: str
    host: str
    cohosts: list[str]


class ProgrammeArea(msgspec.Struct):
    area: str
    events: list[ProgrammeEvent]


class ProgrammeRef(msgspec.Struct):
    id: str
    title: str


class Programme(msgspec.Struct):
    partnership: ProgrammeRef
    year: int | None
    areas: list[ProgrammeArea]
    unassigned: list[ProgrammeEvent]  #: events of the partnership that name no area
