"""What every console page shares: rendering in the shell with the signed-in organizer's
language, the navigation, the pages for refusals (sign in, 403, 404, 429), the controllers'
guards, and the handlers' preambles (the organization, the event the path names, a refused
form's errors)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from arq.connections import ArqRedis
from litestar import Controller, Request, Response
from litestar.di import Provide
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from events_svc.errors import NotFound, ServiceError, TooManyRequests, problem_response
from events_svc.events import service as events
from events_svc.events.records import EventRecord
from events_svc.events.service import event_uuid
from events_svc.web import console_text  # noqa: F401 - registers the console's texts
from events_svc.web.auth import (
    AdminOnly,
    ConsoleUser,
    CsrfRefused,
    SignInRequired,
    admin_only,
    console_session,
    csrf_checked,
    user_of_request,
)
from events_svc.web.forms import FormErrors, errors_of, say
from events_svc.web.i18n import Locale
from events_svc.web.shell import PAGE_HEADERS, base_context, reader_locale

#: the audit actions that have a text of their own ("action.<handler name>")
ACTION_KEYS = frozenset(k for k in console_text.TEXTS if k.startswith("action."))
#: (key of the text, path, admins only)
NAV = [
    ("nav.home", "/console", False),
    ("nav.events", "/console/events", False),
    ("nav.contacts", "/console/contacts", False),
    ("nav.visits", "/console/visits", False),
    ("nav.organizers", "/console/organizers", True),
    ("nav.api_keys", "/console/api-keys", True),
    ("nav.webhooks", "/console/webhooks", True),
    ("nav.agreements", "/console/agreements", True),
    ("nav.members", "/console/members", True),
]


def _provide_queue(request: Request[Any, Any, Any]) -> ArqRedis:
    queue: ArqRedis = request.app.state.arq
    return queue


#: the arq pool, for enqueueing after commit (the pages' own: `deps` is the API's sibling layer)
QUEUE = {"queue": Provide(_provide_queue, sync_to_thread=False)}


def user_of(request: Request[Any, Any, Any]) -> ConsoleUser | None:
    return getattr(request.state, "user", None)


def locale_of(request: Request[Any, Any, Any]) -> Locale:
    user = user_of(request)
    return reader_locale(request, user.organizer.locale if user else None)


def context(request: Request[Any, Any, Any], **values: Any) -> dict[str, Any]:
    locale = locale_of(request)
    user = user_of(request)
    path = request.url.path
    nav = [
        {
            "key": key,
            "href": href,
            "current": path == href or (href != "/console" and path.startswith(href + "/")),
        }
        for key, href, admin in NAV
        if user is not None and (user.is_admin or not admin)
    ]
    return {
        **base_context(request, locale),
        "user": user,
        "csrf": user.session.csrf if user else values.pop("csrf", ""),
        "nav": nav,
        "action_keys": ACTION_KEYS,
        "errors": values.pop("errors", None),
        **values,
    }


def page(
    request: Request[Any, Any, Any], template: str, *, status: int = 200, **values: Any
) -> Template:
    return Template(
        template_name=template,
        context=context(request, **values),
        headers=PAGE_HEADERS,
        status_code=status,
        media_type="text/html",
    )


def tab_page(
    request: Request[Any, Any, Any],
    template: str,
    event: EventRecord,
    *,
    tab: str,
    status: int = 200,
    **values: Any,
) -> Template:
    """One of an event's tabbed pages (invitations, answers, agenda ...)."""
    return page(request, template, status=status, tab=tab, event=event, event_id=event.id, **values)


def see_other(path: str, **kw: Any) -> Redirect:
    return Redirect(path, status_code=HTTP_303_SEE_OTHER, headers=PAGE_HEADERS, **kw)


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.endswith(".json")


def sign_in_required(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if not _wants_page(request):
        return problem_response(
            request, status=401, slug="unauthorized", title="Unauthorized", detail=str(exc)
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other("/console/sign-in?next=" + quote(here, safe=""))


def refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, key = 403, "refused.forbidden"
    if isinstance(exc, CsrfRefused):
        key = "refused.csrf"
    elif isinstance(exc, NotFound):
        status, key = 404, "refused.not_found"
    elif isinstance(exc, TooManyRequests):
        status, key = 429, "refused.too_many"
    if not _wants_page(request):
        return problem_response(
            request, status=status, slug="refused", title="Refused", detail=str(exc)
        )
    return page(request, "console/refused.html", status=status, message_key=key)


def service_error_page(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    """A service refusal no form handled (a 409 on a cancelled event ...): the message."""
    if not _wants_page(request) or exc.status not in (404, 409, 410, 422, 429):
        from events_svc.errors import service_error_handler

        return service_error_handler(request, exc)
    if exc.status == 404 or exc.status == 429:
        return refused(request, exc)
    return page(
        request,
        "console/refused.html",
        status=exc.status,
        message_key="refused.conflict",
        detail=say(exc.detail, locale_of(request)),
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    SignInRequired: sign_in_required,
    AdminOnly: refused,
    CsrfRefused: refused,
    ServiceError: service_error_page,
}


class ConsolePages(Controller):
    """A signed-in console controller: the session guard, the CSRF check on every post,
    refusals as pages, and the arq pool (`queue`) for enqueueing after commit."""

    include_in_schema = False
    guards = [console_session, csrf_checked]
    exception_handlers = EXCEPTION_HANDLERS
    dependencies = QUEUE


class AdminConsolePages(ConsolePages):
    """A console controller for the organization's admins (editors get 403)."""

    guards = [console_session, admin_only, csrf_checked]


def org_of(request: Request[Any, Any, Any]) -> uuid.UUID:
    """The signed-in organizer's organization: every console query is scoped to it."""
    return user_of_request(request).organizer.org_id


async def their_event(
    request: Request[Any, Any, Any], event_id: str
) -> tuple[uuid.UUID, EventRecord]:
    """The id and the event the path names, when the signed-in organization hosts or
    co-hosts it (a malformed, unknown or another organization's event is a 404)."""
    ident = event_uuid(event_id)
    return ident, await events.get_event(org_id=org_of(request), event_id=ident)


def form_errors(
    request: Request[Any, Any, Any],
    exc: Exception,
    *,
    known: set[str],
    rename: dict[str, str] | None = None,
) -> FormErrors:
    """A refused form's errors in the reader's language, each by the field it names."""
    return errors_of(exc, locale_of(request), known=known, rename=rename)
