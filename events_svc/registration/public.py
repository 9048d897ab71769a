"""What the public pages read: an organization's upcoming public events, and one public
event with its hosts, agenda, itinerary and (for a series) its schedule. Nothing private:
every query asks `visibility = 'public'`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from events_svc.calendar.agenda import agenda_entries
from events_svc.calendar.eventdata import itinerary_entries
from events_svc.calendar.timeutil import iter_occurrences, local_to_utc, zone
from events_svc.errors import NotFound
from events_svc.events.registration_rules import stored_questions
from events_svc.events.tables import Event, changed_occurrences
from events_svc.orgs.tables import Organization
from events_svc.registration.records import (
    OrgRef,
    PublicEvent,
    PublicEventSummary,
    PublicOrganization,
    ScheduleEntry,
)
from events_svc.registration.service import open_for_registration, questions_of

#: the schedule of a series shows this many occurrences from today
SCHEDULE_LENGTH = 20


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def organization(*, slug: str, now: datetime | None = None) -> PublicOrganization:
    """An organization by slug with its upcoming public events (hosted or co-hosted)."""
    now = now or datetime.now(UTC)
    orgs = await Organization.raw(
        "SELECT id, slug, name, name_en, kind, region FROM organization WHERE slug = {}",
        slug.strip().lower()[:63],
    )
    if not orgs:
        raise NotFound("organization not found")
    org = orgs[0]
    events = await Event.raw(
        "SELECT id, title, kind, starts_at, ends_at, timezone, starts_at_utc, recurrence,"
        " location, online_url, registration, registration_deadline, status, ends_at_utc,"
        " series_ends_at_utc FROM event"
        " WHERE (org = {} OR {} = ANY(cohosts)) AND visibility = 'public'"
        " AND status = 'scheduled'"
        " AND coalesce(series_ends_at_utc, CASE WHEN recurrence IS NULL THEN ends_at_utc"
        "  ELSE 'infinity'::timestamptz END) >= {}"
        " ORDER BY starts_at_utc, id LIMIT 100",
        org["id"],
        org["id"],
        now,
    )
    return PublicOrganization(
        id=org["id"],
        slug=org["slug"],
        name=org["name"],
        name_en=org["name_en"],
        kind=org["kind"],
        region=org["region"],
        events=[
            PublicEventSummary(
                id=e["id"],
                title=e["title"],
                kind=e["kind"],
                starts_at=e["starts_at"],
                ends_at=e["ends_at"],
                timezone=e["timezone"],
                starts_at_utc=e["starts_at_utc"],
                recurrence=e["recurrence"],
                location=e["location"],
                online_url=e["online_url"],
                open=open_for_registration(e, now) is None,
            )
            for e in events
        ],
    )


def _org_ref(value: dict[str, Any]) -> OrgRef:
    return OrgRef(slug=value["slug"], name=value["name"], name_en=value["name_en"])


async def event(*, event_id: uuid.UUID, now: datetime | None = None) -> PublicEvent:
    """A public event for its page; a private or unknown one is a 404."""
    now = now or datetime.now(UTC)
    rows = await Event.raw(
        "SELECT e.*, o.slug AS org_slug, o.name AS org_name, o.name_en AS org_name_en,"
        " coalesce((SELECT json_agg(json_build_object('slug', c.slug, 'name', c.name,"
        "   'name_en', c.name_en) ORDER BY c.slug) FROM organization c"
        "   WHERE c.id = ANY(e.cohosts)), '[]') AS cohost_orgs,"
        " coalesce((SELECT json_agg(json_build_object('slug', c.slug, 'name', c.name,"
        "   'name_en', c.name_en) ORDER BY c.slug) FROM organization c"
        "   WHERE c.id = ANY(e.visiting)), '[]') AS visiting_orgs,"
        " (SELECT json_build_object('slug', v.slug, 'name', v.name, 'name_en', v.name_en)"
        "   FROM organization v WHERE v.id = e.venue_org) AS venue"
        " FROM event e JOIN organization o ON o.id = e.org"
        " WHERE e.id = {} AND e.visibility = 'public'",
        event_id,
    )
    if not rows:
        raise NotFound("event not found")
    row = rows[0]
    venue = _json(row["venue"])
    return PublicEvent(
        id=row["id"],
        title=row["title"],
        kind=row["kind"],
        status=row["status"],
        description=row["description"],
        location=row["location"],
        online_url=row["online_url"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        starts_at_utc=row["starts_at_utc"],
        ends_at_utc=row["ends_at_utc"],
        recurrence=row["recurrence"],
        registration_deadline=row["registration_deadline"],
        org_slug=row["org_slug"],
        org_name=row["org_name"],
        org_name_en=row["org_name_en"],
        cohost_orgs=[_org_ref(o) for o in _json(row["cohost_orgs"])],
        visiting_orgs=[_org_ref(o) for o in _json(row["visiting_orgs"])],
        venue=_org_ref(venue) if venue else None,
        agenda=agenda_entries(row["agenda"]),
        itinerary=itinerary_entries(row["itinerary"]),
        questions=questions_of(stored_questions(row["registration_questions"])),
        closed_reason=open_for_registration(row, now),
        schedule=await _schedule(row, now) if row["recurrence"] else [],
    )


async def _schedule(row: dict[str, Any], now: datetime) -> list[ScheduleEntry]:
    """The next occurrences of a series, each as planned, moved or cancelled."""
    tz = zone(row["timezone"])
    length = row["ends_at"] - row["starts_at"]
    changed = {o["recurrence_id"]: o for o in (await changed_occurrences([row["id"]]))[row["id"]]}
    out: list[ScheduleEntry] = []
    starts = iter_occurrences(row["recurrence"], start_local=row["starts_at"], tz=tz)
    upcoming = (
        s
        for s in islice(starts, 5000)
        if local_to_utc(s, tz, field="starts_at") + length >= now - timedelta(days=1)
    )
    for start in islice(upcoming, SCHEDULE_LENGTH):
        occ = changed.get(start)
        if occ is None:
            out.append(ScheduleEntry(starts_at=start, ends_at=start + length, state="planned"))
        elif occ["status"] == "cancelled":
            out.append(ScheduleEntry(starts_at=start, ends_at=start + length, state="cancelled"))
        else:
            out.append(
                ScheduleEntry(
                    starts_at=occ["starts_at"],
                    ends_at=occ["ends_at"],
                    state="moved" if occ["starts_at"] != start else "changed",
                    was=start,
                )
            )
    return out
