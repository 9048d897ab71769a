"""Response bodies of registrations."""

from __future__ import annotations

from datetime import datetime

import msgspec


class RegistrationOut(msgspec.Struct):
    email: str
    name: str
    locale: str
    #: question id -> the text, or the list of choices of a several_choices question
    answers: dict[str, str | list[str]]
    status: str  #: pending / confirmed / expired
    created_at: datetime
    confirmed_at: datetime | None


class RegistrationPage(msgspec.Struct):
    items: list[RegistrationOut]
    next: str | None
