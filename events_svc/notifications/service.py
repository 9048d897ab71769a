"""The outbox: creating notification rows, claiming, rendering, sending and recording them.

Every outgoing message is a row first (created in the same transaction as the change that
causes it); workers claim a row atomically, render it from the event as it is now, send it and
record the outcome. Raw SQL is used where the query builder would cost more than the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from events_svc.calendar.ics import (
    AgendaEntry,
    Party,
    agenda_changes,
    agenda_entries,
    event_data,
    itip,
)
from events_svc.feeds.service import person_feed_urls
from events_svc.jobs import ORPHAN_AFTER
from events_svc.mail.i18n import LOCALES, Locale, org_name
from events_svc.mail.render import CertificateFacts, Links, MailContext, render_message
from events_svc.mail.smtp import NotSent, PermanentSendError, SmtpPool, TransientSendError
from events_svc.notifications.flight import Flight, Record
from events_svc.notifications.tables import Notification
from events_svc.outages import database_unavailable
from events_svc.reminders import rules as reminder_rules
from events_svc.rsvp.tokens import reply_address, rsvp_url
from events_svc.settings import Settings, get_settings
from events_svc.webhooks import service as webhooks

log = logging.getLogger("events_svc.notifications")

#: kinds whose ICS is a REQUEST (the full current event)
REQUEST_KINDS = ("invitation", "update", "agenda")
#: messages that show the agenda: the agenda they showed is kept, for the next update's diff
AGENDA_KINDS = ("invitation", "update", "agenda")
MAX_BACKOFF = timedelta(hours=1)
CLAIM_WAIT = 0.1  # seconds between claim attempts while a sibling message is being sent
CLAIM_WAITS = 50


def _key(kind: str, event_id: uuid.UUID, person_id: uuid.UUID, suffix: str) -> str:
    return f"{kind}:{event_id}:{person_id}:{suffix}"


async def queue_invitations(
    *, event_id: uuid.UUID, sequence: int, invitations: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One invitation row per new (or renewed) invitation; call inside the transaction."""
    if not invitations:
        return []
    keys = [
        _key("invitation", event_id, inv["person"], f"g{inv['generation']}") for inv in invitations
    ]
    return await _insert(
        kind="invitation",
        event_id=event_id,
        sequence=sequence,
        person_ids=[inv["person"] for inv in invitations],
        keys=keys,
        detail="",
    )


async def queue_uninvite(
    *, event_id: uuid.UUID, sequence: int, person_id: uuid.UUID, generation: int
) -> list[dict[str, Any]]:
    """A CANCEL for one person taken off the list; call inside the transaction."""
    return await _insert(
        kind="cancellation",
        event_id=event_id,
        sequence=sequence,
        person_ids=[person_id],
        keys=[_key("uninvite", event_id, person_id, f"g{generation}")],
        detail="uninvited",
    )


