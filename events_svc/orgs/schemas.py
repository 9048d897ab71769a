"""Request and response bodies of the organizations area."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

# The pattern is published in the OpenAPI document, so it is written in what both ECMA-262
# (JSON Schema's dialect) and Python read alike: no \Z. Python's "$" also matches before a
# final newline, which "(?!\n)" refuses (in JavaScript it is always true at the end).
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\n)"
Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN, max_length=63)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
OrgKind = Literal[
    "federation",
    "provincial_association",
    "city_association",
    "county_association",
    "service_agency",
]
#: e.g. 广东省, 北京市, 深圳市
Region = Annotated[str, msgspec.Meta(max_length=100)]


class OrgCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    email: Email
    name_en: Name | None = None
    kind: OrgKind | None = None
    region: Region | None = None


class DefaultReminder(msgspec.Struct, forbid_unknown_fields=True):
    """An organization's default reminder: an ISO 8601 duration before each start."""

    before: Annotated[str, msgspec.Meta(max_length=40)]


class OrgPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    name_en: Name | None | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    #: a federation that still has member units cannot become another kind
    kind: OrgKind | None | UnsetType = UNSET
    region: Region | None | UnsetType = UNSET
    #: used by events that give no `reminders` of their own; null or [] = none
    default_reminders: (
        Annotated[list[DefaultReminder], msgspec.Meta(max_length=10)] | None | UnsetType
    ) = UNSET


class OrgOut(msgspec.Struct):
    id: str
    slug: str
    name: str
    name_en: str | None
    email: str
    created_at: datetime
    default_reminders: list[DefaultReminder] | None = None
    kind: OrgKind | None = None
    region: str | None = None


class OrgCreated(msgspec.Struct):
    """A new organization and its first API key, which is shown only this once."""

    organization: OrgOut
    api_key: str


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""


class ApiKeyOut(msgspec.Struct):
    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(msgspec.Struct):
    key: ApiKeyOut
    api_key: str


class OrgRef(msgspec.Struct):
    slug: str
    name: str


class OrgProfile(msgspec.Struct):
    """What anyone may read about an organization: never addresses or keys."""

    slug: str
    name: str
    name_en: str | None
    kind: OrgKind | None
    region: str | None
    member_of: list[OrgRef]  #: federations it is an active member unit of
    members_count: int | None  #: active member units, for a federation (else null)


class MembersAdd(msgspec.Struct, forbid_unknown_fields=True):
    """Member units a federation asks to join it, by slug."""

    slugs: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=63)]],
        msgspec.Meta(min_length=1, max_length=1000),
    ]


class MembersAdded(msgspec.Struct):
    added: int  #: new pending memberships (each member accepts with its own key)
    already: int  #: slugs already pending or active (nothing changed)


class MembershipOut(msgspec.Struct):
    """The other side of a membership: the member (for the federation) or the federation."""

    slug: str
    name: str
    name_en: str | None
    kind: OrgKind | None
    region: str | None
    status: Literal["pending", "active"]
    invited_at: datetime
    accepted_at: datetime | None
