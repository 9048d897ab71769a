"""Invitations: who is invited to which event, and the messages that go with it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis

from events_svc import paging
from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.events.hosted import hosted_event, lock_hosted_event
from events_svc.events.tables import Event
from events_svc.invitations import waitlist
from events_svc.invitations.records import DeliveryRecord, InvitationRecord
from events_svc.invitations.schemas import InviteeIn
from events_svc.invitations.tables import Invitation
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.notifications import service as outbox
from events_svc.people.service import PersonIn, upsert_people
from events_svc.reminders import service as reminders
from events_svc.settings import DEFAULT_VOLUME
from events_svc.validation import email_key, normalize_email


def _check_invitees(invitees: Sequence[InviteeIn]) -> list[InviteeIn]:
    """Refuse the whole list when any address is bad, naming every one; drop repeats."""
    errors: list[FieldError] = []
    unique: dict[str, InviteeIn] = {}
    for i, invitee in enumerate(invitees):
        try:
            email = normalize_email(invitee.email)
        except ValueError as exc:
            errors.append(FieldError(field=f"invitees.{i}.email", message=str(exc)))
            continue
        if any(ch in invitee.name for ch in "\r\n"):
            errors.append(FieldError(field=f"invitees.{i}.name", message="must be a single line"))
            continue
        unique.setdefault(
            email.lower(),
            InviteeIn(
                email=email, name=invitee.name.strip(), role=invitee.role, locale=invitee.locale
            ),
        )
    if errors:
        bad = ", ".join(e.field for e in errors[:20])
        more = f" and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise InvalidInput(f"{len(errors)} invalid invitee(s): {bad}{more}", errors=errors)
    return list(unique.values())


@dataclass(frozen=True, slots=True)
class Invited:
    invited: int  #: people newly invited
    already_invited: int  #: people who were on the list already
    #: invitations queued for a later hour: the organization's hourly cap was reached
    deferred: int = 0
    deferred_until: datetime | None = None  #: when the last deferred one may go out


async def invite(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    invitees: Sequence[InviteeIn],
    message: str,
    queue: ArqRedis | None,
    now: datetime | None = None,
    max_reminder_rows: int = DEFAULT_VOLUME.reminder_rows,
) -> Invited:
    """Invite people. Idempotent per address. A list that would give the event more than
    `max_reminder_rows` reminder rows is refused whole."""
    people = _check_invitees(invitees)
    async with Event._meta.db.transaction():
        event = await lock_hosted_event(org_id=org_id, event_id=event_id)
        queued, invited = await _invite_locked(
            event, people, message=message, now=now, max_reminder_rows=max_reminder_rows
        )
    # rows over the hourly cap wait in the database; the sweep enqueues them once due
    later = [r for r in queued if r.get("deferred")]
    await enqueue_notifications(queue, [r for r in queued if not r.get("deferred")], batch=True)
    return Invited(
        invited=invited,
        already_invited=len(people) - invited,
        deferred=len(later),
        deferred_until=max((r["next_attempt_at"] for r in later), default=None),
    )


async def invite_locked(
    event: dict[str, Any],
    invitees: Sequence[InviteeIn],
    *,
    now: datetime | None = None,
    max_reminder_rows: int = DEFAULT_VOLUME.reminder_rows,
    field: str = "invitees",
) -> tuple[list[dict[str, Any]], int]:
    """Invite people to an event the caller has locked (`lock_event_by_id`), inside its
    transaction, for routes other than the hosts' (a visiting organization's delegation,
    an agenda's speakers); returns the outbox rows to enqueue after commit and how many
    people were newly invited."""
    return await _invite_locked(
        event,
        _check_invitees(invitees),
        message="",
        now=now,
        max_reminder_rows=max_reminder_rows,
        field=field,
    )


async def lock_event_by_id(event_id: uuid.UUID) -> dict[str, Any]:
    """The event locked against concurrent changes, whoever asks (the caller checked)."""
    rows = await Event.raw(
        "SELECT id, org, cohosts, uid, title, sequence, status, capacity FROM event"
        " WHERE id = {} FOR UPDATE",
        event_id,
    )
    if not rows:
        raise NotFound("event not found")
    return dict(rows[0])


async def _invite_locked(
    event: dict[str, Any],
    people: Sequence[InviteeIn],
    *,
    message: str,
    now: datetime | None,
    max_reminder_rows: int = DEFAULT_VOLUME.reminder_rows,
    field: str = "invitees",
) -> tuple[list[dict[str, Any]], int]:
    event_id = event["id"]
    if event["status"] == "cancelled":
        raise Conflict("the event is cancelled; nobody can be invited to it")
    ids = await upsert_people(
        [PersonIn(email=p.email, name=p.name, locale=p.locale) for p in people]
    )
    rows = await Invitation.raw(
        "INSERT INTO invitation (id, event, person, role, message)"
        " SELECT gen_random_uuid(), {}, p, r, {}"
        " FROM unnest({}::uuid[], {}::text[]) AS u(p, r)"
        " ON CONFLICT (event, person) DO UPDATE SET removed_at = NULL,"
        " generation = invitation.generation + 1, role = EXCLUDED.role,"
        " message = EXCLUDED.message, rsvp = 'needs-action', comment = '',"
        " responded_at = NULL, response_source = '', waitlisted_at = NULL,"
        " reply_sequence = NULL, updated_at = now()"
        " WHERE invitation.removed_at IS NOT NULL"
        " RETURNING person, generation",
        event_id,
        message,
        [ids[p.email.lower()] for p in people],
        [p.role for p in people],
    )
    queued = await outbox.queue_invitations(
        event_id=event_id, sequence=event["sequence"], invitations=rows
    )
    await reminders.plan(
        event_id=event_id,
        now=now or datetime.now(UTC),
        person_ids=[r["person"] for r in rows],
        max_rows=max_reminder_rows,
        field=field,
    )
    return list(queued), len(rows)


async def uninvite(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    email: str,
    queue: ArqRedis | None,
    now: datetime | None = None,
) -> None:
    """Take a person off the list; they get a CANCEL for the event and no more reminders."""
    async with Event._meta.db.transaction():
        event = await lock_hosted_event(org_id=org_id, event_id=event_id)
        outbox_rows, hooks = await uninvite_locked(event, email, now=now)
        if outbox_rows is None:
            raise NotFound(f"{email!r} is not invited to this event")
    await enqueue_notifications(queue, outbox_rows)
    await enqueue_webhooks(queue, hooks)


async def uninvite_locked(
    event: dict[str, Any], email: str, *, now: datetime | None = None
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Take a person off the list of a locked event, inside its transaction: (outbox rows to
    enqueue, webhook rows to enqueue), or (None, []) when they were not on it. A place they
    held goes to the first person on the waitlist."""
    event_id = event["id"]
    rows = await Invitation.raw(
        "UPDATE invitation i SET removed_at = now(), updated_at = now(), waitlisted_at = NULL"
        " FROM person p, invitation before WHERE p.id = i.person"
        " AND p.email_key = lower({}) AND before.id = i.id"
        " AND i.event = {} AND i.removed_at IS NULL"
        " RETURNING i.person, i.generation,"
        " before.rsvp = 'accepted' AND before.waitlisted_at IS NULL AS held_a_place",
        email_key(email),
        event_id,
    )
    if not rows:
        return None, []
    stamp = now or datetime.now(UTC)
    promoted: list[dict[str, Any]] = []
    hooks: list[dict[str, Any]] = []
    if rows[0]["held_a_place"] and event["status"] != "cancelled":
        promoted = await waitlist.promote_waitlist(
            event_id=event_id, capacity=event["capacity"], now=stamp
        )
        people = [r["person"] for r in promoted]
        if people:
            hooks = await waitlist.rsvp_changed(
                event, people, source="waitlist", occurrence=None, now=stamp
            )
    await reminders.plan(event_id=event_id, now=stamp, person_ids=[rows[0]["person"]])
    queued: list[dict[str, Any]] = []
    if event["status"] != "cancelled":  # after a cancellation there is nothing to take back
        queued = await outbox.queue_uninvite(
            event_id=event_id,
            sequence=event["sequence"],
            person_id=rows[0]["person"],
            generation=rows[0]["generation"],
        )
    return queued + promoted, hooks