async def queue_event_change(
    *,
    event_id: uuid.UUID,
    sequence: int,
    kind: Literal["update", "cancellation"],
    occurrence: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for every current invitee after the event's SEQUENCE rose (or, with
    `occurrence`, the SEQUENCE of that one occurrence of a series); inside the transaction.

    Updates skip people who declined; a cancellation reaches everyone still invited.
    """
    suffix = f"s{sequence}" if occurrence is None else f"o{occurrence}:s{sequence}"
    rows = await Notification.raw(
        "INSERT INTO notification (id, key, kind, event, person, sequence, occurrence, detail)"
        " SELECT gen_random_uuid(), {} || ':' || i.event || ':' || i.person || ':' || {},"
        " {}, i.event, i.person, {}, {}, ''"
        " FROM invitation i WHERE i.event = {} AND i.removed_at IS NULL"
        " AND ({} OR i.rsvp <> 'declined')"
        " ON CONFLICT (key) DO NOTHING RETURNING id, key, attempts, next_attempt_at",
        kind,
        suffix,
        kind,
        sequence,
        occurrence,
        event_id,
        kind == "cancellation",  # updates skip people who declined; a cancellation does not
    )
    return await _hold_over_cap(event_id=event_id, rows=list(rows))


async def _insert(
    *,
    kind: str,
    event_id: uuid.UUID,
    sequence: int,
    person_ids: Sequence[uuid.UUID],
    keys: Sequence[str],
    detail: str,
) -> list[dict[str, Any]]:
    rows = await Notification.raw(
        "INSERT INTO notification (id, key, kind, event, person, sequence, detail)"
        " SELECT gen_random_uuid(), k, {}, {}, p, {}, {}"
        " FROM unnest({}::text[], {}::uuid[]) AS u(k, p)"
        " ON CONFLICT (key) DO NOTHING RETURNING id, key, attempts, next_attempt_at",
        kind,
        event_id,
        sequence,
        detail,
        list(keys),
        list(person_ids),
    )
    return await _hold_over_cap(event_id=event_id, rows=list(rows))


HOUR = 3600


async def _hold_over_cap(
    *, event_id: uuid.UUID, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows just queued past the host organization's hourly cap
    (RATE_LIMIT_ORG_MESSAGES_PER_HOUR) wait for the next clock hours with room, never
    dropped; returns the rows with their `next_attempt_at` (and `deferred` on those that
    wait). Counted in PostgreSQL under a per-organization lock, so the cap holds across
    processes and a rolled-back change uses none of it. Reminders are not counted (see the
    README's Rate limits)."""
    cap = get_settings().rate_limit_org_messages_per_hour
    if not rows or cap <= 0:
        return rows
    start = min(r["next_attempt_at"] for r in rows)
    window = int(start.timestamp()) // HOUR * HOUR
    # one lock per organization and transaction: two concurrent sends cannot both see room
    found = await Notification.raw(
        "SELECT e.org, pg_advisory_xact_lock(hashtextextended('notification-cap:' || e.org, 0))"
        " FROM event e WHERE e.id = {}",
        event_id,
    )
    if not found:
        return rows
    counts = await Notification.raw(
        "SELECT floor(extract(epoch FROM n.next_attempt_at) / {})::bigint * {} AS hour,"
        " count(*) AS n FROM notification n JOIN event e ON e.id = n.event"
        " WHERE e.org = {} AND n.kind <> 'reminder' AND n.next_attempt_at >= {}"
        " GROUP BY 1",
        HOUR,
        HOUR,
        found[0]["org"],
        datetime.fromtimestamp(window, UTC),
    )
    used = {int(c["hour"]): int(c["n"]) for c in counts}
    over = min(used.get(window, 0) - cap, len(rows))  # these rows are counted in `used`
    if over <= 0:
        return rows
    held = rows[len(rows) - over :]
    plan: list[datetime] = []
    hour = window
    while len(plan) < len(held):  # ends: past the last hour in `used` every hour has room
        hour += HOUR
        room = max(cap - used.get(hour, 0), 0)
        plan += [datetime.fromtimestamp(hour, UTC)] * min(room, len(held) - len(plan))
    await Notification.raw(
        "UPDATE notification n SET next_attempt_at = u.at"
        " FROM unnest({}::uuid[], {}::timestamptz[]) AS u(id, at) WHERE n.id = u.id",
        [r["id"] for r in held],
        plan,
    )
    log.info("event %s: %d message(s) over the hourly cap wait until %s", event_id, over, plan[-1])
    return rows[: len(rows) - over] + [
        {**r, "next_attempt_at": at, "deferred": True} for r, at in zip(held, plan, strict=True)
    ]


# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["sent", "skipped", "failed", "retry", "noop"]
    detail: str = ""
    #: for "retry": when to try again, and the row for the next job id
    retry_at: datetime | None = None
    row: dict[str, Any] | None = None
    #: for "failed": the delivery.failed webhook rows, to enqueue (`enqueue_webhooks`)
    webhooks: Sequence[dict[str, Any]] = ()


