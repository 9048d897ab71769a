"""Answers: RSVP tokens and links, answering (page or calendar client), capacity and the
waitlist, and the organizer's view of who comes."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from events_svc.calendar.agenda import agenda_entries
from events_svc.calendar.eventdata import itinerary_entries
from events_svc.calendar.timeutil import zone
from events_svc.errors import Conflict, NotFound
from events_svc.events.hosted import hosted_event
from events_svc.events.registration_rules import stored_questions
from events_svc.events.service import is_occurrence
from events_svc.events.tables import Event
from events_svc.invitations.tables import Invitation
from events_svc.invitations.waitlist import accepted_count, promote_waitlist, rsvp_changed
from events_svc.reminders import service as reminders
from events_svc.rsvp.records import (
    AttendanceRecord,
    AttendeeRecord,
    InvitationView,
    OccurrenceAnswerRecord,
    QuestionRefRecord,
    WaitlistRecord,
)
from events_svc.rsvp.tokens import read_token
from events_svc.validation import email_key

log = logging.getLogger("events_svc.rsvp")

Response = Literal["accepted", "tentative", "declined"]
RESPONSES: tuple[Response, ...] = ("accepted", "tentative", "declined")
#: iTIP PARTSTAT values that are answers
PARTSTAT_ANSWERS: dict[str, Response] = {
    "ACCEPTED": "accepted",
    "TENTATIVE": "tentative",
    "DECLINED": "declined",
}

# --- reading ---------------------------------------------------------------------------------


async def invitation_for_token(*, secret: str, token: str) -> InvitationView:
    """The invitation a token names, with its event and person; 404 when forged, or when the
    invitation was withdrawn (or renewed: a new invitation has a new link)."""
    invitation_id, generation = read_token(secret, token)
    rows = await Invitation.raw(
        "SELECT i.id, i.event, i.person, i.role, i.rsvp, i.comment, i.generation,"
        " i.removed_at, i.waitlisted_at, i.responded_at, p.email, p.name AS person_name,"
        " p.locale, e.title, e.description, e.location, e.online_url, e.starts_at, e.ends_at,"
        " e.timezone, e.recurrence, e.status, e.capacity, e.id AS event_id, o.name AS org_name,"
        " o.name_en AS org_name_en, e.itinerary, e.agenda,"
        " coalesce((SELECT array_agg(c.name ORDER BY c.slug) FROM organization c"
        "  WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names,"
        " coalesce((SELECT array_agg(coalesce(c.name_en, c.name) ORDER BY c.slug)"
        "  FROM organization c WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names_en"
        " FROM invitation i JOIN person p ON p.id = i.person JOIN event e ON e.id = i.event"
        " JOIN organization o ON o.id = e.org WHERE i.id = {}",
        invitation_id,
    )
    if not rows or rows[0]["generation"] != generation or rows[0]["removed_at"] is not None:
        raise NotFound("no invitation for this link")
    row = rows[0]
    return InvitationView(
        id=row["id"],
        event_id=row["event_id"],
        person=row["person"],
        role=row["role"],
        rsvp=row["rsvp"],
        comment=row["comment"],
        waitlisted_at=row["waitlisted_at"],
        waitlist_position=await _waitlist_position(row["event"], row["waitlisted_at"], row["id"]),
        email=row["email"],
        person_name=row["person_name"],
        locale=row["locale"],
        title=row["title"],
        description=row["description"],
        location=row["location"],
        online_url=row["online_url"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        recurrence=row["recurrence"],
        status=row["status"],
        capacity=row["capacity"],
        org_name=row["org_name"],
        org_name_en=row["org_name_en"],
        cohost_names=list(row["cohost_names"]),
        cohost_names_en=list(row["cohost_names_en"]),
        itinerary=itinerary_entries(row["itinerary"]),
        agenda=agenda_entries(row["agenda"]),
    )


async def _waitlist_position(
    event_id: uuid.UUID, waitlisted_at: datetime | None, invitation_id: uuid.UUID
) -> int | None:
    if waitlisted_at is None:
        return None
    ahead = await Invitation.raw(
        "SELECT count(*) AS n FROM invitation WHERE event = {} AND removed_at IS NULL"
        " AND waitlisted_at IS NOT NULL AND (waitlisted_at, id) < ({}, {})",
        event_id,
        waitlisted_at,
        invitation_id,
    )
    return int(ahead[0]["n"]) + 1


# --- answering -------------------------------------------------------------------------------


@dataclass(slots=True)
class Answer:
    """What an answer did."""

    rsvp: str  #: the invitation's PARTSTAT now
    waitlisted: bool
    changed: bool
    #: outbox rows (waitlist promotions) to enqueue after commit
    notifications: list[dict[str, Any]] = field(default_factory=list)
    #: webhook deliveries (rsvp.changed) to enqueue after commit
    webhooks: list[dict[str, Any]] = field(default_factory=list)


async def respond(
    *,
    invitation_id: uuid.UUID,
    response: Response,
    comment: str | None,
    source: Literal["link", "email", "api"],
    sequence: int | None = None,
    now: datetime | None = None,
) -> Answer:
    """Record a person's answer. An acceptance beyond the event's capacity goes on the
    waitlist (PARTSTAT stays TENTATIVE); a place freed by a decline goes to the first person
    waiting. Concurrent answers to one event are serialized on the event row."""
    now = now or datetime.now(UTC)
    async with Event._meta.db.transaction():
        found = await Event.raw(
            "SELECT e.id, e.org, e.cohosts, e.uid, e.title, e.status, e.capacity FROM event e"
            " JOIN invitation i ON i.event = e.id WHERE i.id = {} FOR UPDATE OF e",
            invitation_id,
        )
        if not found:
            raise NotFound("no invitation for this link")
        event = found[0]
        rows = await Invitation.raw(
            "SELECT id, event, person, rsvp, comment, waitlisted_at, removed_at, reply_sequence"
            " FROM invitation WHERE id = {} FOR UPDATE",
            invitation_id,
        )
        current = rows[0]
        if current["removed_at"] is not None:
            raise NotFound("no invitation for this link")
        if event["status"] == "cancelled":
            raise Conflict("the event is cancelled")
        was_accepted = current["rsvp"] == "accepted" and current["waitlisted_at"] is None
        rsvp, waitlisted_at = response, None
        if response == "accepted" and not was_accepted and event["capacity"] is not None:
            if await accepted_count(event["id"]) >= event["capacity"]:
                # full: on the waitlist, keeping an earlier place in it; the clock is read
                # under the event lock, so the waitlist is in the order answers were taken
                rsvp = "tentative"
                waitlisted_at = current["waitlisted_at"] or max(now, datetime.now(UTC))
        new_comment = current["comment"] if comment is None else comment.strip()
        changed = (rsvp, waitlisted_at, new_comment) != (
            current["rsvp"],
            current["waitlisted_at"],
            current["comment"],
        )
        reply_sequence = current["reply_sequence"]
        if sequence is not None:
            reply_sequence = max(sequence, reply_sequence or 0)
        await Invitation.raw(
            "UPDATE invitation SET rsvp = {}, waitlisted_at = {}, comment = {},"
            " responded_at = {}, response_source = {}, reply_sequence = {}, updated_at = {}"
            " WHERE id = {}",
            rsvp,
            waitlisted_at,
            new_comment,
            now,
            source,
            reply_sequence,
            now,
            invitation_id,
        )
        if (current["rsvp"] == "declined") != (rsvp == "declined"):
            # declining drops the person's reminders; changing one's mind brings them back
            await reminders.plan(event_id=event["id"], now=now, person_ids=[current["person"]])
        queued: list[dict[str, Any]] = []
        hooks: list[dict[str, Any]] = []
        if changed:
            hooks = await rsvp_changed(
                event, [current["person"]], source=source, occurrence=None, now=now
            )
        if was_accepted and rsvp != "accepted":
            queued = await promote_waitlist(
                event_id=event["id"], capacity=event["capacity"], now=now
            )
            promoted = [r["person"] for r in queued]
            if promoted:
                hooks += await rsvp_changed(
                    event, promoted, source="waitlist", occurrence=None, now=now
                )
    return Answer(
        rsvp=rsvp,
        waitlisted=waitlisted_at is not None,
        changed=changed,
        notifications=queued,
        webhooks=hooks,
    )


# --- replies from calendar clients -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    #: held: a valid answer whose sender nothing vouches for; the organizer decides
    status: Literal["applied", "ignored", "held"]
    reason: str = ""
    answer: Answer | None = None
    invitation_id: uuid.UUID | None = None  #: set when held
    event_id: uuid.UUID | None = None  #: set when held
    occurrence: datetime | None = None  #: held for one occurrence: its original local start


@dataclass(frozen=True, slots=True)
class ReplyTrust:
    """What vouches for the sender of a REPLY: the invitations whose reply address it arrived
    at, and the attendees (lower case) whose own domain signed it (DKIM)."""

    invitations: frozenset[uuid.UUID] = frozenset()
    attendees: frozenset[str] = frozenset()


async def apply_reply(
    *,
    uid: str,
    attendee_email: str,
    partstat: str,
    comment: str | None = None,
    sequence: int | None = None,
    recurrence_id: datetime | None = None,
    now: datetime | None = None,
    trust: ReplyTrust | None = None,
) -> ReplyOutcome:
    """Apply one iTIP REPLY (a calendar client's Accept / Decline). A reply for an unknown
    UID, from someone not invited, without an answer, with a SEQUENCE above the one sent
    (never stored: it would lock out the real answers), or older (lower SEQUENCE) than one
    already applied is ignored with the reason (SEQUENCE is compared per occurrence: a moved
    occurrence has its own). `recurrence_id` (aware, or naive local to the event) makes it an
    answer for that occurrence only. `comment` None (no COMMENT) keeps the one there is.
    With `trust`, a reply it does not vouch for is "held", changing nothing; None: the caller
    vouches for it (the organizer applying a held reply)."""
    response = PARTSTAT_ANSWERS.get(partstat.strip().upper())
    if response is None:
        return ReplyOutcome("ignored", f"PARTSTAT {partstat!r} is not an answer")
    email = attendee_email.strip()
    if email.lower().startswith("mailto:"):
        email = email[7:]
    rows = await Invitation.raw(
        "SELECT i.id, i.person, i.reply_sequence, e.id AS event_id, e.org, e.cohosts, e.uid,"
        " e.title, e.sequence, p.email_key,"
        " e.timezone, e.recurrence, e.starts_at, e.status"
        " FROM event e JOIN invitation i ON i.event = e.id"
        " JOIN person p ON p.id = i.person"
        " WHERE e.uid = {} AND p.email_key = lower({}) AND i.removed_at IS NULL",
        uid.strip(),
        email_key(email),  # people are stored with A-label domains; a client may send U-labels
    )
    if not rows:
        known = await Event.raw("SELECT 1 FROM event WHERE uid = {}", uid.strip())
        return ReplyOutcome("ignored", "attendee not invited" if known else "unknown UID")
    row = rows[0]
    if row["status"] == "cancelled":
        return ReplyOutcome("ignored", "event cancelled")
    if recurrence_id is not None:
        local = _local_occurrence(row, recurrence_id)
        if isinstance(local, ReplyOutcome):
            return local
        sent = await _occurrence_sequence(row, local)
        if sequence is not None and sequence > sent:
            return ReplyOutcome("ignored", f"SEQUENCE {sequence} is above the {sent} sent")
        held = _held(row, trust, local)
        if held is not None:
            return held
        return await _occurrence_reply(row, local, response, comment, sequence, now, sent=sent)
    if sequence is not None and sequence > row["sequence"]:
        return ReplyOutcome("ignored", f"SEQUENCE {sequence} is above the {row['sequence']} sent")
    known = _clamped(row["reply_sequence"], row["sequence"])
    if _older(sequence, known):
        return ReplyOutcome("ignored", f"SEQUENCE {sequence} is older than {known}")
    held = _held(row, trust, None)
    if held is not None:
        return held
    answer = await respond(
        invitation_id=row["id"],
        response=response,
        comment=comment,
        source="email",
        sequence=sequence,
        now=now,
    )
    return ReplyOutcome("applied", answer=answer)


def _older(sequence: int | None, known: int | None) -> bool:
    return sequence is not None and known is not None and sequence < known


def _clamped(known: int | None, sent: int) -> int | None:
    """An answered SEQUENCE never counts above the one sent: a forged one stored before
    SEQUENCE was bounded locks nobody out."""
    return None if known is None else min(known, sent)


def _held(
    row: dict[str, Any], trust: ReplyTrust | None, local: datetime | None
) -> ReplyOutcome | None:
    """The outcome "held" when nothing vouches for the sender, else None."""
    if trust is None or row["id"] in trust.invitations or row["email_key"] in trust.attendees:
        return None
    reason = (
        "sent to the reply address of another invitation"
        if trust.invitations
        else "not sent to this invitation's reply address"
    )
    return ReplyOutcome(
        "held", reason, invitation_id=row["id"], event_id=row["event_id"], occurrence=local
    )


def _local_occurrence(row: dict[str, Any], recurrence_id: datetime) -> datetime | ReplyOutcome:
    """The occurrence's original local start, or why there is none."""
    if not row["recurrence"]:
        return ReplyOutcome("ignored", "RECURRENCE-ID for an event that is not a series")
    local = recurrence_id
    if local.tzinfo is not None:
        local = local.astimezone(zone(row["timezone"])).replace(tzinfo=None)
    if not is_occurrence(row, local):
        return ReplyOutcome("ignored", "RECURRENCE-ID is not an occurrence of the series")
    return local


async def _occurrence_sequence(row: dict[str, Any], local: datetime) -> int:
    """The SEQUENCE last sent for an occurrence: its own when it was changed alone."""
    found = await Event.raw(
        "SELECT sequence FROM occurrence WHERE event = {} AND recurrence_id = {}",
        row["event_id"],
        local,
    )
    return max([row["sequence"], *(o["sequence"] for o in found)])


async def _occurrence_reply(
    row: dict[str, Any],
    local: datetime,
    response: Response,
    comment: str | None,
    sequence: int | None,
    now: datetime | None,
    *,
    sent: int,
) -> ReplyOutcome:
    now = now or datetime.now(UTC)
    async with Invitation._meta.db.transaction():
        before = await Invitation.raw(
            "SELECT sequence, comment FROM occurrence_answer"
            " WHERE invitation = {} AND recurrence_id = {} FOR UPDATE",
            row["id"],
            local,
        )
        known = _clamped(before[0]["sequence"], sent) if before else None
        if _older(sequence, known):
            return ReplyOutcome("ignored", f"SEQUENCE {sequence} is older than {known}")
        if comment is None:
            comment = before[0]["comment"] if before else ""
        await Invitation.raw(
            "INSERT INTO occurrence_answer (id, invitation, recurrence_id, rsvp, comment,"
            " sequence, updated_at) VALUES (gen_random_uuid(), {}, {}, {}, {}, {}, {})"
            " ON CONFLICT (invitation, recurrence_id) DO UPDATE SET rsvp = EXCLUDED.rsvp,"
            " comment = EXCLUDED.comment, sequence = EXCLUDED.sequence,"
            " updated_at = EXCLUDED.updated_at",
            row["id"],
            local,
            response,
            comment.strip(),
            sequence if sequence is not None else known,
            now,
        )
        event = {
            "id": row["event_id"],
            "org": row["org"],
            "cohosts": row["cohosts"],
            "uid": row["uid"],
            "title": row["title"],
        }
        hooks = await rsvp_changed(
            event, [row["person"]], source="email", occurrence=local, now=now
        )
    answer = Answer(rsvp=response, waitlisted=False, changed=True, webhooks=hooks)
    return ReplyOutcome("applied", f"occurrence {local.isoformat()}", answer=answer)


# --- the organizer's view --------------------------------------------------------------------


async def attendance(*, org_id: uuid.UUID, event_id: uuid.UUID) -> AttendanceRecord:
    """Counts per answer, the waitlist in order, and every invitee's answer and comment."""
    event = await hosted_event(org_id=org_id, event_id=event_id)
    people = await Invitation.raw(
        "SELECT p.email, p.name, i.id, i.role, i.rsvp, i.comment, i.responded_at,"
        " i.response_source, i.waitlisted_at, r.answers,"
        " EXISTS (SELECT 1 FROM attendance a WHERE a.event = i.event AND a.person = i.person)"
        " AS checked_in"
        " FROM invitation i JOIN person p ON p.id = i.person"
        " LEFT JOIN registration r ON r.event = i.event AND r.person = i.person"
        "  AND r.status = 'confirmed'"
        " WHERE i.event = {} AND i.removed_at IS NULL ORDER BY p.email_key",
        event_id,
    )
    answers = await Invitation.raw(
        "SELECT a.invitation, a.recurrence_id, a.rsvp, a.comment, a.updated_at"
        " FROM occurrence_answer a JOIN invitation i ON i.id = a.invitation"
        " WHERE i.event = {} AND i.removed_at IS NULL ORDER BY a.recurrence_id",
        event_id,
    )
    by_invitation: dict[uuid.UUID, list[OccurrenceAnswerRecord]] = {}
    for a in answers:
        by_invitation.setdefault(a["invitation"], []).append(
            OccurrenceAnswerRecord(
                occurrence=a["recurrence_id"].strftime("%Y-%m-%dT%H:%M:%S"),
                rsvp=a["rsvp"],
                comment=a["comment"],
                answered_at=a["updated_at"],
            )
        )
    counts = {"accepted": 0, "tentative": 0, "declined": 0, "needs-action": 0, "waitlisted": 0}
    for p in people:
        if p["waitlisted_at"] is not None:
            counts["waitlisted"] += 1
        else:
            counts[p["rsvp"]] = counts.get(p["rsvp"], 0) + 1
    waitlist = sorted(
        (p for p in people if p["waitlisted_at"] is not None),
        key=lambda p: (p["waitlisted_at"], p["id"]),
    )
    return AttendanceRecord(
        event=str(event_id),
        capacity=event["capacity"],
        counts=counts,
        waitlist=[
            WaitlistRecord(email=p["email"], name=p["name"], since=p["waitlisted_at"])
            for p in waitlist
        ],
        people=[
            AttendeeRecord(
                email=p["email"],
                name=p["name"],
                role=p["role"],
                rsvp=p["rsvp"],
                waitlisted=p["waitlisted_at"] is not None,
                comment=p["comment"],
                responded_at=p["responded_at"],
                source=p["response_source"],
                occurrences=by_invitation.get(p["id"], []),
                answers=_json(p["answers"]) or {},
                checked_in=p["checked_in"],
            )
            for p in people
        ],
        questions=[
            QuestionRefRecord(id=q["id"], label=q["label"])
            for q in stored_questions(event["registration_questions"])
        ],
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
