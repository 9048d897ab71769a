"""HTTP routes of calendar feeds: validators first, the body only when it is needed."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from arq.connections import ArqRedis
from litestar import Controller, HttpMethod, Request, Response, post, route
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK

from events_svc.deps import BEARER, CALLER, QUEUE
from events_svc.errors import NotFound
from events_svc.events.schemas import EventKind
from events_svc.feeds import service
from events_svc.feeds.schemas import FeedTokenRotated
from events_svc.jobs import enqueue_notifications
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings

_FEED_RESPONSE = {
    200: ResponseSpec(
        data_container=str,
        media_type="text/calendar",
        description="The feed (gzip when accepted); 304 when the validators match",
        # Litestar would invent a random string as the example: the document would differ
        # from one start to the next, and the example would not be a calendar anyway
        generate_examples=False,
    ),
    **problems(404),
}


def feed_config(settings: Settings, detail: str | None = None) -> service.FeedConfig:
    return service.FeedConfig(
        base_url=settings.public_base_url,
        mail_from=settings.organizer_email,
        refresh=settings.feed_refresh,
        sessions=detail == "sessions",
    )


Detail = Annotated[
    Literal["sessions"] | None,
    QueryParameter(description="`sessions`: each agenda item as its own event"),
]


def _ics_name(ref: str) -> str:
    """`<name>.ics` from the path; anything else is a 404."""
    if not ref.endswith(".ics") or len(ref) <= 4:
        raise NotFound("feed not found")
    return ref[:-4]


def not_modified(request: Request[Any, Any, Any], etag: str, last_modified: datetime) -> bool:
    """RFC 9110 13.2.2: If-None-Match when given (any of its tags, weak or strong, or the
    tag of our gzip variant); otherwise If-Modified-Since, to the second."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags or _gzip_etag(etag) in tags
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False  # RFC 9110: an invalid date is ignored
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= when


def _gzip_etag(etag: str) -> str:
    # a strong validator names one representation: the gzip one has its own tag
    return etag[:-1] + '-gz"'


def feed_response(
    request: Request[Any, Any, Any],
    *,
    stamp: service.Stamp,
    body: service.Body | None,
    filename: str,
) -> Response[bytes]:
    """200 (or HEAD) with the body, gzip when accepted, or 304 when `body` is None."""
    wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    etag = _gzip_etag(stamp.etag) if wants_gzip else stamp.etag
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(stamp.last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": "private, max-age=300" if stamp.private else "public, max-age=300",
        "Vary": "Accept-Encoding",
    }
    if body is None:
        return Response(b"", status_code=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    data = body.gzipped() if wants_gzip else body.data
    if wants_gzip:
        headers["Content-Encoding"] = "gzip"
    if request.method == HttpMethod.HEAD:
        headers["Content-Length"] = str(len(data))
        data = b""
    return Response(data, media_type="text/calendar", headers=headers)


async def _serve(
    request: Request[Any, Any, Any],
    stamp: service.Stamp,
    *,
    now: datetime,
    config: service.FeedConfig,
    filename: str,
) -> Response[bytes]:
    """304 when the validators match (nothing is built), else the feed."""
    body = None
    if not not_modified(request, stamp.etag, stamp.last_modified):
        builder = service.person_body if stamp.private else service.public_body
        body = await builder(stamp=stamp, now=now, config=config)
    return feed_response(request, stamp=stamp, body=body, filename=filename)


class FeedController(Controller):
    path = "/feeds"
    tags = ["feeds"]

    @route(
        "/orgs/{ref:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        responses=_FEED_RESPONSE,
        summary="An organization's public events as a calendar feed (`/feeds/orgs/<slug>.ics`)",
        description="Public events from 90 days ago on; cancelled ones stay as CANCELLED for "
        "30 days. No key needed. Strong ETag and Last-Modified; conditional requests get 304.",
    )
    async def org_feed(
        self,
        request: Request[Any, Any, Any],
        ref: FromPath[str],
        settings: NamedDependency[Settings],
        kind: Annotated[list[EventKind] | None, QueryParameter(description="repeatable")] = None,
        detail: Detail = None,
    ) -> Response[bytes]:
        slug = _ics_name(ref)
        config, now = feed_config(settings, detail), datetime.now(UTC)
        stamp = await service.org_stamp(slug=slug, kinds=kind or (), now=now, config=config)
        return await _serve(request, stamp, now=now, config=config, filename=f"{slug}.ics")

    @route(
        "/partnerships/{ref:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        responses=_FEED_RESPONSE,
        summary="The public events run under a co-operation agreement, as a calendar feed",
        description="`/feeds/partnerships/<id>.ics`: every co-host's public events of the "
        "agreement, as in an organization's feed.",
    )
    async def partnership_feed(
        self,
        request: Request[Any, Any, Any],
        ref: FromPath[str],
        settings: NamedDependency[Settings],
        detail: Detail = None,
    ) -> Response[bytes]:
        ident = _ics_name(ref)
        config, now = feed_config(settings, detail), datetime.now(UTC)
        stamp = await service.partnership_stamp(ident=ident, now=now, config=config)
        return await _serve(request, stamp, now=now, config=config, filename="partnership.ics")

    @route(
        "/people/{ref:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        responses=_FEED_RESPONSE,
        summary="A person's calendar: every event they are invited to, with their answer",
        description="The link is secret (in every invitation e-mail); an organizer can rotate "
        "it, after which the old one answers 404.",
    )
    async def person_feed(
        self,
        request: Request[Any, Any, Any],
        ref: FromPath[str],
        settings: NamedDependency[Settings],
        detail: Detail = None,
    ) -> Response[bytes]:
        token = _ics_name(ref)
        config, now = feed_config(settings, detail), datetime.now(UTC)
        stamp = await service.person_stamp(token=token, now=now, config=config)
        return await _serve(request, stamp, now=now, config=config, filename="calendar.ics")


class FeedTokenController(Controller):
    path = "/people"
    tags = ["feeds"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @post(
        "/{email:str}/feed-token/rotate",
        status_code=HTTP_200_OK,
        responses=problems(401, 404),
        summary="Give a person a new feed link; the old one answers 404 from now on",
        description="For people invited to the caller's events. The new link is not shown "
        "to the organizer (the feed holds the person's other invitations too): the person "
        "gets it by e-mail (`X-Notification-Kind: feed-link`).",
    )
    async def rotate_feed_token(
        self,
        caller: NamedDependency[Caller],
        email: FromPath[str],
        queue: NamedDependency[ArqRedis],
    ) -> FeedTokenRotated:
        queued = await service.rotate_token(org_id=caller.org_id, email=email)
        await enqueue_notifications(queue, queued)
        return FeedTokenRotated(email=email.strip().lower(), rotated=True)
