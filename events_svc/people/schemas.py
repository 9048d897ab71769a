"""A person as a request names them for an invitation: address, name, role, language."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Role = Literal["chair", "required", "optional", "non-participant"]
LocaleName = Literal["zh-CN", "en"]
MAX_INVITEES = 10_000


class InviteeIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    role: Role = "required"
    locale: LocaleName = "zh-CN"
