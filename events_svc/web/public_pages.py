"""The public pages: an organization's page (`/o/{slug}`), a public event's page
(`/e/{id}`) with add-to-calendar links and the registration form, and the confirmation
pages of a registration. No sign-in; the reader's language from Accept-Language or the
switch; the shell's strict CSP."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from events_svc import ratelimit
from events_svc.errors import InvalidInput, NotFound
from events_svc.jobs import enqueue_notifications, enqueue_side_mail, enqueue_webhooks
from events_svc.registration import public
from events_svc.registration import service as registration
from events_svc.registration.records import PublicEvent
from events_svc.settings import Settings
from events_svc.validation import email_key
from events_svc.web import public_text  # noqa: F401 - registers the pages' texts
from events_svc.web.auth import BROWSER_COOKIE, browser_token, cookie, csrf_checked
from events_svc.web.common import QUEUE
from events_svc.web.forms import say, text_of
from events_svc.web.i18n import Locale
from events_svc.web.shell import LANG_COOKIE, PAGE_HEADERS, base_context
from events_svc.web.signin_pages import _browser

#: the form's field no person fills in (it is hidden); a bot filling every field does
HONEYPOT = "website"


def public_locale(request: Request[Any, Any, Any]) -> Locale:
    """The switch's cookie, else the first of zh / en in Accept-Language, else zh-CN."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("zh-CN", "en"):
        return "en" if chosen == "en" else "zh-CN"
    for part in request.headers.get("accept-language", "").split(",")[:20]:
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "zh-CN"


def _page(
    request: Request[Any, Any, Any], template: str, *, status: int = 200, **values: Any
) -> Template:
    locale = public_locale(request)
    return Template(
        template_name=template,
        context={**base_context(request, locale), "errors": None, **values},
        headers=PAGE_HEADERS,
        status_code=status,
        media_type="text/html",
    )


def _utc_stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def calendar_links(row: PublicEvent, base_url: str) -> dict[str, str]:
    """.ics download, and Google Calendar / Outlook pages pre-filled with the event."""
    page = f"{base_url}/e/{row.id}"
    details = row.description[:1500] + f"\n\n{page}"
    where = row.location or row.online_url or ""
    google = {
        "action": "TEMPLATE",
        "text": row.title,
        "dates": f"{_utc_stamp(row.starts_at_utc)}/{_utc_stamp(row.ends_at_utc)}",
        "details": details,
        "location": where,
        "ctz": row.timezone,
    }
    if row.recurrence:
        google["recur"] = "RRULE:" + row.recurrence
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": row.title,
        "startdt": row.starts_at_utc.isoformat(),
        "enddt": row.ends_at_utc.isoformat(),
        "body": details,
        "location": where,
    }
    return {
        "ics": f"/events/{row.id}.ics",
        "google": "https://calendar.google.com/calendar/render?" + urlencode(google),
        "outlook": "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(outlook),
    }


def feed_links(slug: str, name: str, base_url: str) -> dict[str, str]:
    """The organization's feed as https and webcal, and add-by-URL links for Google / Outlook."""
    https = f"{base_url}/feeds/orgs/{slug}.ics"
    webcal = "webcal://" + https.split("://", 1)[1]
    return {
        "https": https,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?"
        + urlencode({"url": https, "name": name}),
    }


def _reason_key(reason: str) -> str:
    for word, key in (("cancel", "cancelled"), ("deadline", "deadline"), ("over", "over")):
        if word in reason:
            return "pub.reason." + key
    return "pub.reason.closed"


def _event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("event not found") from None


