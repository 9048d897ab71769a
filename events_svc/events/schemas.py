"""Request and response bodies of the events area."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

EventKind = Literal["exchange_visit", "forum", "training", "meeting", "ceremony"]
EventStatus = Literal["scheduled", "cancelled"]
Visibility = Literal["public", "private"]

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Description = Annotated[str, msgspec.Meta(max_length=20_000)]
Location = Annotated[str, msgspec.Meta(max_length=500)]
Url = Annotated[str, msgspec.Meta(max_length=2000)]
TimezoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Rrule = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
Cohosts = Annotated[list[Slug], msgspec.Meta(max_length=20)]
PartnershipRef = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Area = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: share of a training's sessions a person must attend to complete it
Threshold = Annotated[float, msgspec.Meta(gt=0, le=1)]


class ItineraryBlock(msgspec.Struct, forbid_unknown_fields=True):
    """A block of a visit's programme, in the event's local time."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    starts_at: datetime
    ends_at: datetime
    place: Annotated[str, msgspec.Meta(max_length=300)] = ""


class ItineraryBlockOut(msgspec.Struct):
    title: str
    starts_at: str
    ends_at: str
    place: str


Itinerary = Annotated[list[ItineraryBlock], msgspec.Meta(max_length=50)]
Visiting = Annotated[list[Slug], msgspec.Meta(max_length=50)]


class ReminderRule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Either `before` (ISO 8601 duration before each start) or `at` (a local date-time)."""

    before: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    at: datetime | None = None


Reminders = Annotated[list[ReminderRule], msgspec.Meta(max_length=10)]


class ReminderRuleOut(msgspec.Struct, omit_defaults=True):
    before: str | None = None  #: ISO 8601 duration
    at: str | None = None  #: local date-time in the event's zone, e.g. 2027-06-10T08:00:00


Registration = Literal["closed", "open"]
QuestionType = Literal["short_text", "long_text", "one_choice", "several_choices"]


class RegistrationQuestion(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A question the registration form asks, e.g. 所在机构 (short text, required)."""

    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    type: QuestionType = "short_text"
    required: bool = False
    #: the choices of a one_choice / several_choices question
    choices: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]],
        msgspec.Meta(max_length=30),
    ] = []
    #: a stable key for the answers (default: q1, q2, ... by position)
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | None = None


class RegistrationQuestionOut(msgspec.Struct):
    id: str
    label: str
    type: str
    required: bool
    choices: list[str]


#: no more than ten questions on a form
RegistrationQuestions = Annotated[list[RegistrationQuestion], msgspec.Meta(max_length=10)]


class EventCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: EventKind
    title: Title
    starts_at: datetime
    ends_at: datetime
    timezone: TimezoneName
    description: Description = ""
    location: Location = ""
    online_url: Url = ""
    recurrence: Rrule | None = None
    visibility: Visibility = "public"
    capacity: Capacity | None = None
    reminders: Reminders | None = None
    #: a co-operation agreement of the caller's (its id), the area of it, and other parties of
    #: it who host the event too
    partnership: PartnershipRef | None = None
    area: Area | None = None
    cohosts: Cohosts = []
    #: exchange visits: whose premises (default: the creating organization) and who visits
    host: Slug | None = None
    visiting: Visiting = []
    itinerary: Itinerary | None = None
    completion_threshold: Threshold = 0.8
    #: self-registration on the public page (public events only)
    registration: Registration = "closed"
    #: an instant (a local time without offset is read in `timezone`)
    registration_deadline: datetime | None = None
    registration_questions: RegistrationQuestions = []


class EventPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A partial update: only the fields present change; null clears a nullable field."""

    kind: EventKind | UnsetType = UNSET
    title: Title | UnsetType = UNSET
    starts_at: datetime | UnsetType = UNSET
    ends_at: datetime | UnsetType = UNSET
    timezone: TimezoneName | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    location: Location | UnsetType = UNSET
    online_url: Url | UnsetType = UNSET
    recurrence: Rrule | None | UnsetType = UNSET
    visibility: Visibility | UnsetType = UNSET
    capacity: Capacity | None | UnsetType = UNSET
    reminders: Reminders | None | UnsetType = UNSET
    partnership: PartnershipRef | None | UnsetType = UNSET
    area: Area | None | UnsetType = UNSET
    cohosts: Cohosts | UnsetType = UNSET
    host: Slug | None | UnsetType = UNSET
    visiting: Visiting | UnsetType = UNSET
    itinerary: Itinerary | None | UnsetType = UNSET
    completion_threshold: Threshold | UnsetType = UNSET
    registration: Registration | UnsetType = UNSET
    registration_deadline: datetime | None | UnsetType = UNSET
    registration_questions: RegistrationQuestions | UnsetType = UNSET


class EventOut(msgspec.Struct):
    id: str
    uid: str
    sequence: int
    organization: str  #: the host organization's slug
    partnership: str | None
    area: str | None
    cohosts: list[str]  #: slugs of the organizations hosting it with the host
    host: str  #: whose premises (exchange visits); otherwise the organization itself
    visiting: list[str]  #: exchange visits: the visiting organizations' slugs
    itinerary: list[ItineraryBlockOut] | None
    kind: str
    title: str
    description: str
    location: str
    online_url: str
    starts_at: str  #: local wall-clock time in `timezone`, e.g. 2027-06-10T09:30:00
    ends_at: str
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    recurrence: str | None
    status: str
    visibility: str
    capacity: int | None
    reminders: list[ReminderRuleOut] | None
    completion_threshold: float  #: trainings: share of sessions that completes the course
    registration: str  #: closed / open
    registration_deadline: datetime | None
    registration_questions: list[RegistrationQuestionOut]
    created_at: datetime
    updated_at: datetime


class EventPage(msgspec.Struct):
    items: list[EventOut]
    next: str | None


class OccurrencePatch(msgspec.Struct, forbid_unknown_fields=True):
    """A change to one occurrence of a series: new local times, or a status."""

    starts_at: datetime | UnsetType = UNSET
    ends_at: datetime | UnsetType = UNSET
    status: EventStatus | UnsetType = UNSET


class OccurrenceOut(msgspec.Struct):
    event: str  #: the series' id
    recurrence_id: str  #: the occurrence's original local start (its RECURRENCE-ID)
    starts_at: str  #: local start now
    ends_at: str
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    status: str
    sequence: int  #: this occurrence's SEQUENCE (its messages and feed entries carry it)


class SpeakerIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    role: Literal["speaker", "chair"] = "speaker"


class AgendaItemIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    starts_at: datetime
    ends_at: datetime
    room: Annotated[str, msgspec.Meta(max_length=200)] = ""
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    speakers: Annotated[list[SpeakerIn], msgspec.Meta(max_length=50)] = []
    #: the id the agenda gave this session before, to keep it (and its UID) when renamed
    id: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class AgendaPut(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[AgendaItemIn], msgspec.Meta(max_length=200)]


class SpeakerOut(msgspec.Struct):
    email: str
    name: str
    role: str


class AgendaItemOut(msgspec.Struct):
    id: str
    title: str
    starts_at: str
    ends_at: str
    room: str
    description: str
    speakers: list[SpeakerOut]


class AgendaOut(msgspec.Struct):
    event: str
    items: list[AgendaItemOut]
    invited: int  #: speakers newly invited
    updates_queued: int  #: invitees who will get one update with what changed
