"""HTTP routes of calendar feeds: validators first, the body only when it is needed."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from arq.connections import ArqRedis
from litestar import Controller, HttpMethod, Request, Response, get, post, route
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK

from events_svc.deps import QUEUE
from events_svc.errors import NotFound, problem_response
from events_svc.events.schemas import EventKind
from events_svc.feeds import page, personal, service
from events_svc.jobs import enqueue_notifications
from events_svc.openapi import problems
from events_svc.rsvp.controllers import _PAGE_HEADERS
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
        reply_address=settings.reply_address,
        secret_key=settings.secret_key,
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
        description="The link is secret (in every invitation e-mail); only the person can give "
        "it a new address (`/feeds/rotate/...`, in every mail), after which the old one answers "
        "404.",
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
    """The person's own link to give their feed a new address (in every mail they get)."""

    path = "/feeds/rotate"
    tags = ["feeds"]

    @get(
        "/{token:str}",
        responses=problems(404),
        summary="The page that asks a person whether to give their calendar feed a new link",
        description="The link is in every mail the person gets, next to their feed link. A GET "
        "changes nothing (mail scanners follow links); the form on the page POSTs here. 404 "
        "(a page for browsers, else a problem) for a link that is forged or already used.",
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        try:
            owner = await personal.link_owner(secret=settings.secret_key, token=token)
        except NotFound:
            return _gone(request)
        body = page.confirm_page(
            email=owner.email, locale=owner.locale, action=f"/feeds/rotate/{token}"
        )
        return Response(body, media_type="text/html", headers=_PAGE_HEADERS)

    @post(
        "/{token:str}",
        status_code=HTTP_200_OK,
        dependencies=QUEUE,
        responses=problems(404),
        summary="Give the person's calendar feed a new link (the old feed URL answers 404)",
        description="Shows the new link and e-mails it (`X-Notification-Kind: feed-link`); "
        "the link that was used is dead afterwards, as is every older one.",
    )
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        try:
            done = await personal.rotate_own_token(secret=settings.secret_key, token=token)
        except NotFound:
            return _gone(request)
        await enqueue_notifications(queue, done.notifications)
        https, webcal = service.person_feed_urls(settings.public_base_url, done.owner.feed_token)
        body = page.done_page(locale=done.owner.locale, https=https, webcal=webcal)
        return Response(body, media_type="text/html", headers=_PAGE_HEADERS)


def _gone(request: Request[Any, Any, Any]) -> Response[Any]:
    """A forged, malformed or used link: a page for a browser, a problem for anything else."""
    if "text/html" in request.headers.get("accept", ""):
        return Response(
            page.gone_page(), status_code=404, media_type="text/html", headers=_PAGE_HEADERS
        )
    return problem_response(
        request,
        status=404,
        slug=NotFound.slug,
        title=NotFound.title,
        detail="no calendar link for this address",
    )
