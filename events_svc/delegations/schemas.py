"""Request and response bodies of delegations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]


class DelegationPut(msgspec.Struct, forbid_unknown_fields=True):
    leader: Email
    members: Annotated[list[Email], msgspec.Meta(max_length=200)] = []


class DelegateOut(msgspec.Struct):
    email: str
    name: str
    role: str  #: chair (the leader) / required
    rsvp: str | None  #: the delegate's answer
    waitlisted: bool


class DelegationOut(msgspec.Struct):
    organization: str
    name: str
    leader: DelegateOut | None  #: None until the organization names its delegation
    members: list[DelegateOut]
    updated_at: datetime | None
