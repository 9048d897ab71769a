"""Reading a training, checking people in, and who completed it; a check-in that completes
the course issues the certificate."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events_svc.calendar.timeutil import (
    TimeRuleError,
    check_year,
)
from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.events.tables import Event
from events_svc.training.course import CODE_BYTES, Course, Progress, course_sessions, progress
from events_svc.training.records import (
    AttendanceRecord,
    CertificateRefRecord,
    CheckedInByRecord,
    CompletionRecord,
    PersonCompletionRecord,
)
from events_svc.training.tables import Attendance, Certificate
from events_svc.validation import validate_email

# --- reading the course ----------------------------------------------------------------------

_EVENT_SQL = (
    "SELECT e.id, e.org, e.kind, e.title, e.status, e.sequence, e.starts_at, e.ends_at,"
    " e.timezone, e.starts_at_utc, e.ends_at_utc, e.series_ends_at_utc, e.recurrence,"
    " e.completion_threshold, e.cohosts, o.name AS org_name,"
    " coalesce(o.name_en, o.name) AS org_name_en,"
    " coalesce((SELECT array_agg(c.name ORDER BY c.slug) FROM organization c"
    "  WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names,"
    " coalesce((SELECT array_agg(coalesce(c.name_en, c.name) ORDER BY c.slug)"
    "  FROM organization c WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names_en"
    " FROM event e JOIN organization o ON o.id = e.org"
    # the tenancy rule of every event query: its host or a co-host
    " WHERE e.id = {} AND (e.org = {} OR {} = ANY(e.cohosts))"
)


async def _training(*, org_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """One of the caller's events (host or co-host) that is a training."""
    rows = await Event.raw(_EVENT_SQL, event_id, org_id, org_id)
    if not rows:
        raise NotFound("event not found")
    event = dict(rows[0])
    if event["kind"] != "training":
        raise Conflict(
            f"only a training has attendance and completion; this event is a {event['kind']}"
        )
    return event


async def _overrides(event: dict[str, Any]) -> list[dict[str, Any]]:
    if not event["recurrence"]:
        return []
    rows = await Event.raw(
        "SELECT recurrence_id, starts_at, ends_at, starts_at_utc, ends_at_utc, status"
        " FROM occurrence WHERE event = {}",
        event["id"],
    )
    return [dict(r) for r in rows]


def _parse_occurrence(value: str) -> datetime:
    """The session's original local start, ISO 8601 (2026-10-08T14:00:00) or basic
    (20261008T140000); a 422 naming `occurrence` otherwise."""
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"):
        try:
            local = datetime.strptime(value.strip(), fmt)  # noqa: DTZ007 - the event's zone
        except ValueError:
            continue
        try:
            return check_year(local, field="occurrence")
        except TimeRuleError as exc:
            raise InvalidInput.field("occurrence", exc.message) from exc
    raise InvalidInput.field(
        "occurrence", f"{value!r} is not a local start time such as 2026-10-08T14:00:00"
    )


# --- check-in --------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckIn:
    """What a check-in did, and what to enqueue after commit."""

    attendance: AttendanceRecord
    recorded: bool  #: False: the person was already checked in for this session
    status: PersonCompletionRecord  #: the person's completion now
    notifications: list[dict[str, Any]]


async def check_in(
    *,
    org_id: uuid.UUID,
    key_prefix: str,
    event_id: uuid.UUID,
    email: str,
    occurrence: str,
    now: datetime | None = None,
) -> CheckIn:
    """Record that an enrolled person attended one session that has started. Repeating it
    changes nothing. When it completes the course, a certificate is issued and its e-mail
    queued, in the same transaction (once per person and course)."""
    now = now or datetime.now(UTC)
    address = validate_email(email, field="email")
    local = _parse_occurrence(occurrence)
    async with Event._meta.db.transaction():
        event = await _training(org_id=org_id, event_id=event_id)
        if event["status"] == "cancelled":
            raise Conflict("the training is cancelled")
        # Check-ins of one person are serialized on their enrolment, so two sessions recorded
        # at once cannot both miss (or both claim) the one that completes the course.
        enrolled = await Event.raw(
            "SELECT i.person, p.name, p.email FROM invitation i JOIN person p ON p.id = i.person"
            " WHERE i.event = {} AND p.email_key = {} AND i.removed_at IS NULL FOR UPDATE OF i",
            event_id,
            address.lower(),
        )
        if not enrolled:
            raise InvalidInput.field("email", f"{address} is not enrolled in this training")
        person = enrolled[0]
        course = course_sessions(event, await _overrides(event), now=now)
        session = course.sessions.get(local)
        if session is None:
            raise InvalidInput.field(
                "occurrence", f"the training has no session starting at {local:%Y-%m-%dT%H:%M:%S}"
            )
        if session.cancelled:
            raise InvalidInput.field("occurrence", "this session was cancelled")
        if session.starts_at_utc > now:
            raise InvalidInput.field("occurrence", "this session has not started yet")
        inserted = await Attendance.raw(
            "INSERT INTO attendance (id, event, person, occurrence, checked_in_at,"
            " checked_in_org, checked_in_by) VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {})"
            " ON CONFLICT (event, person, occurrence) DO NOTHING RETURNING *",
            event_id,
            person["person"],
            local,
            now,
            org_id,
            key_prefix,
        )
        if inserted:
            row = inserted[0]
        else:  # already checked in: the first check-in stands
            found = await Attendance.raw(
                "SELECT * FROM attendance WHERE event = {} AND person = {} AND occurrence = {}",
                event_id,
                person["person"],
                local,
            )
            row = found[0]
        attended = await _attended(event_id, [person["person"]])
        standing = progress(
            course,
            attended.get(person["person"], []),
            threshold=event["completion_threshold"],
        )
        queued: list[dict[str, Any]] = []
        if standing.completed:
            queued = await _issue(event, person, course=course, standing=standing, now=now)
        certificate = await _certificates(event_id, [person["person"]])
        status = _status_out(person, course, standing, certificate.get(person["person"]))
        who = await Event.raw("SELECT slug FROM organization WHERE id = {}", row["checked_in_org"])
    return CheckIn(
        attendance=AttendanceRecord(
            email=person["email"],
            occurrence=f"{local:%Y-%m-%dT%H:%M:%S}",
            checked_in_at=row["checked_in_at"],
            checked_in_by=CheckedInByRecord(organization=who[0]["slug"], key=row["checked_in_by"]),
        ),
        recorded=bool(inserted),
        status=status,
        notifications=queued,
    )


