"""Typed records the contacts service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A person as one organization knows them."""

    email: str
    name: str
    title: str
    locale: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
