"""Check-in by QR code: the invitee's signed link, opened by an organizer of the event,
records their attendance for the session under way: a training's through `check_in`, the
same rule as the manual check-in (completion, certificate); any other event's as a bare
attendance row (there is no course to complete)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from events_svc.errors import Conflict, NotFound
from events_svc.events.tables import Event
from events_svc.training import checkin as service
from events_svc.training.course import course_sessions
from events_svc.training.tables import Attendance

#: a session counts as under way from this long before its start (people arrive early) ...
EARLY = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class QrCheckIn:
    outcome: Literal["recorded", "already", "no-session"]
    name: str
    email: str
    event_title: str
    session: str  #: the session's local start and end, e.g. "2027-06-10 09:30–12:00"
    notifications: list[dict[str, object]]


async def check_in_by_link(
    *,
    org_id: uuid.UUID,
    actor: str,
    invitation_id: uuid.UUID,
    now: datetime | None = None,
) -> QrCheckIn:
    """Check the link's invitee in for the session under way. An invitation of an event
    the organizer does not host (or co-host) is a 404, as an unknown one: nothing leaks."""
    now = now or datetime.now(UTC)
    rows = await Event.raw(
        "SELECT i.event, p.email, p.name, e.title FROM invitation i"
        " JOIN person p ON p.id = i.person JOIN event e ON e.id = i.event"
        " WHERE i.id = {} AND i.removed_at IS NULL AND (e.org = {} OR {} = ANY(e.cohosts))",
        invitation_id,
        org_id,
        org_id,
    )
    if not rows:
        raise NotFound("no such invitation")
    found = rows[0]
    events = await Event.raw(service._EVENT_SQL, found["event"], org_id, org_id)
    event = dict(events[0])
    if event["status"] == "cancelled":
        raise Conflict("the event is cancelled")
    course = course_sessions(event, await service._overrides(event), now=now)
    under_way = [
        s
        for s in course.sessions.values()
        if not s.cancelled and s.starts_at_utc - EARLY <= now < s.ends_at_utc
    ]
    if not under_way:
        return QrCheckIn("no-session", found["name"], found["email"], found["title"], "", [])
    session = min(under_way, key=lambda s: s.starts_at_utc)
    label = f"{session.starts_at:%Y-%m-%d %H:%M}–{session.ends_at:%H:%M}"
    if event["kind"] != "training":
        # a forum, meeting ...: the check-in is recorded, with no course to complete
        inserted = await Attendance.raw(
            "INSERT INTO attendance (id, event, person, occurrence, checked_in_at,"
            " checked_in_org, checked_in_by) SELECT gen_random_uuid(), i.event, i.person, {},"
            " {}, {}, {} FROM invitation i WHERE i.id = {}"
            " ON CONFLICT (event, person, occurrence) DO NOTHING RETURNING id",
            session.original,
            now,
            org_id,
            actor[:64],
            invitation_id,
        )
        return QrCheckIn(
            "recorded" if inserted else "already",
            found["name"],
            found["email"],
            found["title"],
            label,
            [],
        )
    # the service refuses sessions not started yet: an early arrival counts from the start
    done = await service.check_in(
        org_id=org_id,
        key_prefix=actor[:64],
        event_id=found["event"],
        email=found["email"],
        occurrence=f"{session.original:%Y-%m-%dT%H:%M:%S}",
        now=max(now, session.starts_at_utc),
    )
    return QrCheckIn(
        "recorded" if done.recorded else "already",
        found["name"],
        found["email"],
        found["title"],
        label,
        list(done.notifications),
    )
