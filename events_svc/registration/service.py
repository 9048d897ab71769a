"""Self-registration: a person registers on an event's public page, confirms by e-mail
(double opt-in), and becomes an invitee with source `registration` through the same
function organizers invite with: the normal iMIP invitation, capacity and waitlist.

The confirmation link is `<registration id>.<HMAC of it under SECRET_KEY>`: the row alone
confirms nobody. Confirming locks the event row first (as every change of its list does), so
simultaneous confirmations are counted against capacity one at a time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from events_svc import paging
from events_svc.errors import FieldError, InvalidInput, NotFound, ServiceError
from events_svc.events.registration_rules import stored_questions
from events_svc.events.tables import Event
from events_svc.invitations import service as invitations
from events_svc.invitations import waitlist
from events_svc.invitations.schemas import InviteeIn
from events_svc.people.service import PersonIn, upsert_people
from events_svc.registration.records import QuestionRecord, RegistrationLink, RegistrationRecord
from events_svc.registration.tables import Registration
from events_svc.sidemail import service as sidemail
from events_svc.signing import read_signed_id, signed_id
from events_svc.validation import normalize_email

MAX_ANSWER = 2000
#: the side-mail kind of the confirmation e-mail (its X-Notification-Kind too)
MAIL_KIND = "registration-confirm"


class Gone(ServiceError):
    status = 410
    slug = "gone"
    title = "Gone"


class RegistrationClosed(ServiceError):
    """The event takes no registrations (closed, cancelled, past its deadline or over)."""

    status = 409
    slug = "registration-closed"
    title = "Registration closed"


@dataclass(frozen=True, slots=True)
class Registered:
    #: sent: a confirmation e-mail is on its way; already: this address registered (or was
    #: invited) before, and nothing changed
    outcome: Literal["sent", "already"]
    mail: list[dict[str, Any]]  #: rows to enqueue after commit


@dataclass(frozen=True, slots=True)
class Confirmed:
    outcome: Literal["confirmed", "waitlisted", "already"]
    event_id: uuid.UUID
    title: str
    notifications: list[dict[str, Any]]  #: outbox rows to enqueue after commit
    hooks: list[dict[str, Any]]  #: webhook rows to enqueue after commit


# --- the link ------------------------------------------------------------------------------


#: what the confirmation link's MAC is over, beside the registration's id
_LABEL = b"registration-confirm"


def confirm_token(secret: str, registration_id: uuid.UUID) -> str:
    return signed_id(secret, _LABEL, registration_id)


def confirm_path(secret: str, registration_id: uuid.UUID) -> str:
    return f"/register/confirm/{confirm_token(secret, registration_id)}"


def _token_id(secret: str, token: str) -> uuid.UUID | None:
    return read_signed_id(secret, _LABEL, token)


# --- registering ---------------------------------------------------------------------------


def check_answers(questions: list[dict[str, Any]], given: Mapping[str, Any]) -> dict[str, Any]:
    """The answers as stored, or a 422 naming every bad one (`answers.<question id>`)."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    known = {q["id"] for q in questions}
    for key in given:
        if key not in known:
            errors.append(FieldError(field=f"answers.{key}", message="no such question"))
    for q in questions:
        field = f"answers.{q['id']}"
        value = given.get(q["id"])
        if q["type"] == "several_choices":
            items = [value] if isinstance(value, str) else list(value or [])
            items = [v for v in items if isinstance(v, str) and v.strip()]
            if any(v not in q["choices"] for v in items):
                errors.append(FieldError(field=field, message="not one of the choices"))
            elif q["required"] and not items:
                errors.append(FieldError(field=field, message="is required"))
            elif items:
                out[q["id"]] = sorted(set(items), key=q["choices"].index)
            continue
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(field=field, message="must be text"))
            continue
        text = (value or "").strip()
        if q["type"] == "one_choice" and text and text not in q["choices"]:
            errors.append(FieldError(field=field, message="not one of the choices"))
        elif q["type"] == "short_text" and ("\n" in text or len(text) > 300):
            errors.append(FieldError(field=field, message="one line of at most 300 characters"))
        elif len(text) > MAX_ANSWER:
            errors.append(FieldError(field=field, message=f"at most {MAX_ANSWER} characters"))
        elif "\x00" in text:
            errors.append(FieldError(field=field, message="contains a NUL character"))
        elif q["required"] and not text:
            errors.append(FieldError(field=field, message="is required"))
        elif text:
            out[q["id"]] = text
    if errors:
        raise InvalidInput.fields(errors)
    return out