async def _attended(
    event_id: uuid.UUID, person_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, list[datetime]]:
    """Original starts of the sessions each person was checked in at."""
    if person_ids is None:
        rows = await Attendance.raw(
            "SELECT person, occurrence FROM attendance WHERE event = {}", event_id
        )
    else:
        rows = await Attendance.raw(
            "SELECT person, occurrence FROM attendance WHERE event = {}"
            " AND person = ANY({}::uuid[])",
            event_id,
            list(person_ids),
        )
    out: dict[uuid.UUID, list[datetime]] = {}
    for r in rows:
        out.setdefault(r["person"], []).append(r["occurrence"])
    return out


async def _certificates(
    event_id: uuid.UUID, person_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, dict[str, Any]]:
    """The certificates of a course (of some people only), by person."""
    query = "SELECT person, code, issued_at, revoked_at FROM certificate WHERE event = {}"
    if person_ids is None:
        rows = await Certificate.raw(query, event_id)
    else:
        rows = await Certificate.raw(
            query + " AND person = ANY({}::uuid[])", event_id, list(person_ids)
        )
    return {r["person"]: dict(r) for r in rows}


async def _issue(
    event: dict[str, Any],
    person: dict[str, Any],
    *,
    course: Course,
    standing: Progress,
    now: datetime,
) -> list[dict[str, Any]]:
    """Issue the person's certificate for the course and queue its e-mail; nothing when they
    have one already (a revoked one stays revoked). Call inside the check-in's transaction."""
    assert standing.first is not None and standing.last is not None
    certificate_id = uuid.uuid4()
    issued = await Certificate.raw(
        "INSERT INTO certificate (id, code, event, person, person_name, title, issuers,"
        " issuers_en, hours, sessions_attended, sessions_total, first_session, last_session,"
        " timezone, issued_at)"
        " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})"
        " ON CONFLICT (event, person) DO NOTHING RETURNING id",
        certificate_id,
        secrets.token_urlsafe(CODE_BYTES),
        event["id"],
        person["person"],
        person["name"],
        event["title"],
        [event["org_name"], *event["cohost_names"]],
        [event["org_name_en"], *event["cohost_names_en"]],
        standing.hours,
        standing.attended,
        course.measured_against(),
        standing.first.starts_at,
        standing.last.starts_at,
        event["timezone"],
        now,
    )
    if not issued:
        return []
    rows = await Event.raw(
        "INSERT INTO notification (id, key, kind, event, person, sequence, detail)"
        " VALUES (gen_random_uuid(), {}, 'certificate', {}, {}, {}, {})"
        " ON CONFLICT (key) DO NOTHING RETURNING id, key, attempts",
        f"certificate:{event['id']}:{person['person']}:{certificate_id}",
        event["id"],
        person["person"],
        event["sequence"],
        str(certificate_id),
    )
    return [dict(r) for r in rows]


def _status_out(
    person: dict[str, Any],
    course: Course,
    standing: Progress,
    certificate: dict[str, Any] | None,
) -> PersonCompletionRecord:
    return PersonCompletionRecord(
        email=person["email"],
        name=person["name"],
        attended=standing.attended,
        held=course.held,
        total=course.total,
        hours=standing.hours,
        completed=standing.completed,
        certificate=(
            CertificateRefRecord(
                code=certificate["code"],
                issued_at=certificate["issued_at"],
                revoked_at=certificate["revoked_at"],
            )
            if certificate
            else None
        ),
    )


# --- completion ------------------------------------------------------------------------------


async def completion(
    *, org_id: uuid.UUID, event_id: uuid.UUID, now: datetime | None = None
) -> CompletionRecord:
    """Every enrolled person's attendance, hours and completion of the course."""
    now = now or datetime.now(UTC)
    event = await _training(org_id=org_id, event_id=event_id)
    course = course_sessions(event, await _overrides(event), now=now)
    people = await Event.raw(
        "SELECT i.person, p.email, p.name FROM invitation i JOIN person p ON p.id = i.person"
        " WHERE i.event = {} AND i.removed_at IS NULL ORDER BY p.email_key",
        event_id,
    )
    attended = await _attended(event_id)
    certificates = await _certificates(event_id)
    threshold = event["completion_threshold"]
    return CompletionRecord(
        event=str(event_id),
        title=event["title"],
        threshold=threshold,
        held=course.held,
        total=course.total,
        people=[
            _status_out(
                p,
                course,
                progress(course, attended.get(p["person"], []), threshold=threshold),
                certificates.get(p["person"]),
            )
            for p in people
        ],
    )