def _decode_cursor(cursor: str) -> str:
    return paging.decode_cursor(cursor, "invitations", size=1)[0]


async def list_invitations(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    cursor: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
) -> tuple[list[InvitationRecord], str | None]:
    """Current invitees by address, each with the delivery state of their latest message."""
    await hosted_event(org_id=org_id, event_id=event_id)
    after = _decode_cursor(cursor) if cursor else ""
    rows = await Invitation.raw(
        "SELECT p.email, p.email_key, p.name, p.locale, i.role, i.rsvp,"
        " i.created_at AS invited_at, n.kind, n.status, n.attempts, n.last_error, n.sent_at"
        " FROM invitation i JOIN person p ON p.id = i.person"
        " LEFT JOIN LATERAL (SELECT kind, status, attempts, last_error, sent_at"
        "   FROM notification WHERE event = i.event AND person = i.person"
        "   ORDER BY created_at DESC LIMIT 1) n ON true"
        " WHERE i.event = {} AND i.removed_at IS NULL AND p.email_key > {}"
        " ORDER BY p.email_key LIMIT {}",
        event_id,
        after,
        limit + 1,
    )
    items = [
        InvitationRecord(
            email=r["email"],
            name=r["name"],
            role=r["role"],
            rsvp=r["rsvp"],
            locale=r["locale"],
            invited_at=r["invited_at"],
            delivery=None
            if r["kind"] is None
            else DeliveryRecord(
                kind=r["kind"],
                status=r["status"],
                attempts=r["attempts"],
                last_error=r["last_error"],
                sent_at=r["sent_at"],
            ),
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]["email_key"]
        next_cursor = paging.encode_cursor("invitations", last)
    return items, next_cursor