def questions_of(stored: list[dict[str, Any]]) -> list[QuestionRecord]:
    """The stored questions (`stored_questions`) as records."""
    return [
        QuestionRecord(
            id=q["id"],
            label=q["label"],
            type=q["type"],
            required=bool(q.get("required")),
            choices=list(q.get("choices") or ()),
        )
        for q in stored
    ]


def open_for_registration(event: Mapping[str, Any], now: datetime) -> str | None:
    """Why the event takes no registration now (a short reason), or None when it does."""
    if event["status"] == "cancelled":
        return "the event is cancelled"
    if event["registration"] != "open":
        return "registration is closed"
    deadline = event["registration_deadline"]
    if deadline is not None and now >= deadline:
        return "the registration deadline has passed"
    last_end = event["series_ends_at_utc"] if event["recurrence"] else event["ends_at_utc"]
    if last_end is not None and now >= last_end:
        return "the event is over"
    return None


async def public_event_row(event_id: uuid.UUID) -> dict[str, Any]:
    """A public event's row (a private or unknown one is a 404: nothing leaks)."""
    rows = await Event.raw("SELECT * FROM event WHERE id = {} AND visibility = 'public'", event_id)
    if not rows:
        raise NotFound("event not found")
    return dict(rows[0])


async def register(
    *,
    event_id: uuid.UUID,
    email: str,
    name: str,
    locale: str,
    answers: Mapping[str, Any],
    confirm_seconds: float,
    now: datetime | None = None,
) -> Registered:
    """Register a person (pending until they confirm by e-mail). A second registration of
    the same address, pending or confirmed, changes nothing and answers `already`."""
    now = now or datetime.now(UTC)
    errors: list[FieldError] = []
    try:
        address = normalize_email(email)
    except ValueError as exc:
        errors.append(FieldError(field="email", message=str(exc)))
        address = ""
    name = " ".join(name.split())
    if len(name) > 200 or "\x00" in name:
        errors.append(FieldError(field="name", message="at most 200 characters"))
    if locale not in ("zh-CN", "en"):
        errors.append(FieldError(field="locale", message="must be zh-CN or en"))
    event = await public_event_row(event_id)
    reason = open_for_registration(event, now)
    if reason is not None:
        raise RegistrationClosed(reason)
    try:
        stored = check_answers(stored_questions(event["registration_questions"]), answers)
    except InvalidInput as exc:
        errors.extend(exc.errors or [])
    if errors:
        raise InvalidInput.fields(errors)
    async with Registration._meta.db.transaction():
        ids = await upsert_people([PersonIn(email=address, name=name, locale=locale)])
        person = ids[address.lower()]
        invited = await Registration.raw(
            "SELECT 1 FROM invitation WHERE event = {} AND person = {} AND removed_at IS NULL",
            event_id,
            person,
        )
        if invited:
            return Registered(outcome="already", mail=[])
        expires_at = now + timedelta(seconds=confirm_seconds)
        rows = await Registration.raw(
            "INSERT INTO registration (id, event, person, name, locale, answers, status,"
            " created_at, expires_at)"
            " VALUES (gen_random_uuid(), {}, {}, {}, {}, {}::jsonb, 'pending', {}, {})"
            # an expired registration starts over, under a new id (its old link stays dead)
            " ON CONFLICT (event, person) DO UPDATE SET id = gen_random_uuid(),"
            " name = EXCLUDED.name, locale = EXCLUDED.locale, answers = EXCLUDED.answers,"
            " status = 'pending', created_at = EXCLUDED.created_at,"
            " expires_at = EXCLUDED.expires_at"
            " WHERE registration.status = 'expired'"
            " OR (registration.status = 'pending' AND registration.expires_at <= {})"
            " RETURNING id",
            event_id,
            person,
            name,
            locale,
            json.dumps(stored, ensure_ascii=False),
            now,
            expires_at,
            now,
        )
        if not rows:
            return Registered(outcome="already", mail=[])
        mail = await sidemail.queue(
            kind=MAIL_KIND, about=rows[0]["id"], now=now, expires_at=expires_at
        )
    return Registered(outcome="sent", mail=[mail])


# --- confirming ----------------------------------------------------------------------------


async def peek(*, secret: str, token: str) -> RegistrationLink | None:
    """The registration a link names, with its event's title (None for a forged link); a
    GET shows it and changes nothing (mail scanners follow links)."""
    ident = _token_id(secret, token)
    if ident is None:
        return None
    rows = await Registration.raw(
        "SELECT r.id, r.status, r.expires_at, r.locale, e.id AS event_id, e.title"
        " FROM registration r JOIN event e ON e.id = r.event WHERE r.id = {}",
        ident,
    )
    return RegistrationLink(**rows[0]) if rows else None


