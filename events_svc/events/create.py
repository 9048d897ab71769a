"""Creating an event: its visits, itinerary and partnership."""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events_svc import database
from events_svc.errors import FieldError, InvalidInput
from events_svc.events import registration_rules
from events_svc.events.read import _row_out
from events_svc.events.records import EventRecord
from events_svc.events.schemas import (
    EventCreate,
)
from events_svc.events.tables import Event
from events_svc.events.times import (
    _itinerary,
    _single_line,
    _url,
    resolve_times,
    validate_reminders,
)
from events_svc.organizers import audit
from events_svc.partnerships import service as partnerships
from events_svc.settings import DEFAULT_VOLUME, VolumeLimits

#: what a new event's row is given besides `org`, each a key of the row `create_event` builds
_NAMES = (
    *("id", "uid", "sequence", "kind", "title", "description", "location", "online_url"),
    *("starts_at", "ends_at", "timezone", "starts_at_utc", "ends_at_utc", "series_ends_at_utc"),
    *("recurrence", "status", "visibility", "capacity", "completion_threshold", "registration"),
    *("registration_deadline", "registration_questions", "reminders", "partnership", "area"),
    *("cohosts", "venue_org", "visiting", "itinerary", "created_at", "updated_at"),
)
_NAME_SET = frozenset(_NAMES)
_VALUES = operator.itemgetter(*_NAMES)
# Raw SQL on the create path: building the insert through Piccolo's Table object cost more
# CPU than the statement itself (bench/api.py)
_INSERT = (
    f"INSERT INTO event (org, {', '.join(_NAMES)}) VALUES ("  # noqa: S608 - constant names
    + ", ".join(f"${n}" for n in range(1, len(_NAMES) + 2))
    + ")"
)
#: the insert and, in the same statement (one round trip, one commit), its audit entry
_INSERT_AUDITED = (
    f"WITH made AS ({_INSERT}) INSERT INTO audit_entry (id, {audit.COLUMNS})"  # noqa: S608
    " VALUES (gen_random_uuid(), "
    + ", ".join(f"${n}" for n in range(len(_NAMES) + 2, len(_NAMES) + 9))
    + ")"
)


async def create_event(
    *,
    org_id: uuid.UUID,
    org_slug: str,
    data: EventCreate,
    uid_host: str,
    limits: VolumeLimits = DEFAULT_VOLUME,
    audit_note: audit.Note | None = None,
) -> EventRecord:
    """Make the event; with `audit_note`, its audit entry too, in the same statement."""
    times = resolve_times(
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        recurrence=data.recurrence,
        limits=limits,
    )
    reminders = validate_reminders(data.reminders, tz_name=data.timezone)
    partnership_id = _partnership_id(data.partnership)
    venue: uuid.UUID | None = None
    visiting: list[uuid.UUID] = []
    if data.kind == "exchange_visit" or data.host is not None or data.visiting:
        venue, visiting = await _visit(
            org_id=org_id, kind=data.kind, host=data.host, visiting=data.visiting
        )
    itinerary = _itinerary(data.itinerary, times=times)
    registration_rules.check_public(registration=data.registration, visibility=data.visibility)
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "uid": f"{uuid.uuid4()}@{uid_host}",
        "sequence": 0,
        "kind": data.kind,
        "title": _single_line(data.title, field="title"),
        "description": data.description,
        "location": _single_line(data.location, field="location"),
        "online_url": _url(data.online_url, field="online_url"),
        "starts_at": times.starts_at,
        "ends_at": times.ends_at,
        "timezone": times.timezone,
        "starts_at_utc": times.starts_at_utc,
        "ends_at_utc": times.ends_at_utc,
        "series_ends_at_utc": times.series_ends_at_utc,
        "recurrence": times.recurrence,
        "status": "scheduled",
        "visibility": data.visibility,
        "capacity": data.capacity,
        "completion_threshold": data.completion_threshold,
        "registration": data.registration,
        "registration_deadline": registration_rules.deadline(
            data.registration_deadline, tz_name=times.timezone
        ),
        "registration_questions": registration_rules.questions(data.registration_questions),
        "reminders": json.dumps(reminders) if reminders is not None else None,
        "partnership": partnership_id,
        "area": data.area if partnership_id else None,
        "cohosts": [],
        "venue_org": venue,
        "visiting": visiting,
        "itinerary": json.dumps(itinerary, ensure_ascii=False) if itinerary is not None else None,
        "created_at": now,
        "updated_at": now,
    }
    assert row.keys() == _NAME_SET, "_NAMES lists every column the row sets"
    link = partnerships.check_event_link(
        org_id=org_id, partnership_id=partnership_id, area=data.area, cohost_slugs=data.cohosts
    )
    if partnership_id is None:
        # no agreement to lock: the check reads nothing, and the insert is one statement
        row["cohosts"] = await link
        await _insert(org_id, row, audit_note)
    else:
        async with Event._meta.db.transaction():
            # checked in the transaction that inserts: an agreement ending meanwhile waits
            row["cohosts"] = await link
            await _insert(org_id, row, audit_note)
    # the co-hosts were checked above: their slugs are the ones given
    slugs = sorted({c.strip().lower() for c in data.cohosts} - {org_slug})
    visiting_slugs = sorted({v.strip().lower() for v in data.visiting})
    venue_slug = data.host.strip().lower() if data.host else None
    # the row as a read gives it (stored, it is done with: no copy)
    row["org_slug"] = org_slug
    row["cohost_slugs"] = slugs
    row["venue_slug"] = venue_slug
    row["visiting_slugs"] = visiting_slugs
    return _row_out(row)


async def _insert(org_id: uuid.UUID, row: dict[str, Any], note: audit.Note | None) -> None:
    if note is None:
        await database.fetch(_INSERT, org_id, *_VALUES(row))
    else:
        entry = note.columns(subject=str(row["id"]), at=row["created_at"])
        await database.fetch(_INSERT_AUDITED, org_id, *_VALUES(row), *entry)


async def _visit(
    *, org_id: uuid.UUID, kind: str, host: str | None, visiting: Sequence[str]
) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
    """An exchange visit's host (whose premises; None: the organization itself) and its
    visiting organizations, by slug."""
    if kind != "exchange_visit":
        if host is not None:
            raise InvalidInput.field("host", "only an exchange_visit names a host")
        if visiting:
            raise InvalidInput.field("visiting", "only an exchange_visit has visitors")
        return None, []
    slugs = [v.strip().lower() for v in visiting] + ([host.strip().lower()] if host else [])
    found = await Event.raw("SELECT id, slug FROM organization WHERE slug = ANY({}::text[])", slugs)
    ids = {r["slug"]: r["id"] for r in found}
    venue = None
    if host is not None:
        venue = ids.get(host.strip().lower())
        if venue is None:
            raise InvalidInput.field("host", f"no organization {host!r}")
    errors: list[FieldError] = []
    out: list[uuid.UUID] = []
    for i, slug in enumerate(v.strip().lower() for v in visiting):
        if slug not in ids:
            errors.append(FieldError(field=f"visiting.{i}", message=f"no organization {slug!r}"))
        elif ids[slug] in (venue or org_id,):
            errors.append(FieldError(field=f"visiting.{i}", message="the host does not visit"))
        elif ids[slug] not in out:
            out.append(ids[slug])
    if errors:
        raise InvalidInput.fields(errors)
    return (None if venue == org_id else venue), out


def _partnership_id(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput.field("partnership", "not a partnership id") from exc
