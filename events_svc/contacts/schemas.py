"""Request and response bodies of contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from events_svc.mail.i18n import Locale

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
#: a position such as 会长, 秘书长, 督导
Title = Annotated[str, msgspec.Meta(max_length=100)]
#: a short label; `;`, `|` and `、` are refused (they separate tags in CSV cells)
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
MAX_TAGS = 20
Tags = Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)]


class ContactCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: Email
    title: Title = ""
    locale: Locale = "zh-CN"
    tags: Tags = msgspec.field(default_factory=list)


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    title: Title | UnsetType = UNSET
    locale: Locale | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET


class ContactOut(msgspec.Struct):
    email: str
    name: str
    title: str
    locale: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class ContactPage(msgspec.Struct):
    items: list[ContactOut]
    next: str | None


class ContactsImported(msgspec.Struct):
    created: int  #: rows whose address was not a contact yet
    updated: int  #: rows that replaced an existing contact's columns given in the file


class OrgSelector(msgspec.Struct, forbid_unknown_fields=True):
    """Invite an organization's contacts: all, or those having any of `tags`; with
    `members`, a federation adds the contacts of its active member units (same tags)."""

    slug: Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
    tags: Annotated[list[Tag], msgspec.Meta(min_length=1, max_length=MAX_TAGS)] | None = None
    members: bool = False
