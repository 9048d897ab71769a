"""HTTP routes of inbound e-mail: mail providers' inbound hooks post calendar replies here,
and organizers see, apply or discard the replies held."""

from __future__ import annotations

import uuid
from email.utils import getaddresses
from typing import Annotated, Any

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK

from events_svc import ratelimit
from events_svc.deps import BEARER, CALLER, QUEUE
from events_svc.errors import NotFound
from events_svc.events.service import event_uuid
from events_svc.guards import reject_nul
from events_svc.inbound import held, parser, service
from events_svc.inbound.parser import MAX_MESSAGE_BYTES
from events_svc.inbound.schemas import HeldReplyOut, HeldReplyPage, IgnoredReply, InboundReport
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.openapi import problem_spec, problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings


async def admit_message(request: Request[Any, Any, Any]) -> None:
    """Before the handler, in this order: the rate limits, the token, the media type, then
    the body within its limit (the app's own hook would answer a 413 naming the general
    1 MiB limit)."""
    settings: Settings = request.app.state.settings
    await ratelimit.hit(request, "inbound", settings.rate_limit_inbound)

    async def verify() -> None:
        service.check_token(
            authorization=request.headers.get("authorization"), token=settings.inbound_token
        )

    await ratelimit.guard_credentials(request, verify)
    service.check_media_type(content_type=request.headers.get("content-type"))
    try:
        await request.body()  # cached for the handler
    except RequestEntityTooLarge as exc:
        raise service.too_large() from exc
    await reject_nul(request)


_PROBLEMS = {
    401: problem_spec("Missing or wrong INBOUND_TOKEN"),
    429: problem_spec("Too many messages, or too many wrong tokens, from this address"),
    404: problem_spec("INBOUND_TOKEN is not set: receiving e-mail over HTTP is disabled"),
    413: problem_spec(f"Message over {MAX_MESSAGE_BYTES // 2**20} MiB"),
    415: problem_spec("Not message/rfc822 (or message/global)"),
    422: problem_spec("Not a usable iTIP REPLY; `detail` says what is wrong"),
    503: problem_spec("The database is unavailable; send the message again later"),
}


class InboundController(Controller):
    path = "/inbound"
    tags = ["inbound"]

    @post(
        "/email",
        status_code=HTTP_200_OK,
        before_request=admit_message,
        request_max_body_size=MAX_MESSAGE_BYTES,
        dependencies=QUEUE,
        security=BEARER,
        responses={**problems(), **_PROBLEMS},
        summary="Receive one e-mail (a calendar client's Accept / Decline) from a mail provider",
        description="The body is the raw RFC 822 message (`Content-Type: message/rfc822`), at "
        "most 5 MiB; `Authorization: Bearer <INBOUND_TOKEN>`. 404 while INBOUND_TOKEN is unset. "
        "Each VEVENT of its iTIP REPLY is one answer: applied when the UID is an event's, "
        "the ATTENDEE was invited and the message was sent to that invitation's reply address "
        "(`recipient`, else the headers); held for the organizer when it was not; ignored "
        "(with the reason) otherwise. A message that is no "
        "REPLY at all answers 422 naming what is wrong; 503 asks the provider to retry later.",
    )
    async def receive(
        self,
        request: Request[Any, Any, Any],
        queue: NamedDependency[ArqRedis],
        recipient: Annotated[
            str | None,
            QueryParameter(
                description="The envelope recipient as the provider's inbound hook passes it "
                "(several: comma-separated); without it, the Delivered-To, X-Original-To and "
                "To headers",
                max_length=2000,
            ),
        ] = None,
    ) -> InboundReport:
        settings: Settings = request.app.state.settings
        raw = await request.body()
        recipients = [a for _n, a in getaddresses([recipient]) if a] if recipient else []
        recipients = recipients or parser.header_addresses(raw, parser.RECIPIENT_HEADERS)
        result = await service.handle_message(
            raw=raw, queue=queue, recipients=recipients, settings=settings
        )
        return InboundReport(
            replies=result.replies,
            applied=result.applied,
            ignored=[
                IgnoredReply(uid=i.uid, attendee=i.attendee, reason=i.reason)
                for i in result.ignored
            ],
            held=[
                IgnoredReply(uid=i.uid, attendee=i.attendee, reason=i.reason) for i in result.held
            ],
        )


def _reply_uuid(ref: str) -> uuid.UUID:
    """A held reply's id from the path; a malformed one is a 404, like an unknown one."""
    try:
        return uuid.UUID(ref)
    except ValueError as exc:
        raise NotFound("held reply not found") from exc


class HeldReplyController(Controller):
    """Replies that did not come to their invitation's reply address: the host and co-hosts
    see them and apply or discard each."""

    path = "/events/{event_id:str}/replies"
    tags = ["answers"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @get(
        "/",
        responses=problems(401, 404),
        summary="Replies from calendar clients held for the organizer (oldest first)",
    )
    async def list_replies(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        status: Annotated[held.HeldStatus | None, QueryParameter()] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=held.MAX_PAGE)] = held.DEFAULT_PAGE,
    ) -> HeldReplyPage:
        rows, next_cursor = await held.list_held(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            status=status,
            cursor=cursor,
            limit=limit,
        )
        return HeldReplyPage(
            items=msgspec.convert(rows, list[HeldReplyOut], from_attributes=True), next=next_cursor
        )

    @post(
        "/{reply_id:str}/apply",
        status_code=HTTP_200_OK,
        responses=problems(401, 404, 409),
        summary="Apply a held reply: the answer counts as if it came to the reply address",
    )
    async def apply(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        event_id: FromPath[str],
        reply_id: FromPath[str],
    ) -> HeldReplyOut:
        row, answer = await held.decide(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            reply_id=_reply_uuid(reply_id),
            action="apply",
        )
        if answer is not None:  # after commit: a promotion from the waitlist, webhooks
            await enqueue_notifications(queue, answer.notifications, batch=True)
            await enqueue_webhooks(queue, answer.webhooks)
        return msgspec.convert(row, HeldReplyOut, from_attributes=True)

    @post(
        "/{reply_id:str}/discard",
        status_code=HTTP_200_OK,
        responses=problems(401, 404, 409),
        summary="Discard a held reply: the answer is not applied",
    )
    async def discard(
        self, caller: NamedDependency[Caller], event_id: FromPath[str], reply_id: FromPath[str]
    ) -> HeldReplyOut:
        row, _answer = await held.decide(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            reply_id=_reply_uuid(reply_id),
            action="discard",
        )
        return msgspec.convert(row, HeldReplyOut, from_attributes=True)
