"""Request and response bodies of the organizations area."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

# \Z, not $: "$" also matches before a final newline
Slug = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z", max_length=63)
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]


class OrgCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    email: Email
    name_en: Name | None = None


class DefaultReminder(msgspec.Struct, forbid_unknown_fields=True):
    """An organization's default reminder: an ISO 8601 duration before each start."""

    before: Annotated[str, msgspec.Meta(max_length=40)]


class OrgPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    name_en: Name | None | UnsetType = UNSET
    email: Email | UnsetType = UNSET
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
