"""HTTP routes of answers: the RSVP page (no login; the link is the key) and the organizer's
attendance view."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from events_svc import ratelimit
from events_svc.deps import BEARER, CALLER, QUEUE
from events_svc.errors import InvalidInput, NotFound
from events_svc.events.service import event_uuid
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.mail.i18n import Locale
from events_svc.openapi import also_answers, page_or_json, problems
from events_svc.orgs.service import Caller
from events_svc.rsvp import service
from events_svc.rsvp.checkin_link import checkin_url, qr_svg
from events_svc.rsvp.page import render_page, t
from events_svc.rsvp.records import AttendanceRecord, InvitationView
from events_svc.rsvp.schemas import Attendance, RsvpAnswer
from events_svc.settings import Settings
from events_svc.web.shell import PAGE_HEADERS, reader_locale

MAX_COMMENT = 2000
#: the link in the address bar is the key to the answer: keep it out of caches, referrers
#: and search engines, and let the page load nothing from elsewhere
_PAGE_HEADERS = {**PAGE_HEADERS, "X-Robots-Tag": "noindex"}


def _qr(row: InvitationView, settings: Settings) -> str:
    """The invitee's check-in QR code (inline SVG) for their page."""
    url = checkin_url(settings.public_base_url, settings.secret_key, row.id)
    return qr_svg(url, title="check-in")


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _answer_out(row: InvitationView) -> RsvpAnswer:
    return RsvpAnswer(
        event=str(row.event_id),
        title=row.title,
        email=row.email,
        rsvp=row.rsvp,
        waitlisted=row.waitlist_position is not None,
        waitlist_position=row.waitlist_position,
        comment=row.comment,
    )


_ANSWER = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "response": Schema(type=OpenAPIType.STRING, enum=list(service.RESPONSES)),
        "comment": Schema(type=OpenAPIType.STRING, max_length=MAX_COMMENT),
    },
    required=["response"],
)
#: `answer` reads the body itself (a form from the page, or JSON)
_ANSWER_BODY = RequestBody(
    required=True,
    content={
        "application/x-www-form-urlencoded": OpenAPIMediaType(schema=_ANSWER),
        "application/json": OpenAPIMediaType(schema=_ANSWER),
    },
)


