"""The Litestar application: routes, lifespan (DB pool, arq pool), DI, errors, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from events_svc import __version__, apidocs, logctx, logredact, telemetry
from events_svc.availability import WATCH_EVERY, DatabaseWatch
from events_svc.contacts.controllers import ContactController
from events_svc.database import configure_database, start_database_pool
from events_svc.delegations.controllers import DelegationController
from events_svc.deliveries.controllers import DeliveryController
from events_svc.deps import SECURITY_COMPONENTS, provide_settings
from events_svc.errors import EXCEPTION_HANDLERS
from events_svc.events.controllers import EventController
from events_svc.feeds.controllers import FeedController, FeedTokenController
from events_svc.guards import invalidate_feeds_after_writes, reject_nul
from events_svc.health import healthz, readyz
from events_svc.heap import settle_heap
from events_svc.inbound.controllers import HeldReplyController, InboundController
from events_svc.invitations.controllers import InvitationController
from events_svc.jobs import redis_pool
from events_svc.metrics_http import healthz_workers, metrics, request_middleware
from events_svc.organizers.controllers import ActivityController, OrganizerController
from events_svc.orgs.controllers import OrgController
from events_svc.partnerships.controllers import PartnershipController
from events_svc.piccolo_conf import DB
from events_svc.registration.controllers import RegistrationController
from events_svc.reminders.controllers import ReminderController
from events_svc.rsvp.controllers import RsvpController
from events_svc.settings import Settings, get_settings
from events_svc.training.controllers import (
    AttendanceController,
    CertificateController,
    CompletionController,
)
from events_svc.web import routes as web_routes
from events_svc.web.audit import record_change
from events_svc.web.shell import template_config
from events_svc.webhooks.controllers import WebhookController

#: seconds a statement of the API may run: generous, so that a large invitation or import is
#: never cut short; an unresponsive database is caught by the watch (`availability`) instead
API_STATEMENT_TIMEOUT = 60.0


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _before_send(
    docs_headers: Callable[[Message, Scope], Awaitable[None]],
) -> BeforeMessageSendHookHandler:
    """One hook (Litestar awaits every hook for every message): a read concerns only the API
    docs' headers; a change forgets feed validators and leaves its audit entry."""

    async def before_send(message: Message, scope: Scope) -> None:
        if scope.get("method") in _SAFE_METHODS:
            await docs_headers(message, scope)
            return
        await invalidate_feeds_after_writes(message, scope)
        await record_change(message, scope)

    return before_send


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_database(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Pools are made once per process; start-up fails loudly when a service is missing.
        await start_database_pool(
            max_size=settings.db_pool_size,
            connect_timeout=settings.db_timeout,
            command_timeout=API_STATEMENT_TIMEOUT,
        )
        app.state.arq = await redis_pool(settings.redis_url, command_timeout=settings.redis_timeout)
        # a frozen database is noticed within DB_TIMEOUT_SECONDS; requests then get a 503
        watch = DatabaseWatch(
            settings.database_url, timeout=max(settings.db_timeout - WATCH_EVERY, 0.2)
        )
        watch.start()
        app.state.database_watch = watch
        settle_heap()
        try:
            yield
        finally:
            await watch.stop()
            await app.state.arq.aclose()
            await DB.close_connection_pool()

    route_handlers: list[object] = [
        healthz,
        readyz,
        healthz_workers,
        metrics,
        DeliveryController,
        OrgController,
        OrganizerController,
        ActivityController,
        ContactController,
        EventController,
        InvitationController,
        RegistrationController,
        ReminderController,
        PartnershipController,
        DelegationController,
        FeedController,
        FeedTokenController,
        RsvpController,
        AttendanceController,  # answers (GET, rsvp) and training check-ins (POST)
        CompletionController,
        CertificateController,
        WebhookController,
        InboundController,
        HeldReplyController,
        *web_routes.ROUTES,  # the console, its sign-in, the shell's assets and language switch
    ]
    if settings.dev_mail_dir:
        from events_svc.dev.mailviews import MailCatcherController

        route_handlers.append(MailCatcherController)

    app = Litestar(
        route_handlers=route_handlers,  # type: ignore[arg-type]
        lifespan=[lifespan],
        dependencies={"settings": Provide(provide_settings, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=reject_nul,
        # request ids, access lines, metrics, and 503s while the database does not answer
        middleware=[request_middleware],
        before_send=[_before_send(apidocs.docs_headers("/schema"))],
        request_max_body_size=settings.max_body_bytes,
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="events-svc",
            version=__version__,
            description=(
                "Events, iMIP invitations, reminders and calendar feeds for professional "
                "associations. Errors are RFC 9457 problem documents."
            ),
            path="/schema",
            components=SECURITY_COMPONENTS,
            # Swagger UI from the app's own files: the docs work offline (apidocs.py)
            render_plugins=apidocs.render_plugins(),
        ),
        debug=False,
        logging_config=logctx.litestar_logging_config(settings.log_format),
    )
    app.state.settings = settings
    telemetry.configure(on=settings.metrics, access_log=settings.log_format == "json")
    # capability URLs out of every log line: after Litestar's logging config (made above) and
    # uvicorn's (made before it loads the app), so their handlers have the filter too
    logredact.install()
    return app
