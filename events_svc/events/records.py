"""Typed records the events service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec


class EventRecord(msgspec.Struct, frozen=True):
    """One event as the API shows it (ids and times already in their outward form).

    A frozen msgspec Struct rather than a frozen dataclass like the other records: it is made
    on every read and write of an event, and a frozen dataclass of 31 fields costs more to
    make (an `object.__setattr__` per field) than the rest of answering a cached read."""

    id: str
    uid: str
    sequence: int
    organization: str  #: the host organization's slug
    partnership: str | None
    area: str | None
    cohosts: list[str]  #: co-hosts' slugs
    host: str  #: whose premises (exchange visits); otherwise the organization itself
    visiting: list[str]  #: visiting organizations' slugs
    itinerary: list[dict[str, str]] | None
    kind: str
    title: str
    description: str
    location: str
    online_url: str
    starts_at: str  #: local wall-clock time in `timezone`, ISO 8601 without offset
    ends_at: str
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    recurrence: str | None
    status: str
    visibility: str
    capacity: int | None
    reminders: list[dict[str, Any]] | None
    completion_threshold: float
    created_at: datetime
    updated_at: datetime
    registration: str = "closed"  #: self-registration: closed / open
    registration_deadline: datetime | None = None
    #: [{"id", "label", "type", "required", "choices"}]
    registration_questions: list[dict[str, Any]] = []


@dataclass(frozen=True, slots=True)
class OccurrenceRecord:
    """One occurrence of a series as it is now (moved, cancelled or restored)."""

    event: str  #: the series' id
    recurrence_id: str  #: the occurrence's original local start (its RECURRENCE-ID)
    starts_at: str
    ends_at: str
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    status: str
    sequence: int
