"""Typed records the registration services return; controllers and pages map them to bodies.

Rows of long lists (one per invitee, registration, failure ...) are frozen msgspec Structs:
built in C, they cost a fifth of a frozen dataclass a row; single records stay dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import msgspec

from events_svc.calendar.agenda import AgendaEntry
from events_svc.calendar.eventdata import ItineraryEntry


class RegistrationRecord(msgspec.Struct, frozen=True):
    """A self-registration as the organizer's list shows it."""

    email: str
    name: str
    locale: str
    answers: dict[str, str | list[str]]  #: question id -> the text, or the choices
    status: str  #: pending / confirmed / expired
    created_at: datetime
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RegistrationLink:
    """The registration a confirmation link names, with its event's title."""

    id: uuid.UUID
    status: str
    expires_at: datetime
    locale: str
    event_id: uuid.UUID
    title: str


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    """A registration question of the form, as stored."""

    id: str
    label: str
    type: str  #: short_text / long_text / one_choice / several_choices
    required: bool
    choices: list[str]


@dataclass(frozen=True, slots=True)
class OrgRef:
    slug: str
    name: str
    name_en: str | None


class ScheduleEntry(msgspec.Struct, frozen=True):
    """One occurrence of a series on its public page (local times)."""

    starts_at: datetime
    ends_at: datetime
    state: str  #: planned / cancelled / moved / changed
    was: datetime | None = None  #: a moved occurrence's original start


class PublicEventSummary(msgspec.Struct, frozen=True):
    """An upcoming public event in its organization's list."""

    id: uuid.UUID
    title: str
    kind: str
    starts_at: datetime  #: local wall-clock time in `timezone`
    ends_at: datetime
    timezone: str
    starts_at_utc: datetime
    recurrence: str | None
    location: str
    online_url: str
    open: bool  #: takes registrations now


@dataclass(frozen=True, slots=True)
class PublicOrganization:
    """An organization's public page: who it is and its upcoming public events."""

    id: uuid.UUID
    slug: str
    name: str
    name_en: str | None
    kind: str
    region: str
    events: list[PublicEventSummary]


@dataclass(frozen=True, slots=True)
class PublicEvent:
    """A public event for its page: hosts, programme, the schedule of a series, the form."""

    id: uuid.UUID
    title: str
    kind: str
    status: str
    description: str
    location: str
    online_url: str
    starts_at: datetime  #: local wall-clock time in `timezone`
    ends_at: datetime
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    recurrence: str | None
    registration_deadline: datetime | None
    org_slug: str
    org_name: str
    org_name_en: str | None
    cohost_orgs: list[OrgRef]
    visiting_orgs: list[OrgRef]
    venue: OrgRef | None
    agenda: tuple[AgendaEntry, ...]
    itinerary: tuple[ItineraryEntry, ...]
    questions: list[QuestionRecord]
    closed_reason: str | None  #: why it takes no registration now; None when it does
    schedule: list[ScheduleEntry]  #: a series' next occurrences; empty for a single event
