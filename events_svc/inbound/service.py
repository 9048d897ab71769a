"""Replies from calendar clients arriving by e-mail: read the message, apply each answer in one
transaction, log every outcome. Used by `POST /inbound/email` and `events-svc inbound-smtp`."""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from arq.connections import ArqRedis

from events_svc.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    UnsupportedMediaType,
)
from events_svc.inbound import parser
from events_svc.inbound.dkim import DnsFunc, vouched_attendees
from events_svc.inbound.parser import NotAReply, Reply
from events_svc.inbound.tables import HeldReply
from events_svc.invitations.tables import Invitation
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.rsvp.service import ReplyOutcome, ReplyTrust, apply_reply
from events_svc.rsvp.tokens import invitations_addressed, redact_reply_tokens
from events_svc.settings import Settings

log = logging.getLogger("events_svc.inbound")

#: media types of a whole RFC 822 message (message/global: RFC 6532, UTF-8 headers)
MESSAGE_TYPES = ("message/rfc822", "message/global")

# The database is down, restarting or overloaded, or a transaction lost a race: the same
# message succeeds later, so the sender is asked to retry instead of being told it is junk.
_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
)


class DatabaseUnavailable(ServiceError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


@dataclass(frozen=True, slots=True)
class Ignored:
    uid: str
    attendee: str
    reason: str


@dataclass(slots=True)
class InboundResult:
    """What one message did: how many answers it held, how many were applied, which were
    held for the organizer, and why the others were not applied."""

    replies: int
    applied: int
    ignored: list[Ignored] = field(default_factory=list)
    held: list[Ignored] = field(default_factory=list)


def check_token(*, authorization: str | None, token: str | None) -> None:
    """The bearer token of the inbound hook, compared in constant time; a 404 while
    INBOUND_TOKEN is unset, so a disabled endpoint looks like no endpoint."""
    if token is None:
        raise NotFound("receiving e-mail over HTTP is not enabled: INBOUND_TOKEN is not set")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized("the inbound token is missing or wrong")


def check_media_type(*, content_type: str | None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in MESSAGE_TYPES:
        raise UnsupportedMediaType(
            f"send the raw message as message/rfc822, not {media_type or 'no Content-Type'}"
        )


def too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"a message may be at most {parser.MAX_MESSAGE_BYTES // 2**20} MiB")


async def handle_message(
    *,
    raw: bytes,
    queue: ArqRedis | None,
    recipients: list[str],
    settings: Settings,
    dnsfunc: DnsFunc | None = None,
) -> InboundResult:
    """Apply the answers of one message sent to `recipients` (the envelope's, or else those
    its headers name). Not a usable REPLY: InvalidInput (422) or PayloadTooLarge (413),
    changing nothing; the database unreachable: DatabaseUnavailable (503), changing nothing.
    Replies for unknown UIDs, from people not invited, above the SEQUENCE sent or older than
    one already applied are ignored, each with its reason. An answer not sent to its
    invitation's reply address (nor, with INBOUND_VERIFY_DKIM, signed by the attendee's
    domain) is held for the organizer."""
    try:
        # up to a second or two of CPU for hostile input: off the event loop
        replies = await asyncio.to_thread(parser.parse_replies, raw)
    except parser.MessageTooLarge as exc:
        log.warning("inbound message dropped: %s (%d bytes)", exc.reason, len(raw))
        raise too_large() from exc
    except NotAReply as exc:
        log.warning("inbound message dropped: %s; %s", exc.reason, parser.describe(raw))
        raise InvalidInput.field("body", exc.reason) from exc
    trust = ReplyTrust(
        invitations=frozenset(
            invitations_addressed(settings.reply_address, settings.secret_key, recipients)
        )
    )
    senders = parser.header_addresses(raw, ("from",))
    if settings.inbound_verify_dkim and not trust.invitations:
        # only at the plain address: DNS lookups for a message that names its invitation
        # would decide nothing
        vouched = await asyncio.to_thread(
            vouched_attendees,
            raw,
            attendees=[r.attendee for r in replies],
            senders=senders,
            dnsfunc=dnsfunc,
        )
        trust = ReplyTrust(invitations=trust.invitations, attendees=vouched)
    arrival = _Arrival(
        recipient=redact_reply_tokens(settings.reply_address, ", ".join(recipients))[:1000],
        sender=", ".join(senders)[:1000],
    )
    outcomes = await _apply_all(replies, trust=trust, arrival=arrival)
    result = InboundResult(replies=len(replies), applied=0)
    queued: list[dict[str, Any]] = []
    hooks: list[dict[str, Any]] = []
    for reply, outcome in zip(replies, outcomes, strict=True):
        if outcome.status == "applied":
            result.applied += 1
            if outcome.answer is not None:
                queued.extend(outcome.answer.notifications)
                hooks.extend(outcome.answer.webhooks)
            log.info(
                "reply applied: UID %r, attendee %r, %s%s",
                _short(reply.uid),
                _short(reply.attendee),
                reply.partstat,
                f" ({outcome.reason})" if outcome.reason else "",
            )
        elif outcome.status == "held":
            result.held.append(
                Ignored(uid=reply.uid, attendee=reply.attendee, reason=outcome.reason)
            )
            log.warning(
                "reply held for the organizer: UID %r, attendee %r, %s: %s",
                _short(reply.uid),
                _short(reply.attendee),
                reply.partstat,
                outcome.reason,
            )
        else:
            result.ignored.append(
                Ignored(uid=reply.uid, attendee=reply.attendee, reason=outcome.reason)
            )
            log.warning(
                "reply ignored: UID %r, attendee %r, %s: %s",
                _short(reply.uid),
                _short(reply.attendee),
                reply.partstat,
                outcome.reason,
            )
    # after commit: a waitlisted person promoted by a decline gets their e-mail
    await enqueue_notifications(queue, queued, batch=True)
    await enqueue_webhooks(queue, hooks)
    return result


def _short(value: str) -> str:
    """A value from a message, cut for a log line (%r escapes what is left)."""
    return value if len(value) <= 200 else value[:200] + "…"


@dataclass(frozen=True, slots=True)
class _Arrival:
    """Where a message came to and from whom, kept with the replies it holds."""

    recipient: str
    sender: str


async def _apply_all(
    replies: list[Reply], *, trust: ReplyTrust, arrival: _Arrival
) -> list[ReplyOutcome]:
    """All answers of a message in one transaction, so a crash or a lost connection never
    leaves some applied (or held) and the rest not (the sender's retry then applies them
    all)."""
    outcomes: list[ReplyOutcome] = []
    try:
        async with Invitation._meta.db.transaction() as transaction:
            for reply in replies:
                savepoint = await transaction.savepoint()
                try:
                    outcome = await apply_reply(
                        uid=reply.uid,
                        attendee_email=reply.attendee,
                        partstat=reply.partstat,
                        comment=reply.comment,
                        sequence=reply.sequence,
                        recurrence_id=reply.recurrence_id,
                        trust=trust,
                    )
                    if outcome.status == "held":
                        await _hold(reply, outcome, arrival)
                except ServiceError as exc:
                    # the event was cancelled, or the invitation withdrawn, while this answer
                    # was being applied: it alone is void, the others stand
                    await savepoint.rollback_to()
                    outcome = ReplyOutcome("ignored", exc.detail)
                else:
                    await savepoint.release()
                outcomes.append(outcome)
    except _TRANSIENT as exc:
        log.warning("inbound message not applied, database unavailable: %r", exc)
        raise DatabaseUnavailable("the database is unavailable; send the message again") from exc
    return outcomes


async def _hold(reply: Reply, outcome: ReplyOutcome, arrival: _Arrival) -> None:
    """Keep a reply nothing vouches for, for the organizer to apply or discard."""
    await HeldReply.insert(
        HeldReply(
            event=outcome.event_id,
            invitation=outcome.invitation_id,
            attendee=_text(reply.attendee)[:320],
            partstat=_text(reply.partstat)[:16],
            comment=None if reply.comment is None else _text(reply.comment),
            sequence=reply.sequence,
            recurrence_id=outcome.occurrence,
            recipient=_text(arrival.recipient),
            sender=_text(arrival.sender),
            reason=outcome.reason,
        )
    )


def _text(value: str) -> str:
    """Message text as PostgreSQL can hold it (no NUL)."""
    return value.replace("\x00", "")
