"""HTTP route of inbound e-mail: mail providers' inbound hooks post calendar replies here."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK

from events_svc import ratelimit
from events_svc.deps import BEARER, QUEUE
from events_svc.errors import Problem
from events_svc.guards import reject_nul
from events_svc.inbound import service
from events_svc.inbound.parser import MAX_MESSAGE_BYTES
from events_svc.inbound.schemas import IgnoredReply, InboundReport
from events_svc.openapi import problems
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


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,
    )


_PROBLEMS = {
    401: _problem("Missing or wrong INBOUND_TOKEN"),
    429: _problem("Too many messages, or too many wrong tokens, from this address"),
    404: _problem("INBOUND_TOKEN is not set: receiving e-mail over HTTP is disabled"),
    413: _problem(f"Message over {MAX_MESSAGE_BYTES // 2**20} MiB"),
    415: _problem("Not message/rfc822 (or message/global)"),
    422: _problem("Not a usable iTIP REPLY; `detail` says what is wrong"),
    503: _problem("The database is unavailable; send the message again later"),
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
        "Each VEVENT of its iTIP REPLY is one answer: applied when the UID is an event's and "
        "the ATTENDEE was invited, ignored (with the reason) otherwise. A message that is no "
        "REPLY at all answers 422 naming what is wrong; 503 asks the provider to retry later.",
    )
    async def receive(
        self, request: Request[Any, Any, Any], queue: NamedDependency[ArqRedis]
    ) -> InboundReport:
        result = await service.handle_message(raw=await request.body(), queue=queue)
        return InboundReport(
            replies=result.replies,
            applied=result.applied,
            ignored=[
                IgnoredReply(uid=i.uid, attendee=i.attendee, reason=i.reason)
                for i in result.ignored
            ],
        )
