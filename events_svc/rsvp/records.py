"""Typed records the RSVP service returns; controllers and the page map them to their bodies.

Rows of long lists (one per invitee, registration, failure ...) are frozen msgspec Structs:
built in C, they cost a fifth of a frozen dataclass a row; single records stay dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import msgspec

from events_svc.calendar.agenda import AgendaEntry
from events_svc.calendar.eventdata import ItineraryEntry


@dataclass(frozen=True, slots=True)
class InvitationView:
    """One invitation as its link shows it: the answer, the person, the event and its hosts."""

    id: uuid.UUID  #: the invitation
    event_id: uuid.UUID
    person: uuid.UUID
    role: str
    rsvp: str
    comment: str
    waitlisted_at: datetime | None
    waitlist_position: int | None  #: 1 for the first person waiting; None when not waiting
    email: str
    person_name: str
    locale: str
    title: str
    description: str
    location: str
    online_url: str
    starts_at: datetime  #: local wall-clock time in `timezone`
    ends_at: datetime
    timezone: str
    recurrence: str | None
    status: str
    capacity: int | None
    org_name: str
    org_name_en: str | None
    cohost_names: list[str]
    cohost_names_en: list[str]
    itinerary: tuple[ItineraryEntry, ...]
    agenda: tuple[AgendaEntry, ...]


class OccurrenceAnswerRecord(msgspec.Struct, frozen=True):
    occurrence: str  #: original local start of the occurrence
    rsvp: str
    comment: str
    answered_at: datetime


class AttendeeRecord(msgspec.Struct, frozen=True):
    email: str
    name: str
    role: str
    rsvp: str
    waitlisted: bool
    comment: str
    responded_at: datetime | None
    source: str
    occurrences: list[OccurrenceAnswerRecord]
    answers: dict[str, str | list[str]]  #: registration answers: question id -> text or choices
    checked_in: bool


class WaitlistRecord(msgspec.Struct, frozen=True):
    email: str
    name: str
    since: datetime


@dataclass(frozen=True, slots=True)
class QuestionRefRecord:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    """Who comes: counts per answer, the waitlist in order, every invitee's answer."""

    event: str
    capacity: int | None
    counts: dict[str, int]  #: accepted / tentative / declined / needs-action / waitlisted
    waitlist: list[WaitlistRecord]
    people: list[AttendeeRecord]
    questions: list[QuestionRefRecord]