async def confirm(*, secret: str, token: str, now: datetime | None = None) -> Confirmed:
    """Confirm a registration: the person is invited (source `registration`) and holds a
    place, or waits on the waitlist when the event is full. A confirmed one answers
    `already`; a forged, unknown or expired link is a 410."""
    now = now or datetime.now(UTC)
    ident = _token_id(secret, token)
    if ident is None:
        raise Gone("this confirmation link is not valid")
    found = await Registration.raw("SELECT event FROM registration WHERE id = {}", ident)
    if not found:
        raise Gone("this confirmation link is not valid")
    async with Registration._meta.db.transaction():
        # the event first: every change of its list takes this lock, so capacity is counted
        # by one confirmation at a time
        event = await invitations.lock_event_by_id(found[0]["event"])
        rows = await Registration.raw(
            "SELECT r.*, p.email FROM registration r JOIN person p ON p.id = r.person"
            " WHERE r.id = {} FOR UPDATE OF r",
            ident,
        )
        if not rows:
            raise Gone("this confirmation link is not valid")
        reg = rows[0]
        if reg["status"] == "confirmed":
            return Confirmed("already", event["id"], event["title"], [], [])
        if reg["status"] == "expired" or reg["expires_at"] <= now:
            await Registration.raw(
                "UPDATE registration SET status = 'expired' WHERE id = {}", ident
            )
            raise Gone("this registration expired unconfirmed: register again")
        if event["status"] == "cancelled":
            raise RegistrationClosed("the event is cancelled")
        queued, newly = await invitations.invite_locked(
            event,
            [InviteeIn(email=reg["email"], name=reg["name"], locale=reg["locale"])],
            now=now,
        )
        outcome: Literal["confirmed", "waitlisted", "already"] = "already"
        hooks: list[dict[str, Any]] = []
        if newly:
            full = (
                event["capacity"] is not None
                and await waitlist.accepted_count(event["id"]) >= event["capacity"]
            )
            await Registration.raw(
                "UPDATE invitation SET source = 'registration', rsvp = 'accepted',"
                " responded_at = {}, response_source = 'link', waitlisted_at = {}"
                " WHERE event = {} AND person = {}",
                now,
                now if full else None,
                event["id"],
                reg["person"],
            )
            outcome = "waitlisted" if full else "confirmed"
            hooks = await waitlist.rsvp_changed(
                event, [reg["person"]], source="registration", occurrence=None, now=now
            )
        await Registration.raw(
            "UPDATE registration SET status = 'confirmed', confirmed_at = {} WHERE id = {}",
            now,
            ident,
        )
    return Confirmed(outcome, event["id"], event["title"], queued, hooks)


async def expire(*, now: datetime) -> int:
    """Mark pending registrations past their time expired (the sweep's, and lazily at
    confirmation); returns how many."""
    rows = await Registration.raw(
        "UPDATE registration SET status = 'expired' WHERE status = 'pending'"
        " AND expires_at <= {} RETURNING id",
        now,
    )
    return len(rows)


# --- the organizer's list ------------------------------------------------------------------


async def list_registrations(
    *,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    cursor: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
) -> tuple[list[RegistrationRecord], str | None]:
    """Registrations of one of the caller's events, oldest first, with their answers."""
    exists = await Event.raw(
        "SELECT 1 FROM event e WHERE id = {} AND (e.org = {} OR {} = ANY(e.cohosts))",
        event_id,
        org_id,
        org_id,
    )
    if not exists:
        raise NotFound("event not found")
    after_at, after_id = datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0)
    if cursor:
        at, ident = paging.decode_cursor(cursor, "registrations", size=2)
        try:
            after_at, after_id = datetime.fromisoformat(at), uuid.UUID(ident)
        except ValueError as exc:
            raise InvalidInput.field("cursor", "not a cursor of this list") from exc
    rows = await Registration.raw(
        "SELECT r.id, p.email, r.name, r.locale, r.answers, r.status, r.created_at,"
        " r.confirmed_at, (r.status = 'pending' AND r.expires_at <= now()) AS lapsed"
        " FROM registration r JOIN person p ON p.id = r.person"
        " WHERE r.event = {} AND (r.created_at, r.id) > ({}, {})"
        " ORDER BY r.created_at, r.id LIMIT {}",
        event_id,
        after_at,
        after_id,
        limit + 1,
    )
    items = [
        RegistrationRecord(
            email=r["email"],
            name=r["name"],
            locale=r["locale"],
            answers=json.loads(r["answers"]) if isinstance(r["answers"], str) else r["answers"],
            status="expired" if r["lapsed"] else r["status"],
            created_at=r["created_at"],
            confirmed_at=r["confirmed_at"],
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = paging.encode_cursor(
            "registrations", last["created_at"].isoformat(), str(last["id"])
        )
    return items, next_cursor
