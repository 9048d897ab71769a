"""The Litestar application: routes, lifespan (DB pool, arq pool), DI, errors, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from arq import create_pool
from arq.connections import RedisSettings
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from events_svc import __version__
from events_svc.contacts.controllers import ContactController
from events_svc.delegations.controllers import DelegationController
from events_svc.deps import SECURITY_COMPONENTS, provide_settings
from events_svc.errors import EXCEPTION_HANDLERS
from events_svc.events.controllers import EventController
from events_svc.feeds.controllers import FeedController, FeedTokenController
from events_svc.guards import invalidate_feeds_after_writes, reject_nul
from events_svc.health import healthz, readyz
from events_svc.inbound.controllers import HeldReplyController, InboundController
from events_svc.invitations.controllers import InvitationController
from events_svc.orgs.controllers import OrgController
from events_svc.partnerships.controllers import PartnershipController
from events_svc.piccolo_conf import DB
from events_svc.reminders.controllers import ReminderController
from events_svc.rsvp.controllers import RsvpController
from events_svc.settings import Settings, get_settings
from events_svc.training.controllers import (
    AttendanceController,
    CertificateController,
    CompletionController,
)
from events_svc.webhooks.controllers import WebhookController


def configure_database(settings: Settings) -> None:
    """Point Piccolo's engine at DATABASE_URL (settings are the one source of truth)."""
    DB.config["dsn"] = settings.database_url


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Run on each release to the pool instead of asyncpg's default reset.

    The default sends `RESET ALL; UNLISTEN *; ...` on every release, a round trip per query;
    the service keeps no session state, so only an unfinished transaction needs undoing.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def start_database_pool(*, max_size: int) -> None:
    await DB.start_connection_pool(min_size=1, max_size=max_size, reset=_reset_connection)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_database(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Pools are made once per process; start-up fails loudly when a service is missing.
        await start_database_pool(max_size=20)
        app.state.arq = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        try:
            yield
        finally:
            await app.state.arq.aclose()
            await DB.close_connection_pool()

    route_handlers: list[object] = [
        healthz,
        readyz,
        OrgController,
        ContactController,
        EventController,
        InvitationController,
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
        before_send=[invalidate_feeds_after_writes],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="events-svc",
            version=__version__,
            description=(
                "Events, iMIP invitations, reminders and calendar feeds for professional "
                "associations. Errors are RFC 9457 problem documents."
            ),
            path="/schema",
            components=SECURITY_COMPONENTS,
            render_plugins=[SwaggerRenderPlugin(path="/"), ScalarRenderPlugin(path="/scalar")],
        ),
        debug=False,
    )
    app.state.settings = settings
    return app
