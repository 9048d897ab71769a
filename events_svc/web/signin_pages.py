"""Signing in to the console by e-mail link, and signing out."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from events_svc import ratelimit
from events_svc.jobs import enqueue_side_mail
from events_svc.organizers import sessions, signin
from events_svc.settings import Settings
from events_svc.validation import email_key
from events_svc.web.auth import (
    BROWSER_COOKIE,
    SESSION_COOKIE,
    browser_token,
    console_session,
    cookie,
    csrf_checked,
    new_browser_id,
    user_of_request,
)
from events_svc.web.common import EXCEPTION_HANDLERS, QUEUE, page, see_other
from events_svc.web.forms import text_of
from events_svc.web.public import safe_next

Next = Annotated[str | None, QueryParameter(name="next", max_length=2000)]


def _browser(request: Request[Any, Any, Any]) -> tuple[str, bool]:
    """The browser's id cookie, and whether it is new (to be set on this answer)."""
    found = request.cookies.get(BROWSER_COOKIE)
    if found and 10 <= len(found) <= 100:
        return found, False
    return new_browser_id(), True


def _with_browser(
    request: Request[Any, Any, Any], response: Template, browser: str, new: bool
) -> Template:
    if new:
        response.set_cookie(cookie(request, BROWSER_COOKIE, browser))
    return response


class SignInController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = EXCEPTION_HANDLERS
    dependencies = QUEUE

    @get("/sign-in", summary="The sign-in page: an e-mail address, a link goes there")
    async def sign_in_form(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        next_: Next = None,
    ) -> Template:
        browser, new = _browser(request)
        response = page(
            request,
            "console/sign_in.html",
            csrf=browser_token(settings.secret_key, browser),
            next=safe_next(next_),
            email="",
        )
        return _with_browser(request, response, browser, new)

    @post(
        "/sign-in",
        guards=[csrf_checked],
        status_code=200,
        summary="Ask for a sign-in link; the answer is the same whether the address is known",
    )
    async def ask_for_link(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Template:
        form = await request.form()
        email = text_of(form, "email").strip()[:254]
        browser = request.cookies.get(BROWSER_COOKIE, "")
        await ratelimit.hit(request, "sign-in-address", settings.rate_limit_sign_in_address)
        if email:
            await ratelimit.hit(
                request,
                "sign-in-email",
                settings.rate_limit_sign_in_email,
                subject=email_key(email),
            )
            rows = await signin.request_links(queue, email=email, browser=browser)
            await enqueue_side_mail(queue, rows)
        return page(
            request,
            "console/sign_in_sent.html",
            csrf=browser_token(settings.secret_key, browser),
            email=email,
        )

    @get("/sign-in/{token:str}", summary="The link from the e-mail: a button that signs in")
    async def link_page(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
        next_: Next = None,
    ) -> Template:
        # a GET consumes nothing (mail scanners follow links): the button POSTs
        browser, new = _browser(request)
        if not await signin.peek(queue, secret=settings.secret_key, token=token):
            return _with_browser(
                request, page(request, "console/sign_in_refused.html", status=410), browser, new
            )
        response = page(
            request,
            "console/sign_in_link.html",
            csrf=browser_token(settings.secret_key, browser),
            action=f"/console/sign-in/{token}",
            next=safe_next(next_),
        )
        return _with_browser(request, response, browser, new)

    @post(
        "/sign-in/{token:str}",
        guards=[csrf_checked],
        status_code=200,
        summary="Redeem the link (once, in the browser that asked) and start a session",
    )
    async def redeem(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        done = await signin.redeem(
            queue,
            secret=settings.secret_key,
            token=token,
            browser=request.cookies.get(BROWSER_COOKIE),
        )
        if done is None:
            return page(request, "console/sign_in_refused.html", status=410)
        value = await sessions.start(
            queue,
            organizer_id=done.organizer_id,
            org_id=done.org_id,
            idle=settings.console_session_idle,
            absolute=settings.console_session_absolute,
        )
        form = await request.form()
        return see_other(
            safe_next(text_of(form, "next")),
            cookies=[cookie(request, SESSION_COOKIE, value)],
        )

    @post(
        "/sign-out",
        guards=[console_session, csrf_checked],
        summary="End this session",
    )
    async def sign_out(
        self, request: Request[Any, Any, Any], queue: NamedDependency[ArqRedis]
    ) -> Response[Any]:
        user = user_of_request(request)
        await sessions.end(queue, user.session)
        return see_other(
            "/console/sign-in", cookies=[cookie(request, SESSION_COOKIE, "", max_age=0)]
        )

    @post(
        "/sign-out-everywhere",
        guards=[console_session, csrf_checked],
        summary="End every session of this organizer, on every device",
    )
    async def sign_out_everywhere(
        self, request: Request[Any, Any, Any], queue: NamedDependency[ArqRedis]
    ) -> Response[Any]:
        user = user_of_request(request)
        await sessions.end_all(queue, organizer_id=user.organizer.id)
        return see_other(
            "/console/sign-in", cookies=[cookie(request, SESSION_COOKIE, "", max_age=0)]
        )
