"""Trainings: check-ins per session, and the certificates that completing a course earns."""

from piccolo.columns import (
    UUID,
    Array,
    DoublePrecision,
    ForeignKey,
    Integer,
    Timestamp,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.orgs.tables import Organization
from events_svc.people.tables import Person


class Attendance(Table, tablename="attendance"):
    """One person checked in at one session of an event (a training's count towards completion;
    a QR check-in at a forum or meeting is a row here too)."""

    id = UUID(primary_key=True)
    event = ForeignKey(references=Event, null=False, index=True)
    person = ForeignKey(references=Person, null=False, index=True)
    #: the session's original local start (a series' RECURRENCE-ID; the event's own start)
    occurrence = Timestamp(default=None)
    checked_in_at = Timestamptz(default=TimestamptzNow())
    #: the organization (host or co-host) whose key checked the person in
    checked_in_org = ForeignKey(references=Organization, null=False)
    checked_in_by = Varchar(length=64, default="")  #: that API key's public prefix

    one_checkin_per_occurrence = Unique([event, person, occurrence])


class Certificate(Table, tablename="certificate"):
    """Proof that a person completed a training; public at /certificates/<code>.

    What it states is a snapshot taken when it was issued: later edits of the course, the
    person or the organizations do not change a certificate already handed out."""

    id = UUID(primary_key=True)
    #: 128 random bits, URL-safe base64: unguessable, so the link is the proof
    code = Varchar(length=64, unique=True)
    event = ForeignKey(references=Event, null=False, index=True)
    person = ForeignKey(references=Person, null=False, index=True)
    person_name = Varchar(length=200, default="")  #: the name as it was when issued
    title = Varchar(length=300, default="")  #: the course's title when issued
    issuers = Array(base_column=Varchar(length=300), default=list)  #: host, then co-hosts
    #: the same in English (an issuer without an English name: its own name); empty on
    #: certificates issued before English names were kept
    issuers_en = Array(base_column=Varchar(length=300), default=list)
    hours = DoublePrecision(default=0.0)  #: attended sessions' hours, one decimal
    sessions_attended = Integer(default=0)
    sessions_total = Integer(default=0)  #: the sessions completion was measured against
    first_session = Timestamp(default=None)  #: local start of the first attended session
    last_session = Timestamp(default=None)  #: local start of the last attended session
    timezone = Varchar(length=64, default="")  #: the zone of those local times
    issued_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)  #: set by an issuer; the code says so

    one_certificate_per_course = Unique([event, person])
