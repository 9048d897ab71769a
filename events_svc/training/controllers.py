"""HTTP routes of trainings: check-ins, completion (JSON and CSV) and certificates."""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events_svc import ratelimit
from events_svc.deps import BEARER, CALLER, QUEUE
from events_svc.events.service import event_uuid
from events_svc.jobs import enqueue_notifications
from events_svc.mail.i18n import LOCALES, Locale
from events_svc.openapi import also_answers, page_or_json, problems
from events_svc.orgs.service import Caller
from events_svc.rsvp import controllers as rsvp_controllers
from events_svc.rsvp.controllers import _cell, _wants_json
from events_svc.settings import Settings
from events_svc.training import service
from events_svc.training.page import render_certificate
from events_svc.training.schemas import (
    CertificateOut,
    CheckedInBy,
    CheckInIn,
    CheckInOut,
    Completion,
    PersonCompletion,
)
from events_svc.web.shell import PAGE_HEADERS, reader_locale

#: a public page anyone may open: no caching of a revocable statement, no search engines,
#: nothing loaded from elsewhere
#: the shell's headers; a certificate page may be cached, but revalidated (revocations)
_PAGE_HEADERS = {**PAGE_HEADERS, "Cache-Control": "no-cache", "X-Robots-Tag": "noindex"}


class AttendanceController(rsvp_controllers.AttendanceController):
    """The RSVP attendance view (GET, inherited) plus training check-ins (POST) on the same
    path: Litestar cannot merge one path's methods from two controllers (each adds its own
    OPTIONS handler), so this one extends the other and replaces it in the app."""

    @post(
        "/attendance",
        status_code=HTTP_201_CREATED,
        dependencies=QUEUE,
        tags=["trainings"],
        responses=problems(401, 404, 409),
        summary="Check an enrolled person in at one session of a training",
        description="`occurrence` is the session's original local start (a series' "
        "RECURRENCE-ID; the event's start for a single session). 201 when recorded, 200 when "
        "the person was already checked in. The check-in that completes the course issues "
        "the person's certificate and e-mails it.",
    )
    async def check_in(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        event_id: FromPath[str],
        data: JSONBody[CheckInIn],
    ) -> Response[CheckInOut]:
        done = await service.check_in(
            org_id=caller.org_id,
            key_prefix=caller.key_prefix,
            event_id=event_uuid(event_id),
            email=data.email,
            occurrence=data.occurrence,
        )
        await enqueue_notifications(queue, done.notifications)
        seen = done.attendance
        body = CheckInOut(
            email=seen.email,
            occurrence=seen.occurrence,
            checked_in_at=seen.checked_in_at,
            checked_in_by=CheckedInBy(
                organization=seen.checked_in_by.organization, key=seen.checked_in_by.key
            ),
            recorded=done.recorded,
            completion=msgspec.convert(done.status, PersonCompletion, from_attributes=True),
        )
        return Response(body, status_code=HTTP_201_CREATED if done.recorded else HTTP_200_OK)


class CompletionController(Controller):
    path = "/events/{event_id:str}"
    tags = ["trainings"]
    dependencies = CALLER
    security = BEARER

    @get(
        "/completion",
        responses=problems(401, 404, 409),
        summary="Per enrolled person: sessions attended of those held, hours, completion",
    )
    async def completion(
        self, caller: NamedDependency[Caller], event_id: FromPath[str]
    ) -> Completion:
        data = await service.completion(org_id=caller.org_id, event_id=event_uuid(event_id))
        return msgspec.convert(data, Completion, from_attributes=True)

    @get(
        "/completion.csv",
        media_type="text/csv",
        responses=problems(401, 404, 409),
        summary="Completion as CSV (UTF-8 with BOM, so Excel shows Chinese names)",
    )
    async def completion_csv(
        self, caller: NamedDependency[Caller], event_id: FromPath[str]
    ) -> Response[bytes]:
        data = await service.completion(org_id=caller.org_id, event_id=event_uuid(event_id))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            ["email", "name", "attended", "held", "total", "hours", "completed", "certificate"]
        )
        for p in data.people:
            cert = p.certificate
            writer.writerow(
                [
                    _cell(p.email),
                    _cell(p.name),
                    p.attended,
                    p.held,
                    "" if p.total is None else p.total,
                    f"{p.hours:.1f}",
                    "yes" if p.completed else "",
                    (cert.code + (" (revoked)" if cert.revoked_at else "")) if cert else "",
                ]
            )
        return Response(
            ("\ufeff" + out.getvalue()).encode("utf-8"),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="completion.csv"'},
        )


class CertificateController(Controller):
    path = "/certificates"
    tags = ["trainings"]

    @get(
        "/{code:str}",
        responses={200: page_or_json(CertificateOut), **problems(404, 429)},
        operation_class=also_answers("text/html"),
        summary="Verify a certificate: who completed which course, and whether it still holds",
        description="Public. HTML in the holder's language (`?lang=zh-CN|en` chooses), JSON "
        "with `Accept: application/json`. A revoked certificate answers 200 with "
        '`"status": "revoked"` (the page says so); a code never issued is a 404.',
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        code: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        await ratelimit.hit(request, "certificates", settings.rate_limit_certificates)
        cert = await service.certificate(code=code)
        if _wants_json(request):
            return Response(
                msgspec.convert(cert, CertificateOut, from_attributes=True), headers=_PAGE_HEADERS
            )
        asked = request.query_params.get("lang") or reader_locale(request, cert.locale)
        locale: Locale = next((loc for loc in LOCALES if loc == asked), "zh-CN")
        body = render_certificate(cert, locale=locale, request=request)
        return Response(body, media_type="text/html", headers=_PAGE_HEADERS)

    @post(
        "/{code:str}/revoke",
        status_code=HTTP_200_OK,
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401, 404),
        summary="Revoke a certificate (its course's host or a co-host); the code then says so",
    )
    async def revoke(self, caller: NamedDependency[Caller], code: FromPath[str]) -> CertificateOut:
        cert = await service.revoke(org_id=caller.org_id, code=code)
        return msgspec.convert(cert, CertificateOut, from_attributes=True)