def backoff(attempts: int, first: float) -> timedelta:
    """first, 2 x first, 4 x first, ... capped at an hour."""
    return min(timedelta(seconds=first * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


_CLAIM_SQL = (
    "UPDATE notification n SET status = 'sending', claimed_at = {}, claimed_by = {},"
    " attempts = n.attempts + 1"
    " FROM event e JOIN organization o ON o.id = e.org JOIN person p ON true"
    " LEFT JOIN invitation i ON i.event = e.id AND i.person = p.id"
    " WHERE n.id = ANY({}::uuid[]) AND e.id = n.event AND p.id = n.person"
    " AND ((n.status = 'queued' AND n.next_attempt_at <= {})"
    " OR (n.status = 'sending' AND (n.claimed_at < {}"
    "   OR (n.claimed_at < {} AND NOT (n.claimed_by = ANY({}::text[]))))))"
    " AND NOT EXISTS (SELECT 1 FROM notification s WHERE s.event = n.event"
    "   AND s.person = n.person AND s.id <> n.id AND s.status = 'sending'"
    "   AND s.claimed_at >= {}"
    "   AND (s.claimed_at >= {} OR s.claimed_by = ANY({}::text[])))"
    " RETURNING n.id, n.key, n.kind, n.event, n.person, n.sequence, n.occurrence, n.detail,"
    " n.attempts, n.created_at, e.id AS event_id, e.uid, e.sequence AS event_sequence, e.title,"
    " e.description, e.location, e.online_url, e.starts_at, e.ends_at, e.timezone,"
    " e.recurrence, e.status, e.itinerary, e.agenda, e.created_at AS event_created_at,"
    " e.updated_at AS event_updated_at, o.name AS org_name, o.name_en AS org_name_en,"
    " o.email AS org_email,"
    " p.email, p.name AS person_name, p.locale, p.feed_token,"
    " i.id AS invitation_id, i.role, i.rsvp, i.message, i.generation, i.removed_at,"
    " i.waitlisted_at,"
    " e.reminders, o.default_reminders AS org_default_reminders,"
    " coalesce((SELECT array_agg(c.name ORDER BY c.slug) FROM organization c"
    "  WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names,"
    " coalesce((SELECT array_agg(coalesce(c.name_en, c.name) ORDER BY c.slug)"
    "  FROM organization c WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohost_names_en"
)


async def claim(
    *,
    notification_id: uuid.UUID,
    now: datetime,
    lease: float,
    worker: str = "",
    live: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """Take a row for sending, atomically, with what its message needs; None when it is not
    due, another worker has it, or another message to the same person about the same event
    is being sent right now."""
    rows = await claim_many(
        notification_ids=[notification_id], now=now, lease=lease, worker=worker, live=live
    )
    return rows[0] if rows else None


async def claim_many(
    *,
    notification_ids: Sequence[uuid.UUID],
    now: datetime,
    lease: float,
    worker: str = "",
    live: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """`claim` for several rows in one statement: the rows that could be taken.

    Not taking a row while a sibling (same person, same event) is being sent keeps each
    person's messages in order (an invitation and the update that follows never race); the
    invitation row locks, taken in a fixed order, make that hold across workers.

    A row claimed by a worker that has stopped sending heartbeats (`live` lists those that
    still do) can be taken again soon, instead of after the whole lease; without `live`,
    only the lease counts.
    """
    stale = now - timedelta(seconds=lease)
    # Without heartbeat information nobody is taken for dead: the cutoff lies in the past.
    orphaned = now - timedelta(seconds=ORPHAN_AFTER if live is not None else lease)
    alive = list(live or [])
    ids = list(notification_ids)
    async with Notification._meta.db.transaction():
        await Notification.raw(
            "SELECT i.id FROM invitation i JOIN notification n"
            " ON n.event = i.event AND n.person = i.person WHERE n.id = ANY({}::uuid[])"
            " ORDER BY i.id FOR UPDATE OF i",
            ids,
        )
        # The claim also reads everything the messages need, in the same round trip.
        rows = await Notification.raw(
            _CLAIM_SQL, now, worker, ids, now, stale, orphaned, alive, stale, orphaned, alive
        )
    return list(rows)


async def _waits_for_sibling(notification_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether the row is due and still queued (so only a sibling in flight blocked it)."""
    rows = await Notification.raw(
        "SELECT 1 FROM notification WHERE id = {} AND status = 'queued' AND next_attempt_at <= {}",
        notification_id,
        now,
    )
    return bool(rows)


def _reminder_skip_reason(row: dict[str, Any], ctx: dict[str, Any], *, now: datetime) -> str | None:
    """A reminder goes out while its occurrence is still ahead, even late; never for an event
    that moved, was cancelled, or for someone un-invited or who declined."""
    if ctx["status"] == "cancelled":
        return "event cancelled"
    if ctx["removed_at"] is not None:
        return "uninvited"
    if ctx["rsvp"] == "declined":
        return "declined"
    start = reminder_rules.current_occurrence_start(
        reminder_rules.effective(ctx["reminders"], ctx["org_default_reminders"]),
        rule_key=row["detail"],
        occurrence=row["occurrence"],
        starts_at=ctx["starts_at"],
        timezone=ctx["timezone"],
        recurrence=ctx["recurrence"],
        moved=reminder_rules.moved(ctx.get("occurrences") or ()),
    )
    if start is None:
        return "rescheduled"
    if now >= start:
        return "late: the event had started"
    return None


async def _skip_reason(row: dict[str, Any], ctx: dict[str, Any], *, now: datetime) -> str | None:
    """Why this message should not go out (None: send it), from the state as it is now."""
    kind = row["kind"]
    if ctx["role"] is None:
        return "not invited"
    if kind == "reminder":
        return _reminder_skip_reason(row, ctx, now=now)
    if kind == "waitlist-promoted":
        if ctx["status"] == "cancelled":
            return "event cancelled"
        if ctx["removed_at"] is not None:
            return "uninvited"
        if ctx["rsvp"] != "accepted" or ctx["waitlisted_at"] is not None:
            return "no longer holds the place"
        return None
    if kind == "certificate":
        # the certificate stands on its own: only its revocation stops the message
        certificate = ctx.get("certificate")
        if certificate is None:
            return "no certificate"
        if certificate["revoked_at"] is not None:
            return "certificate revoked"
        return None
    if row["occurrence"] is not None:
        return await _occurrence_skip_reason(row, ctx)
    if kind in REQUEST_KINDS:
        if ctx["status"] == "cancelled":
            return "event cancelled"
        if ctx["removed_at"] is not None:
            return "uninvited"
        if kind in ("update", "agenda") and ctx["rsvp"] == "declined":
            return "declined"
        if kind == "agenda":
            ctx["agenda_before"] = await _agenda_last_sent(row)
            if not agenda_changes(
                agenda_entries(ctx["agenda_before"]), agenda_entries(ctx["agenda"])
            ):
                return "the agenda is as in the last message"
        if kind == "update":
            newer = await Notification.raw(
                "SELECT 1 FROM notification WHERE event = {} AND person = {} AND id <> {}"
                " AND occurrence IS NULL"
                " AND ((kind IN ('update', 'cancellation') AND sequence > {})"
                " OR (kind IN ('invitation', 'update') AND status = 'sent'"
                " AND sent_sequence >= {})"
                # an invitation still to go renders the event as it will be then: the update
                # would be a second message saying the same (and could arrive first)
                " OR (kind = 'invitation' AND status IN ('queued', 'sending'))) LIMIT 1",
                row["event"],
                row["person"],
                row["id"],
                row["sequence"],
                ctx["event_sequence"],
            )
            if newer:
                return "superseded"
        return None
    # A CANCEL only makes sense to someone who has (or is being sent) the event.
    if row["detail"] == "uninvited" and ctx["removed_at"] is None:
        return "invited again"
    return await _had_request(row)


async def _agenda_last_sent(row: dict[str, Any]) -> Any:
    """The agenda the person's last message about the event showed."""
    found = await Notification.raw(
        "SELECT payload FROM notification WHERE event = {} AND person = {} AND id <> {}"
        " AND kind IN ('invitation', 'update', 'agenda') AND status = 'sent'"
        " ORDER BY sent_at DESC LIMIT 1",
        row["event"],
        row["person"],
        row["id"],
    )
    if not found or found[0]["payload"] is None:
        return []
    payload = found[0]["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload


async def _had_request(row: dict[str, Any]) -> str | None:
    """A CANCEL (of the event or one occurrence) only for someone who was sent the event."""
    had_request = await Notification.raw(
        "SELECT 1 FROM notification WHERE event = {} AND person = {} AND occurrence IS NULL"
        " AND kind IN ('invitation', 'update') AND status IN ('sent', 'sending') LIMIT 1",
        row["event"],
        row["person"],
    )
    return None if had_request else "nothing was sent before"


async def _occurrence_skip_reason(row: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    """A message about one occurrence of a series: not when the series is cancelled or the
    person is gone, nor when a newer message about it (or the whole series) follows."""
    if ctx["status"] == "cancelled":
        return "event cancelled"
    if ctx["removed_at"] is not None:
        return "uninvited"
    if row["kind"] == "update" and ctx["rsvp"] == "declined":
        return "declined"
    if ctx["event_sequence"] >= row["sequence"]:
        # the series changed since: its own update carries every occurrence as it is now
        return "superseded by a change to the series"
    newer = await Notification.raw(
        "SELECT 1 FROM notification WHERE event = {} AND person = {} AND occurrence = {}"
        " AND kind IN ('update', 'cancellation') AND sequence > {} LIMIT 1",
        row["event"],
        row["person"],
        row["occurrence"],
        row["sequence"],
    )
    if newer:
        return "superseded"
    return await _had_request(row)


def _organizer_email(ctx: dict[str, Any], settings: Settings) -> str:
    """The invitation's own reply address: a REPLY to it proves it came through this copy."""
    if ctx.get("invitation_id") is None:
        return settings.organizer_email
    return reply_address(settings.reply_address, settings.secret_key, ctx["invitation_id"])


def render(
    row: dict[str, Any], ctx: dict[str, Any], *, settings: Settings, now: datetime
) -> tuple[bytes, str, int]:
    """The message bytes, its Message-ID and the SEQUENCE it carries."""
    event = event_data(
        ctx,
        base_url=settings.public_base_url,
        prefix="event_",
        occurrences=ctx.get("occurrences") or (),
    )
    method: Literal["REQUEST", "CANCEL"] | None = None
    ics = b""
    locale: Locale = ctx["locale"] if ctx["locale"] in LOCALES else "zh-CN"
    # a co-hosted event speaks for all its hosts, named in the reader's language
    hosts = [
        org_name(ctx["org_name"], ctx.get("org_name_en"), locale),
        *(ctx.get("cohost_names_en" if locale == "en" else "cohost_names") or ()),
    ]
    if row["kind"] == "reminder":
        # The reminder speaks of its occurrence, and carries no calendar: the event is already
        # in the person's calendar, and a REQUEST would show as a new invitation.
        event = event.occurrence(reminder_rules.parse_occurrence(row["occurrence"]))
    elif row["kind"] in ("waitlist-promoted", "certificate", "feed-link"):
        pass  # news about the person's place, course or link, not the event: no calendar
    else:
        method = "REQUEST" if row["kind"] in REQUEST_KINDS else "CANCEL"
        if row["occurrence"] is not None:
            # one occurrence only: its VEVENT with RECURRENCE-ID, as it is now
            event = event.instance(reminder_rules.parse_occurrence(row["occurrence"]))
            method = "CANCEL" if event.status == "cancelled" else "REQUEST"
        organizer = Party(email=_organizer_email(ctx, settings), name=hosts[0])
        attendee = Party(
            email=ctx["email"], name=ctx["person_name"], role=ctx["role"], rsvp=ctx["rsvp"]
        )
        ics = itip(method, event, organizer=organizer, attendee=attendee, dtstamp=now)
        if event.recurrence_id is not None:
            # the text speaks of the occurrence where it is now, as a single event
            event = replace(event, recurrence_id=None)
    kind = row["kind"]
    if method == "CANCEL" and kind == "update":
        kind = "cancellation"  # the occurrence was cancelled after this update was decided
    changes: tuple[tuple[str, AgendaEntry], ...] = ()
    if kind == "agenda":
        changes = tuple(agenda_changes(agenda_entries(ctx.get("agenda_before")), event.agenda))
    mail = MailContext(
        agenda_changes=changes,
        kind=kind,
        uninvited=row["detail"] == "uninvited",
        locale=locale,
        event=event,
        org_name=("、" if locale == "zh-CN" else ", ").join(hosts),
        org_email=ctx["org_email"],
        mail_from=settings.mail_from,
        recipient_email=ctx["email"],
        recipient_name=ctx["person_name"],
        role=ctx["role"],
        note=ctx["message"] if row["kind"] == "invitation" else "",
        links=_links(
            event.url,
            ctx,
            settings,
            answerable=kind not in ("cancellation", "certificate", "feed-link"),
        ),
        certificate=_certificate_facts(ctx, settings) if kind == "certificate" else None,
        method=method,
        ics=ics,
        message_id_domain=settings.public_host,
        message_key=f"n.{row['id']}",
    )
    message, message_id = render_message(mail, now=now)
    return message, message_id, event.sequence


def _certificate_facts(ctx: dict[str, Any], settings: Settings) -> CertificateFacts:
    """What the certificate states, as it was issued (its snapshot, not the event now)."""
    cert = ctx["certificate"]
    return CertificateFacts(
        url=f"{settings.public_base_url}/certificates/{cert['code']}",
        person_name=cert["person_name"] or ctx["email"],
        hours=float(cert["hours"]),
        sessions_attended=cert["sessions_attended"],
        sessions_total=cert["sessions_total"],
        first_session=cert["first_session"],
        last_session=cert["last_session"],
    )


def _links(ics_url: str, ctx: dict[str, Any], settings: Settings, *, answerable: bool) -> Links:
    """The event file, the person's feed with the link that gives it a new address, and
    (unless the message takes something back) the person's RSVP page."""
    from events_svc.feeds.tokens import rotation_url  # here: keeps this change to _links

    https = webcal = rotate = None
    if ctx["feed_token"]:
        https, webcal = person_feed_urls(settings.public_base_url, ctx["feed_token"])
        # signed over the token it replaces: dead after one use
        rotate = rotation_url(
            settings.public_base_url, settings.secret_key, ctx["person"], ctx["feed_token"]
        )
    answer = None
    if answerable and ctx["invitation_id"] is not None:
        answer = rsvp_url(
            settings.public_base_url, settings.secret_key, ctx["invitation_id"], ctx["generation"]
        )
    return Links(ics=ics_url, feed_https=https, feed_webcal=webcal, feed_rotate=rotate, rsvp=answer)


async def deliver(
    *,
    notification_id: uuid.UUID,
    settings: Settings,
    smtp: SmtpPool,
    now: datetime | None = None,
    worker: str = "",
    live: Sequence[str] | None = None,
    flight: Flight | None = None,
) -> Outcome:
    """Claim, render, send and record one notification. Idempotent: a sent row is a no-op."""
    now = now or datetime.now(UTC)
    lease = settings.send_lease
    async with _budget(flight, 1):
        row = await claim(
            notification_id=notification_id, now=now, lease=lease, worker=worker, live=live
        )
        for _ in range(CLAIM_WAITS):
            if row is not None or not await _waits_for_sibling(notification_id, now=now):
                break
            # Another message to this person is in flight; it takes milliseconds, so wait
            # here rather than give the row back (the sweep would still pick it up).
            await asyncio.sleep(CLAIM_WAIT)
            now = datetime.now(UTC)
            row = await claim(
                notification_id=notification_id, now=now, lease=lease, worker=worker, live=live
            )
        if row is None:
            return Outcome("noop")
        if flight is not None:
            flight.hold([row])
        return await _process(row, settings=settings, smtp=smtp, now=now, flight=flight)


async def deliver_many(
    *,
    notification_ids: Sequence[uuid.UUID],
    settings: Settings,
    smtp: SmtpPool,
    now: datetime | None = None,
    worker: str = "",
    live: Sequence[str] | None = None,
    flight: Flight | None = None,
) -> tuple[list[Outcome], list[uuid.UUID]]:
    """Claim several rows at once and send them side by side over the SMTP pool; each row is
    still recorded as soon as its own message is accepted. Returns the outcomes and the ids
    that could not be claimed while due (a sibling in flight), for the caller to retry one by
    one. With a `flight`, no more rows are claimed than the worker can send soon."""
    async with _budget(flight, len(notification_ids)):
        now = now or datetime.now(UTC)
        rows = await claim_many(
            notification_ids=notification_ids,
            now=now,
            lease=settings.send_lease,
            worker=worker,
            live=live,
        )
        if flight is not None:
            flight.hold(rows)
        claimed = {row["id"] for row in rows}
        blocked = [i for i in notification_ids if i not in claimed]
        try:
            if blocked:
                due = await Notification.raw(
                    "SELECT id FROM notification WHERE id = ANY({}::uuid[])"
                    " AND status = 'queued' AND next_attempt_at <= {}",
                    blocked,
                    now,
                )
                blocked = [r["id"] for r in due]
            await _load_occurrences(rows)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            blocked = []  # each row's own processing below gives it back
        outcomes = await asyncio.gather(
            *(_process(row, settings=settings, smtp=smtp, now=now, flight=flight) for row in rows)
        )
    return list(outcomes), blocked


@contextlib.asynccontextmanager
async def _budget(flight: Flight | None, rows: int) -> AsyncIterator[None]:
    if flight is None:
        yield
        return
    async with flight.budget(rows):
        yield


async def _load_occurrences(rows: Sequence[dict[str, Any]]) -> None:
    """The changed occurrences of each series the rows are about, in one query for a whole
    batch (a fan-out is many rows about one event)."""
    series = list({r["event"] for r in rows if r["recurrence"] and "occurrences" not in r})
    if not series:
        return
    found = await Notification.raw(
        "SELECT event, recurrence_id, starts_at, ends_at, status, sequence, updated_at"
        " FROM occurrence WHERE event = ANY({}::uuid[]) ORDER BY recurrence_id",
        series,
    )
    by_event: dict[uuid.UUID, list[dict[str, Any]]] = {e: [] for e in series}
    for o in found:
        by_event[o["event"]].append(o)
    for r in rows:
        if r["recurrence"] and "occurrences" not in r:
            r["occurrences"] = by_event[r["event"]]


#: a row whose processing raised something unexpected (not an SMTP answer, not the database
#: being away) is tried this many times in all, then ends `failed` with the error
MAX_UNEXPECTED_ATTEMPTS = 5


async def _process(
    row: dict[str, Any],
    *,
    settings: Settings,
    smtp: SmtpPool,
    now: datetime,
    flight: Flight | None = None,
) -> Outcome:
    """Decide, render, send and record one claimed row (which also carries its context).

    Whatever happens, the row ends recorded or handed back: no row stays `sending`. An
    outcome the database cannot take now is kept by the worker (`flight`) and written when
    it is back; a message SMTP accepted is never handed back to be sent again.
    """
    try:
        outcome, record = await _attempt(row, settings=settings, smtp=smtp, now=now)
    except asyncio.CancelledError:
        # the job was cancelled (its timeout, or the worker stopping): hand the row back
        if flight is not None:
            flight.keep(row["id"], _released(row))
        raise
    except NotSent:
        outcome, record = Outcome("noop", "the claim was taken over by another worker"), None
    except Exception as exc:
        if database_unavailable(exc):
            outcome, record = Outcome("noop", f"database unavailable: {exc}"), _released(row)
        else:
            log.exception("notification %s: unexpected error", row["id"])
            outcome, record = _unexpected(row, exc, settings=settings, now=now)
    if record is None:
        if flight is not None:
            flight.drop(row["id"])
        return outcome
    try:
        hooks = await record()
    except asyncio.CancelledError:
        if flight is not None:
            flight.keep(row["id"], record)
        raise
    except Exception as exc:
        if not database_unavailable(exc) or flight is None:
            if outcome.status == "sent":
                log.exception("notification %s was sent but could not be recorded", row["id"])
            if flight is not None:
                flight.drop(row["id"])  # no longer renewed: the lease hands it on
            raise
        flight.keep(row["id"], record)
        log.warning("notification %s: outcome kept until the database is back", row["id"])
        return outcome
    if flight is not None:
        flight.drop(row["id"])
        if outcome.status == "sent":
            flight.sent_one()
    return replace(outcome, webhooks=hooks) if hooks else outcome


async def _attempt(
    row: dict[str, Any], *, settings: Settings, smtp: SmtpPool, now: datetime
) -> tuple[Outcome, Record | None]:
    """Decide, render and send; returns the outcome and how to record it (not yet written)."""
    ctx = row
    await _load_occurrences([row])  # done for the whole batch when it came in one
    if row["kind"] == "certificate":
        # `detail` holds the certificate's id; read as it is now (it may have been revoked)
        found = await Notification.raw(
            "SELECT * FROM certificate WHERE id = {}::uuid", row["detail"]
        )
        row["certificate"] = dict(found[0]) if found else None
    reason = await _skip_reason(row, ctx, now=now)
    if reason:
        return Outcome("skipped", reason), _finished(row, "skipped", error=reason)
    try:
        message, message_id, sequence = render(row, ctx, settings=settings, now=now)
    except Exception as exc:  # a bug or bad data: retrying will not help
        log.exception("rendering notification %s failed", row["id"])
        error = f"rendering failed: {exc}"
        return Outcome("failed", error), _finished(row, "failed", error=error)
    try:
        result = await smtp.send(
            sender=settings.mail_from,
            recipient=ctx["email"],
            message=message,
            # re-checked with the connection in hand: a worker that was paused while its rows
            # were taken over sends none of them
            before_send=lambda: still_claimed(row),
        )
    except PermanentSendError as exc:
        return Outcome("failed", str(exc)), _finished(row, "failed", error=str(exc))
    except TransientSendError as exc:
        age = (now - row["created_at"]).total_seconds()
        if age >= settings.send_give_up_after:
            error = f"gave up after {row['attempts']}: {exc}"
            return Outcome("failed", error), _finished(row, "failed", error=error)
        retry_at = now + backoff(row["attempts"], settings.send_retry_first)
        return (
            Outcome("retry", str(exc), retry_at=retry_at, row=row),
            _retried(row, retry_at=retry_at, error=str(exc)),
        )
    agenda = ctx["agenda"] if row["kind"] in AGENDA_KINDS else None
    payload = None if agenda is None else agenda if isinstance(agenda, str) else json.dumps(agenda)
    return Outcome("sent", result.response), _recorded_sent(
        row,
        message_id=message_id,
        response=result.response,
        sequence=sequence,
        payload=payload,
    )


def _unexpected(
    row: dict[str, Any], exc: Exception, *, settings: Settings, now: datetime
) -> tuple[Outcome, Record]:
    """Something that is neither an SMTP answer nor an outage: tried again a few times with
    backoff, then the row ends `failed` with the error (and its webhook)."""
    error = f"{type(exc).__name__}: {exc}"
    if row["attempts"] >= MAX_UNEXPECTED_ATTEMPTS:
        error = f"gave up after {row['attempts']} attempts: {error}"
        return Outcome("failed", error), _finished(row, "failed", error=error)
    retry_at = now + backoff(row["attempts"], settings.send_retry_first)
    return (
        Outcome("retry", error, retry_at=retry_at, row=row),
        _retried(row, retry_at=retry_at, error=error),
    )


# Every outcome is written only while the row still carries this worker's claim (`attempts`,
# raised by each claim, is the fence: "WHERE id = {} AND attempts = {} AND status = 'sending'"):
# a worker whose rows were taken over records nothing.


async def still_claimed(row: dict[str, Any]) -> bool:
    """Whether the row is still this claim's: checked just before the message is handed to
    SMTP. A read (the heartbeat renews leases): a claim taken over has a higher `attempts`."""
    found = await Notification.raw(
        "SELECT 1 FROM notification WHERE id = {} AND attempts = {} AND status = 'sending'",
        row["id"],
        row["attempts"],
    )
    return bool(found)


def _recorded_sent(
    row: dict[str, Any], *, message_id: str, response: str, sequence: int, payload: str | None
) -> Record:
    sent_at = datetime.now(UTC)

    async def record() -> Sequence[dict[str, Any]]:
        await Notification.raw(
            "UPDATE notification SET status = 'sent', sent_at = {}, message_id = {},"
            " smtp_response = {}, sent_sequence = {}, last_error = '', payload = {}::jsonb,"
            " claimed_at = NULL WHERE id = {} AND attempts = {} AND status = 'sending'",
            sent_at,
            message_id,
            response[:2000],
            sequence,
            payload,
            row["id"],
            row["attempts"],
        )
        return ()

    return record


def _retried(row: dict[str, Any], *, retry_at: datetime, error: str) -> Record:
    async def record() -> Sequence[dict[str, Any]]:
        await Notification.raw(
            "UPDATE notification SET status = 'queued', next_attempt_at = {}, last_error = {},"
            " claimed_at = NULL WHERE id = {} AND attempts = {} AND status = 'sending'",
            retry_at,
            error[:2000],
            row["id"],
            row["attempts"],
        )
        return ()

    return record


def _released(row: dict[str, Any]) -> Record:
    """Nothing was sent: the row goes back to the queue, due as it was."""

    async def record() -> Sequence[dict[str, Any]]:
        await Notification.raw(
            "UPDATE notification SET status = 'queued', claimed_at = NULL"
            " WHERE id = {} AND attempts = {} AND status = 'sending'",
            row["id"],
            row["attempts"],
        )
        return ()

    return record


def _finished(row: dict[str, Any], status: Literal["skipped", "failed"], *, error: str) -> Record:
    async def record() -> Sequence[dict[str, Any]]:
        update = (
            "UPDATE notification SET status = {}, last_error = {}, claimed_at = NULL"
            " WHERE id = {} AND attempts = {} AND status = 'sending' RETURNING id"
        )
        if status == "skipped":
            await Notification.raw(update, status, error[:2000], row["id"], row["attempts"])
            return ()
        # The organization's webhooks hear of the failure in the same commit as the row's
        # outcome (and not at all when the claim was taken over meanwhile).
        async with Notification._meta.db.transaction():
            if not await Notification.raw(update, status, error[:2000], row["id"], row["attempts"]):
                return ()
            org = await Notification.raw("SELECT org FROM event WHERE id = {}", row["event"])
            return await webhooks.emit(
                org_id=org[0]["org"],
                kind="delivery.failed",
                data={
                    "event_id": row["event"],
                    "event_uid": row["uid"],
                    "email": row["email"],
                    "notification_kind": row["kind"],
                    "notification_id": row["id"],
                    "error": error,
                },
                key=f"delivery.failed:{row['id']}",
            )

    return record


async def due_for_sweep(
    *,
    now: datetime,
    grace: float,
    lease: float,
    live: Sequence[str] | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Rows that should be in the queue but may not be: queued and due for a while, or claimed
    by a worker that has not finished within the lease (it probably died)."""
    orphaned = now - timedelta(seconds=ORPHAN_AFTER if live is not None else lease)
    rows = await Notification.raw(
        "SELECT id, key, attempts FROM notification"
        " WHERE (status = 'queued' AND next_attempt_at <= {})"
        " OR (status = 'sending' AND (claimed_at < {}"
        "  OR (claimed_at < {} AND NOT (claimed_by = ANY({}::text[])))))"
        " ORDER BY next_attempt_at LIMIT {}",
        now - timedelta(seconds=grace),
        now - timedelta(seconds=lease),
        orphaned,
        list(live or []),
        limit,
    )
    return list(rows)


async def rows_for_jobs(notification_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """What a job id is made of, for rows to enqueue one by one."""
    rows = await Notification.raw(
        "SELECT id, key, attempts FROM notification WHERE id = ANY({}::uuid[])",
        list(notification_ids),
    )
    return list(rows)


async def orphaned_claims(
    *, now: datetime, live: Sequence[str], limit: int = 10_000
) -> list[dict[str, Any]]:
    """Rows claimed by a worker that stopped sending heartbeats, oldest due first."""
    rows = await Notification.raw(
        "SELECT id, key, attempts, next_attempt_at FROM notification"
        " WHERE status = 'sending' AND claimed_at < {} AND NOT (claimed_by = ANY({}::text[]))"
        " ORDER BY next_attempt_at LIMIT {}",
        now - timedelta(seconds=ORPHAN_AFTER),
        list(live),
        limit,
    )
    return list(rows)


async def due_queued(*, now: datetime, limit: int = 100_000) -> list[dict[str, Any]]:
    """Queued rows due now: after a worker died, some of them may sit in jobs it had taken
    from the queue (arq holds those for the job's whole timeout), so they are enqueued anew."""
    rows = await Notification.raw(
        "SELECT id, key, attempts, next_attempt_at FROM notification"
        " WHERE status = 'queued' AND next_attempt_at <= {} ORDER BY next_attempt_at LIMIT {}",
        now,
        limit,
    )
    return list(rows)


async def retry_now(*, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Rows waiting for a retry after a passing failure (`last_error` set, the retry ahead,
    never more than MAX_BACKOFF away), made due now, soonest first: the SMTP server is back
    (or, with a small `limit`, to find out whether it is)."""
    rows = await Notification.raw(
        "UPDATE notification SET next_attempt_at = {} WHERE id IN (SELECT id FROM notification"
        " WHERE status = 'queued' AND next_attempt_at > {} AND next_attempt_at <= {}"
        " AND last_error <> '' ORDER BY next_attempt_at LIMIT {} FOR UPDATE SKIP LOCKED)"
        " RETURNING id, key, attempts, next_attempt_at",
        now,
        now,
        now + MAX_BACKOFF + timedelta(minutes=1),
        limit,
    )
    return list(rows)


async def release_claims(*, workers: Sequence[str]) -> int:
    """Give back the rows claimed by workers known to be gone (their process has exited):
    they are queued again, due as they were."""
    rows = await Notification.raw(
        "UPDATE notification SET status = 'queued', claimed_at = NULL"
        " WHERE status = 'sending' AND claimed_by = ANY({}::text[]) RETURNING id",
        list(workers),
    )
    return len(rows)