class PublicPages(Controller):
    include_in_schema = False
    dependencies = QUEUE

    @get("/o/{slug:str}", summary="An organization's public page: its upcoming public events")
    async def org_page(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Template:
        org = await public.organization(slug=slug)
        english = public_locale(request) == "en" and org.name_en
        name = org.name_en if english and org.name_en else org.name
        return _page(
            request,
            "public/org.html",
            org=org,
            name=name,
            feed=feed_links(org.slug, name, settings.public_base_url),
        )

    @get("/e/{event_id:str}", summary="A public event's page, with the registration form")
    async def event_page(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Template:
        return await self._event(request, _event_id(event_id), settings)

    async def _event(
        self,
        request: Request[Any, Any, Any],
        ident: uuid.UUID,
        settings: Settings,
        *,
        status: int = 200,
        errors: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
    ) -> Template:
        row = await public.event(event_id=ident)
        browser, new = _browser(request)
        response = _page(
            request,
            "public/event.html",
            status=status,
            event=row,
            links=calendar_links(row, settings.public_base_url),
            csrf=browser_token(settings.secret_key, browser),
            errors=errors,
            form=form or {"name": "", "email": "", "locale": public_locale(request), "answers": {}},
            honeypot=HONEYPOT,
        )
        if new:
            response.set_cookie(cookie(request, BROWSER_COOKIE, browser))
        return response

    @post(
        "/e/{event_id:str}/register",
        guards=[csrf_checked],
        status_code=200,
        summary="Register for a public event: a confirmation e-mail goes to the address",
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Template:
        ident = _event_id(event_id)
        await ratelimit.hit(
            request, "registration-address", settings.rate_limit_registration_address
        )
        form = await request.form()
        email = text_of(form, "email").strip()[:254]
        hours = round(settings.registration_confirm_seconds / 3600)
        if text_of(form, HONEYPOT):
            # a bot: it is told what a person would be told, and nothing is stored
            return _page(
                request,
                "public/registered.html",
                outcome="sent",
                email=email,
                hours=hours,
                event_id=str(ident),
            )
        row = await public.event(event_id=ident)
        answers: dict[str, Any] = {}
        for q in row.questions:
            key = "q_" + q.id
            if q.type == "several_choices":
                answers[q.id] = [v for v in form.getall(key, []) if isinstance(v, str)]
            elif key in form:
                answers[q.id] = text_of(form, key)
        given: dict[str, Any] = {
            "name": text_of(form, "name"),
            "email": email,
            "locale": text_of(form, "locale", "zh-CN"),
            "answers": answers,
        }
        if row.closed_reason is not None:
            return _page(
                request,
                "public/refused.html",
                status=409,
                reason_key=_reason_key(row.closed_reason),
                event_id=str(ident),
            )
        if email:
            await ratelimit.hit(
                request,
                "registration-email",
                settings.rate_limit_registration_email,
                subject=email_key(email),
            )
        try:
            done = await registration.register(
                event_id=ident,
                email=given["email"],
                name=given["name"],
                locale=given["locale"],
                answers=answers,
                confirm_seconds=settings.registration_confirm_seconds,
            )
        except registration.RegistrationClosed as exc:
            return _page(
                request,
                "public/refused.html",
                status=409,
                reason_key=_reason_key(exc.detail),
                event_id=str(ident),
            )
        except InvalidInput as exc:
            locale = public_locale(request)
            fields = {
                e.field.replace("answers.", "q_"): say(e.message, locale)
                for e in (exc.errors or [])
            }
            return await self._event(
                request,
                ident,
                settings,
                status=422,
                errors={"fields": fields},
                form=given,
            )
        await enqueue_side_mail(queue, done.mail)
        return _page(
            request,
            "public/registered.html",
            outcome=done.outcome,
            email=email,
            hours=hours,
            event_id=str(ident),
        )

    @get(
        "/register/confirm/{token:str}",
        summary="The link from the confirmation e-mail: a button that confirms",
    )
    async def confirm_page(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Template:
        # a GET changes nothing (mail scanners follow links): the button POSTs
        found = await registration.peek(secret=settings.secret_key, token=token)
        if found is None:
            return _page(request, "public/confirmed.html", status=410, outcome="gone")
        if found.status == "confirmed":
            return _page(
                request,
                "public/confirmed.html",
                outcome="already",
                title=found.title,
                event_id=str(found.event_id),
            )
        return _page(
            request,
            "public/confirm.html",
            title=found.title,
            action=f"/register/confirm/{token}",
            event_id=str(found.event_id),
        )

    @post(
        "/register/confirm/{token:str}",
        status_code=200,
        summary="Confirm a registration (the link is the credential): invited, or waitlisted",
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        await ratelimit.hit(
            request, "registration-address", settings.rate_limit_registration_address
        )
        try:
            done = await registration.confirm(secret=settings.secret_key, token=token)
        except registration.Gone:
            return _page(request, "public/confirmed.html", status=410, outcome="gone")
        except registration.RegistrationClosed as exc:
            return _page(
                request,
                "public/refused.html",
                status=409,
                reason_key=_reason_key(exc.detail),
                event_id="",
            )
        await enqueue_notifications(queue, done.notifications, batch=True)
        await enqueue_webhooks(queue, done.hooks)
        return _page(
            request,
            "public/confirmed.html",
            outcome=done.outcome,
            title=done.title,
            event_id=str(done.event_id),
        )
