"""Response bodies of the answer routes."""

from __future__ import annotations

from datetime import datetime

import msgspec


class RsvpAnswer(msgspec.Struct):
    event: str
    title: str
    email: str
    rsvp: str  #: needs-action / accepted / tentative / declined (PARTSTAT)
    waitlisted: bool  #: accepted while the event was full: waiting for a place
    waitlist_position: int | None
    comment: str


class OccurrenceAnswerOut(msgspec.Struct):
    occurrence: str  #: original local start of the occurrence
    rsvp: str
    comment: str
    answered_at: datetime


class AttendeeOut(msgspec.Struct):
    email: str
    name: str
    role: str
    rsvp: str
    waitlisted: bool
    comment: str
    responded_at: datetime | None
    source: str  #: link (RSVP page) / email (calendar client) / "" (no answer yet)
    occurrences: list[OccurrenceAnswerOut]  #: answers for single occurrences of a series
    #: registered themselves: answers to the registration questions (id -> text or choices)
    answers: dict[str, str | list[str]] = {}
    checked_in: bool = False  #: checked in at the door (any session), e.g. by QR code


class QuestionRef(msgspec.Struct):
    id: str
    label: str


class WaitlistEntry(msgspec.Struct):
    email: str
    name: str
    since: datetime


class Attendance(msgspec.Struct):
    event: str
    capacity: int | None
    counts: dict[str, int]  #: accepted / tentative / declined / needs-action / waitlisted
    waitlist: list[WaitlistEntry]  #: in the order places are given
    people: list[AttendeeOut]
    questions: list[QuestionRef] = []  #: the registration questions, in the form's order
