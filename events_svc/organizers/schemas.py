"""Request and response bodies of the organizers area."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
RoleName = Literal["admin", "editor"]
LocaleName = Literal["zh-CN", "en"]


class OrganizerCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    role: RoleName
    name: Name = ""
    locale: LocaleName = "zh-CN"


class OrganizerPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    locale: LocaleName | None = None
    role: RoleName | None = None


class OrganizerOut(msgspec.Struct):
    email: str
    name: str
    locale: str
    role: str
    created_at: datetime


class ActivityOut(msgspec.Struct):
    actor: str  #: "organizer:<e-mail>" or "api-key:<prefix>"
    action: str  #: e.g. create_event, update_event, invite
    route: str
    status: int
    at: datetime
