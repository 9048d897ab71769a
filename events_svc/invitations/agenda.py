"""An event's agenda: sessions within it, speakers invited, one update per invitee with what
changed (however many edits were made in the meantime)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from events_svc.calendar.ics import AgendaEntry, agenda_entries
from events_svc.calendar.timeutil import TimeRuleError, local_iso, to_local, zone
from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.events.hosted import lock_hosted_event
from events_svc.events.schemas import AgendaItemIn
from events_svc.events.tables import Event
from events_svc.invitations import service as invitations
from events_svc.invitations.records import AgendaRecord
from events_svc.invitations.schemas import InviteeIn
from events_svc.notifications.tables import Notification
from events_svc.settings import DEFAULT_VOLUME
from events_svc.validation import normalize_email


def _validate(
    items: Sequence[AgendaItemIn], event: dict[str, Any], old: Sequence[AgendaEntry]
) -> list[dict[str, Any]]:
    """Stored items: local times within the event, speakers with addresses, stable ids."""
    tz = zone(event["timezone"])
    errors: list[FieldError] = []
    by_id = {o.id: o for o in old}
    by_title = {o.title: o for o in old}
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        field = f"items.{i}"
        title = " ".join(item.title.split())
        if not title:
            errors.append(FieldError(field=f"{field}.title", message="must not be blank"))
        try:
            start = to_local(item.starts_at, tz, field=f"{field}.starts_at")
            end = to_local(item.ends_at, tz, field=f"{field}.ends_at")
        except TimeRuleError as exc:
            errors.append(FieldError(field=exc.field, message=exc.message))
            continue
        if end <= start:
            errors.append(FieldError(field=f"{field}.ends_at", message="must be after starts_at"))
        if start < event["starts_at"]:
            errors.append(
                FieldError(
                    field=f"{field}.starts_at",
                    message=f"must not be before the event ({local_iso(event['starts_at'])})",
                )
            )
        if end > event["ends_at"]:
            errors.append(
                FieldError(
                    field=f"{field}.ends_at",
                    message=f"must not be after the event ({local_iso(event['ends_at'])})",
                )
            )
        speakers = []
        for j, sp in enumerate(item.speakers):
            address = sp.email.strip()
            try:
                address = normalize_email(address) if address else address
            except ValueError as exc:
                errors.append(FieldError(field=f"{field}.speakers.{j}.email", message=str(exc)))
            else:
                if not address:
                    errors.append(
                        FieldError(field=f"{field}.speakers.{j}.email", message="is required")
                    )
            if "\n" in sp.name or "\r" in sp.name:
                errors.append(
                    FieldError(field=f"{field}.speakers.{j}.name", message="must be a single line")
                )
            speakers.append({"email": address, "name": " ".join(sp.name.split()), "role": sp.role})
        # the same session keeps its id (so its UID in feeds): the id given back, else the
        # old session of the same title
        ident = None
        if item.id and item.id in by_id and item.id not in used:
            ident = item.id
        elif title in by_title and by_title[title].id not in used:
            ident = by_title[title].id
        ident = ident or uuid.uuid4().hex[:12]
        used.add(ident)
        out.append(
            {
                "id": ident,
                "title": title,
                "starts_at": local_iso(start),
                "ends_at": local_iso(end),
                "room": " ".join(item.room.split()),
                "description": item.description.strip(),
                "speakers": speakers,
            }
        )
    if errors:
        raise InvalidInput.fields(errors)
    return sorted(out, key=lambda a: (a["starts_at"], a["ends_at"], a["title"]))


async def set_agenda(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    items: Sequence[AgendaItemIn],
    update_delay: float,
    now: datetime | None = None,
    max_reminder_rows: int = DEFAULT_VOLUME.reminder_rows,
) -> tuple[AgendaRecord, list[dict[str, Any]], list[dict[str, Any]]]:
    """Replace the event's agenda. Speakers are invited (chairs as chair); every other
    invitee who has not declined gets one update, `update_delay` seconds after the first
    change, listing what changed since the last message they got. Returns the agenda answer,
    the invitations and the (delayed) updates to enqueue after commit."""
    now = now or datetime.now(UTC)
    async with Event._meta.db.transaction():
        event = await lock_hosted_event(org_id=org_id, event_id=event_id)
        if event["status"] == "cancelled":
            raise Conflict("the event is cancelled and can no longer be changed")
        stored = _validate(items, event, agenda_entries(event["agenda"]))
        previous = event["agenda"]
        if isinstance(previous, str):
            previous = json.loads(previous)
        changed = stored != (previous or [])
        await Event.raw(
            "UPDATE event SET agenda = {}::jsonb, updated_at = {} WHERE id = {}",
            json.dumps(stored, ensure_ascii=False),
            now,
            event_id,
        )
        speakers: dict[str, InviteeIn] = {}
        for item in stored:
            for sp in item["speakers"]:
                key = sp["email"].lower()
                role: Literal["chair", "required"] = (
                    "chair" if sp["role"] == "chair" else "required"
                )
                if key not in speakers or role == "chair":
                    speakers[key] = InviteeIn(email=sp["email"], name=sp["name"], role=role)
        queued: list[dict[str, Any]] = []
        invited = 0
        if speakers:
            queued, invited = await invitations.invite_locked(
                event,
                list(speakers.values()),
                now=now,
                max_reminder_rows=max_reminder_rows,
                field="items",
            )
        updates: list[dict[str, Any]] = []
        if changed:
            # one pending update per person: later edits before it goes out ride along
            updates = list(
                await Notification.raw(
                    "INSERT INTO notification (id, key, kind, event, person, sequence, detail,"
                    " next_attempt_at)"
                    " SELECT gen_random_uuid(), 'agenda:' || i.event || ':' || i.person || ':'"
                    " || gen_random_uuid(), 'agenda', i.event, i.person, {}, '', {}"
                    " FROM invitation i WHERE i.event = {} AND i.removed_at IS NULL"
                    " AND i.rsvp <> 'declined'"
                    " AND EXISTS (SELECT 1 FROM notification s WHERE s.event = i.event"
                    "  AND s.person = i.person AND s.kind IN ('invitation', 'update', 'agenda')"
                    "  AND s.status IN ('sent', 'sending'))"
                    " AND NOT EXISTS (SELECT 1 FROM notification q WHERE q.event = i.event"
                    "  AND q.person = i.person AND q.kind = 'agenda' AND q.status = 'queued')"
                    " RETURNING id, key, attempts, next_attempt_at",
                    event["sequence"],
                    now + timedelta(seconds=update_delay),
                    event_id,
                )
            )
    answer = AgendaRecord(
        event=str(event_id), items=stored, invited=invited, updates_queued=len(updates)
    )
    return answer, queued, updates


async def get_agenda(*, org_id: uuid.UUID, event_id: uuid.UUID) -> tuple[AgendaEntry, ...]:
    """The event's agenda as stored (local times, rooms, speakers), for its hosts."""
    rows = await Event.raw(
        "SELECT agenda FROM event e WHERE id = {} AND (e.org = {} OR {} = ANY(e.cohosts))",
        event_id,
        org_id,
        org_id,
    )
    if not rows:
        raise NotFound("event not found")
    return agenda_entries(rows[0]["agenda"])
