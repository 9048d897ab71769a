"""Replies held for the organizer: listed per event, and applied or discarded by the host or
a co-host (the organizer knows whether the answer is plausible; the service cannot)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from events_svc.errors import Conflict, InvalidInput, NotFound, ServiceError
from events_svc.events.hosted import hosted_event
from events_svc.inbound.records import HeldReplyRecord
from events_svc.inbound.tables import HeldReply
from events_svc.rsvp.service import Answer, apply_reply
from events_svc.validation import decode_token

HeldStatus = Literal["held", "applied", "discarded"]
DEFAULT_PAGE = 100
MAX_PAGE = 1000

_COLUMNS = (
    "h.id, h.attendee, h.partstat, h.comment, h.sequence, h.recurrence_id AS occurrence,"
    " h.recipient, h.sender, h.reason, h.status, h.received_at, h.decided_at"
)


async def _event(org_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """The event when the caller hosts or co-hosts it; anyone else gets a 404."""
    return await hosted_event(org_id=org_id, event_id=event_id)


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        stamp, _, ident = decode_token(cursor).decode().partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput.field("cursor", "not a cursor this API gave out") from exc


async def list_held(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    status: HeldStatus | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> tuple[list[HeldReplyRecord], str | None]:
    """An event's held replies (all, or those with `status`), oldest first."""
    await _event(org_id, event_id)
    after = _decode_cursor(cursor) if cursor else None
    rows = await HeldReply.raw(
        f"SELECT {_COLUMNS} FROM held_reply h WHERE h.event = {{}}"  # noqa: S608 - constants
        " AND ({}::text IS NULL OR h.status = {})"
        " AND ({}::timestamptz IS NULL OR (h.received_at, h.id) > ({}, {}::uuid))"
        " ORDER BY h.received_at, h.id LIMIT {}",
        event_id,
        status,
        status,
        after[0] if after else None,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        text = f"{last['received_at'].isoformat()}|{last['id']}"
        next_cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    return [HeldReplyRecord(**r) for r in rows[:limit]], next_cursor


async def decide(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    reply_id: uuid.UUID,
    action: Literal["apply", "discard"],
    now: datetime | None = None,
) -> tuple[HeldReplyRecord, Answer | None]:
    """Apply a held reply as if it had come to the invitation's reply address, or discard
    it. Only a held one: deciding twice is a 409, and so is an answer that no longer applies
    (the event was cancelled, the person uninvited, a newer answer came)."""
    now = now or datetime.now(UTC)
    event = await _event(org_id, event_id)
    answer: Answer | None = None
    async with HeldReply._meta.db.transaction():
        rows = await HeldReply.raw(
            "SELECT id, attendee, partstat, comment, sequence, recurrence_id, status"
            " FROM held_reply WHERE id = {} AND event = {} FOR UPDATE",
            reply_id,
            event_id,
        )
        if not rows:
            raise NotFound("held reply not found")
        held = rows[0]
        if held["status"] != "held":
            raise Conflict(f"this reply was already {held['status']}")
        if action == "apply":
            try:
                outcome = await apply_reply(
                    uid=event["uid"],
                    attendee_email=held["attendee"],
                    partstat=held["partstat"],
                    comment=held["comment"],
                    sequence=held["sequence"],
                    recurrence_id=held["recurrence_id"],
                    now=now,
                    trust=None,  # the organizer vouches for it
                )
            except ServiceError as exc:
                raise Conflict(f"the reply no longer applies: {exc.detail}") from exc
            if outcome.status != "applied":
                raise Conflict(f"the reply no longer applies: {outcome.reason}")
            answer = outcome.answer
        await HeldReply.raw(
            "UPDATE held_reply SET status = {}, decided_at = {} WHERE id = {}",
            "applied" if action == "apply" else "discarded",
            now,
            reply_id,
        )
        found = await HeldReply.raw(
            f"SELECT {_COLUMNS} FROM held_reply h WHERE h.id = {{}}",  # noqa: S608 - constants
            reply_id,
        )
    return HeldReplyRecord(**found[0]), answer
