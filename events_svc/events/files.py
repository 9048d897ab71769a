"""An event's .ics file (METHOD:PUBLISH) and the event references in paths."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from events_svc.calendar.ics import Party, event_data, publish
from events_svc.errors import NotFound
from events_svc.events.tables import Event, changed_occurrences

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def parse_event_ref(ref: str) -> tuple[uuid.UUID, bool]:
    """`<uuid>` or `<uuid>.ics` from the path: (event id, whether the .ics file is wanted).
    Only the canonical spelling of the id is accepted; anything else is a 404, like an
    event that does not exist."""
    wants_ics = ref.endswith(".ics")
    ident = (ref[:-4] if wants_ics else ref).lower()
    if not _UUID_RE.match(ident):
        raise NotFound("event not found")
    return uuid.UUID(ident), wants_ics


@dataclass(frozen=True, slots=True)
class EventFile:
    body: bytes
    etag: str
    private: bool


async def event_file(
    *, event_id: uuid.UUID, org_id: uuid.UUID | None, base_url: str, mail_from: str
) -> EventFile:
    """The event as an .ics file: public events for anyone, private ones for their owner."""
    rows = await Event.raw(
        "SELECT e.*, o.name AS org_name, o.default_reminders AS org_default_reminders"
        " FROM event e JOIN organization o ON o.id = e.org"
        " WHERE e.id = {}",
        event_id,
    )
    if not rows or (
        rows[0]["visibility"] == "private"
        and rows[0]["org"] != org_id
        and org_id not in (rows[0]["cohosts"] or ())
    ):
        raise NotFound("event not found")
    row = rows[0]
    occurrences = (await changed_occurrences([event_id]))[event_id] if row["recurrence"] else []
    event = event_data(row, base_url=base_url, occurrences=occurrences)
    body = publish(
        event, organizer=Party(email=mail_from, name=row["org_name"]), dtstamp=row["updated_at"]
    )
    etag = hashlib.sha256(body).hexdigest()[:32]
    return EventFile(body=body, etag=f'"{etag}"', private=row["visibility"] == "private")


def event_uuid(ref: str) -> uuid.UUID:
    """An event id from the path; a malformed one is a 404, like an unknown event."""
    ident, wants_ics = parse_event_ref(ref)
    if wants_ics:
        raise NotFound("event not found")
    return ident
