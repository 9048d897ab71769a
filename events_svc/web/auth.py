"""Who is using the console: the session cookie, the organizer behind it, their role, and the
CSRF token every form carries.

The checks are Litestar guards declared on the routes (`console_session`, `admin_only`,
`csrf_checked`), so the route table says who may call what. A page asked without a session
is sent to the sign-in page; an editor asking for an admin page gets 403; another
organization's things are 404 (the queries carry the session's organization).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from events_svc.errors import NotFound
from events_svc.organizers import service as organizers
from events_svc.organizers import sessions
from events_svc.organizers.service import OrganizerRecord

SESSION_COOKIE = "console_session"
#: names the browser that asked for a sign-in link (the link works only there)
BROWSER_COOKIE = "console_browser"
CSRF_FIELD = "_csrf"


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in organizer, their organization, and their session."""

    session: sessions.Session
    organizer: OrganizerRecord
    org_slug: str
    org_name: str

    @property
    def is_admin(self) -> bool:
        return self.organizer.role == "admin"

    @property
    def actor(self) -> str:
        return f"organizer:{self.organizer.email}"


class SignInRequired(NotAuthorizedException):
    """No live session: pages redirect to the sign-in page, JSON answers 401."""


class AdminOnly(PermissionDeniedException):
    """An editor asked for an admin page."""


class CsrfRefused(PermissionDeniedException):
    """A form posted without the token of its session (or browser)."""


def secure_cookies(request: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return bool(request.app.state.settings.public_base_url.startswith("https://"))


def cookie(request: ASGIConnection[Any, Any, Any, Any], key: str, value: str, **kw: Any) -> Cookie:
    """A cookie of the console: HttpOnly, SameSite=Lax, Secure when the site is https."""
    return Cookie(
        key=key,
        value=value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        **kw,
    )


async def load_user(connection: ASGIConnection[Any, Any, Any, Any]) -> ConsoleUser | None:
    settings = connection.app.state.settings
    session = await sessions.load(
        connection.app.state.arq,
        connection.cookies.get(SESSION_COOKIE),
        idle=settings.console_session_idle,
        absolute=settings.console_session_absolute,
    )
    if session is None:
        return None
    try:
        found = await organizers.identity(org_id=session.org_id, organizer_id=session.organizer_id)
    except NotFound:
        await sessions.end(connection.app.state.arq, session)  # removed since sign-in
        return None
    return ConsoleUser(
        session=session, organizer=found.organizer, org_slug=found.org_slug, org_name=found.org_name
    )


async def console_session(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a live session; the user is kept in `connection.state.user`."""
    user = await load_user(connection)
    if user is None:
        raise SignInRequired("sign in at /console/sign-in")
    connection.state.user = user


def user_of_request(request: Request[Any, Any, Any]) -> ConsoleUser:
    """The user `console_session` found (on routes it guards)."""
    user: ConsoleUser = request.state.user
    return user


async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard (after `console_session`): organizers, API keys, webhooks, memberships and
    agreements are for admins."""
    if not connection.state.user.is_admin:
        raise AdminOnly("this page is for the organization's admins")


def browser_token(secret: str, browser: str) -> str:
    """The CSRF token of a browser without a session (the sign-in forms)."""
    return hmac.new(secret.encode(), b"csrf:" + browser.encode(), hashlib.sha256).hexdigest()


def new_browser_id() -> str:
    return secrets.token_urlsafe(24)


async def csrf_checked(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard on every form post: its `_csrf` field is the session's token (or, before
    sign-in, the browser cookie's). A cross-site form cannot know either."""
    if not isinstance(connection, Request) or connection.method in ("GET", "HEAD", "OPTIONS"):
        return
    request: Request[Any, Any, Any] = connection
    # the body first: a multipart form is parsed from it, and it stays cached for the
    # request's other readers (`guards.reject_nul`, the handler)
    await request.body()
    form = await request.form()
    given = form.get(CSRF_FIELD)
    user = getattr(connection.state, "user", None)
    if user is not None:
        expected = user.session.csrf
    else:
        browser = connection.cookies.get(BROWSER_COOKIE)
        if not browser:
            raise CsrfRefused("the form's token is missing or stale: reload the page")
        expected = browser_token(connection.app.state.settings.secret_key, browser)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused("the form's token is missing or stale: reload the page")
