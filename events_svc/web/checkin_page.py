"""The page a check-in QR code opens: for an organizer of the event signed in to the console
it records the attendance and says who and which session; anyone else sees a page that names
nobody."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from arq.connections import ArqRedis
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.jobs import enqueue_notifications
from events_svc.rsvp.checkin_link import read_checkin_token
from events_svc.settings import Settings
from events_svc.training.qr_check_in import check_in_by_link
from events_svc.web import public_text  # noqa: F401 - registers the pages' texts
from events_svc.web.auth import load_user
from events_svc.web.common import QUEUE
from events_svc.web.forms import say
from events_svc.web.shell import PAGE_HEADERS, base_context, reader_locale


class CheckInPage(Controller):
    include_in_schema = False
    dependencies = QUEUE

    @get(
        "/check-in/{token:str}",
        summary="A check-in QR code: an organizer of the event checks the person in",
    )
    async def check_in(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Template:
        user = await load_user(request)
        locale = reader_locale(request, user.organizer.locale if user else None)
        values: dict[str, Any] = {
            "outcome": "nothing",
            "sign_in": "/console/sign-in?next=" + quote(request.url.path, safe=""),
            "signed_in": user is not None,
        }
        invitation = read_checkin_token(settings.secret_key, token)
        status = 200
        if user is not None and invitation is not None:
            try:
                done = await check_in_by_link(
                    org_id=user.organizer.org_id, actor=user.actor, invitation_id=invitation
                )
            except NotFound:
                status = 404
            except (Conflict, InvalidInput) as exc:
                values.update(outcome="refused", detail=say(exc.detail, locale))
                status = 409
            else:
                await enqueue_notifications(queue, done.notifications)
                values.update(
                    outcome=done.outcome,
                    name=done.name or done.email,
                    email=done.email,
                    title=done.event_title,
                    session=done.session,
                )
        elif invitation is None:
            status = 404
        return Template(
            template_name="public/check_in.html",
            context={**base_context(request, locale), **values},
            headers=PAGE_HEADERS,
            status_code=status,
            media_type="text/html",
        )
