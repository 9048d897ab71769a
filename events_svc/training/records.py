"""Typed records the training service returns; controllers map them to response schemas.

Rows of long lists (one per invitee, registration, failure ...) are frozen msgspec Structs:
built in C, they cost a fifth of a frozen dataclass a row; single records stay dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec


class CertificateRefRecord(msgspec.Struct, frozen=True):
    """A person's certificate as the completion view names it."""

    code: str
    issued_at: datetime
    revoked_at: datetime | None


class PersonCompletionRecord(msgspec.Struct, frozen=True):
    """One enrolled person's standing in a course."""

    email: str
    name: str
    attended: int
    held: int
    total: int | None
    hours: float
    completed: bool
    certificate: CertificateRefRecord | None


@dataclass(frozen=True, slots=True)
class CompletionRecord:
    """Every enrolled person's completion of a course."""

    event: str
    title: str
    threshold: float
    held: int
    total: int | None
    people: list[PersonCompletionRecord]


@dataclass(frozen=True, slots=True)
class CheckedInByRecord:
    organization: str  #: slug of the organization whose key checked the person in
    key: str  #: that key's public prefix (or the organizer's actor)


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    """One check-in: who, which session, when and by whom."""

    email: str
    occurrence: str  #: the session's original local start
    checked_in_at: datetime
    checked_in_by: CheckedInByRecord


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A certificate as its public page and the API show it."""

    code: str
    status: str  #: valid / revoked
    name: str
    course: str
    hours: float
    sessions_attended: int
    sessions_total: int
    first_session: str  #: local date (ISO) of the first attended session
    last_session: str
    timezone: str
    issued_by: list[str]
    issued_by_en: list[str]
    issued_at: datetime
    revoked_at: datetime | None
    locale: str  #: the holder's language (the page's default)