class RsvpController(Controller):
    path = "/rsvp"
    tags = ["answers"]

    @get(
        "/{token:str}",
        responses={200: page_or_json(RsvpAnswer), **problems(404, 429)},
        operation_class=also_answers("text/html"),
        summary="The RSVP page of one invitation (the link in its e-mail)",
        description="HTML in the invitee's language (JSON with `Accept: application/json`). "
        "`?response=accepted|tentative|declined` pre-selects an answer; a GET never changes "
        "the answer (mail scanners follow links).",
    )
    async def page(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        try:
            row = await service.invitation_for_token(secret=settings.secret_key, token=token)
        except NotFound:
            # only unknown links count: people open their own page as often as they like
            await ratelimit.hit(request, "rsvp-address", settings.rate_limit_rsvp_address)
            raise
        if _wants_json(request):
            return Response(_answer_out(row), headers=_PAGE_HEADERS)
        selected = request.query_params.get("response")
        if selected not in service.RESPONSES:
            selected = None
        body = render_page(
            row,
            action=f"/rsvp/{token}",
            selected=selected,
            request=request,
            qr=_qr(row, settings),
        )
        return Response(body, media_type="text/html", headers=_PAGE_HEADERS)

    @post(
        "/{token:str}",
        status_code=HTTP_200_OK,
        dependencies=QUEUE,
        responses={200: page_or_json(RsvpAnswer), **problems(404, 409, 422, 429)},
        # the page's own form posts back here, and a 422 to it is the page again
        operation_class=also_answers("text/html", statuses=("200", "422"), body=_ANSWER_BODY),
        summary="Answer an invitation: form field (or JSON) `response`, optional `comment`",
        description="`response` is accepted, tentative or declined. An acceptance when the "
        "event is full puts the person on the waitlist (the answer says so).",
    )
    async def answer(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        await ratelimit.hit(request, "rsvp-address", settings.rate_limit_rsvp_address)
        await ratelimit.hit(request, "rsvp-token", settings.rate_limit_rsvp_token, subject=token)
        row = await service.invitation_for_token(secret=settings.secret_key, token=token)
        response, comment = await _read_answer(request)
        as_json = _wants_json(request) or request.headers.get("content-type", "").startswith(
            "application/json"
        )
        if response not in service.RESPONSES:
            if as_json:
                raise InvalidInput.field("response", "must be accepted, tentative or declined")
            body = render_page(
                row,
                action=f"/rsvp/{token}",
                selected=None,
                message=t("invalid", reader_locale(request, row.locale)),
                message_kind="error",
                request=request,
                qr=_qr(row, settings),
            )
            return Response(body, status_code=422, media_type="text/html", headers=_PAGE_HEADERS)
        if comment is not None and len(comment) > MAX_COMMENT:
            raise InvalidInput.field("comment", f"at most {MAX_COMMENT} characters")
        answer = await service.respond(
            invitation_id=row.id,
            response=response,
            comment=comment,
            source="link",
        )
        await enqueue_notifications(queue, answer.notifications, batch=True)
        await enqueue_webhooks(queue, answer.webhooks)
        row = await service.invitation_for_token(secret=settings.secret_key, token=token)
        if as_json:
            return Response(_answer_out(row), headers=_PAGE_HEADERS)
        locale: Locale = reader_locale(request, row.locale)
        body = render_page(
            row,
            action=f"/rsvp/{token}",
            selected=None,
            message=t("saved", locale),
            request=request,
            qr=_qr(row, settings),
        )
        return Response(body, media_type="text/html", headers=_PAGE_HEADERS)


async def _read_answer(request: Request[Any, Any, Any]) -> tuple[str | None, str | None]:
    """`response` and `comment` from a form post or a JSON body; anything else is a 4xx."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput.field("body", "not valid JSON") from exc
        if not isinstance(data, dict):
            raise InvalidInput.field("body", "must be a JSON object")
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        data = {k: form.get(k) for k in ("response", "comment")}
    else:
        raise InvalidInput.field(
            "content-type", "send a form (application/x-www-form-urlencoded) or JSON"
        )
    response, comment = data.get("response"), data.get("comment")
    if response is not None and not isinstance(response, str):
        raise InvalidInput.field("response", "must be accepted, tentative or declined")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput.field("comment", "must be text")
    if comment is not None and "\x00" in comment:
        raise InvalidInput.field("comment", "must not contain NUL characters")
    return response, comment


class AttendanceController(Controller):
    path = "/events/{event_id:str}"
    tags = ["answers"]
    dependencies = CALLER
    security = BEARER

    @get(
        "/attendance",
        responses=problems(401, 404),
        summary="Who comes: counts per answer, the waitlist in order, answers and comments",
    )
    async def attendance(
        self, caller: NamedDependency[Caller], event_id: FromPath[str]
    ) -> Attendance:
        data = await service.attendance(org_id=caller.org_id, event_id=event_uuid(event_id))
        return msgspec.convert(data, Attendance, from_attributes=True)

    @get(
        "/attendance.csv",
        media_type="text/csv",
        responses=problems(401, 404),
        summary="The attendance list as CSV (UTF-8 with BOM, so Excel shows Chinese names)",
    )
    async def attendance_csv(
        self, caller: NamedDependency[Caller], event_id: FromPath[str]
    ) -> Response[bytes]:
        data = await service.attendance(org_id=caller.org_id, event_id=event_uuid(event_id))
        return attendance_csv(data)


def attendance_csv(data: AttendanceRecord) -> Response[bytes]:
    """The attendance list as a CSV download (the API's and the console's)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    questions = data.questions
    # the columns are named as in the JSON attendance view; then one per registration question
    writer.writerow(
        ["email", "name", "role", "rsvp", "waitlisted", "comment", "responded_at", "source"]
        + ["checked_in"]
        + [_cell(q.label) for q in questions]
    )
    for p in data.people:
        extra = [p.answers.get(q.id, "") for q in questions]
        writer.writerow(
            [
                _cell(p.email),
                _cell(p.name),
                p.role,
                p.rsvp,
                "yes" if p.waitlisted else "",
                _cell(p.comment),
                p.responded_at.isoformat() if p.responded_at else "",
                p.source,
            ]
            + ["yes" if p.checked_in else ""]
            + [_cell("; ".join(v) if isinstance(v, list) else str(v)) for v in extra]
        )
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="attendance.csv"'},
    )


def _cell(value: str) -> str:
    # a cell starting with = + - @ would run as a formula in Excel (CSV injection)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
