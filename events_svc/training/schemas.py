"""Request and response bodies of trainings: check-ins, completion, certificates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
#: a session's original local start, e.g. 2026-10-08T14:00:00
OccurrenceRef = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class CheckInIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    occurrence: OccurrenceRef


class CheckedInBy(msgspec.Struct):
    organization: str  #: slug of the organization whose key checked the person in
    key: str  #: that key's public prefix


class CertificateRef(msgspec.Struct):
    code: str  #: the public code: /certificates/<code>
    issued_at: datetime
    revoked_at: datetime | None


class PersonCompletion(msgspec.Struct):
    email: str
    name: str
    attended: int  #: sessions attended (cancelled ones do not count)
    held: int  #: sessions held so far (started, not cancelled)
    total: int | None  #: sessions of the whole course; null for an endless series
    hours: float  #: attended sessions' hours, one decimal
    completed: bool  #: attended >= threshold x total (x held for an endless series)
    certificate: CertificateRef | None


class CheckInOut(msgspec.Struct):
    email: str
    occurrence: str  #: the session's original local start
    checked_in_at: datetime
    checked_in_by: CheckedInBy
    recorded: bool  #: false when the person was already checked in for this session
    completion: PersonCompletion


class Completion(msgspec.Struct):
    event: str
    title: str
    threshold: float
    held: int
    total: int | None
    people: list[PersonCompletion]


class CertificateOut(msgspec.Struct):
    code: str
    status: str  #: valid / revoked
    name: str
    course: str
    hours: float
    sessions_attended: int
    sessions_total: int
    first_session: str  #: local date of the first attended session
    last_session: str
    timezone: str
    issued_by: list[str]  #: the issuing organizations' names (host first)
    issued_by_en: list[str]  #: the same in English, where an issuer has an English name
    issued_at: datetime
    revoked_at: datetime | None
