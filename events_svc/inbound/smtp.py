"""`events-svc inbound-smtp`: an SMTP listener (aiosmtpd) that hands every message it receives
to the inbound service, for self-hosting without a mail provider's inbound hook."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiosmtpd.smtp import SMTP, Envelope, Session
from arq.connections import ArqRedis

from events_svc.database import configure_database, start_database_pool
from events_svc.errors import ServiceError
from events_svc.inbound import service
from events_svc.inbound.parser import MAX_MESSAGE_BYTES
from events_svc.jobs import redis_pool
from events_svc.piccolo_conf import DB
from events_svc.settings import Settings

log = logging.getLogger("events_svc.inbound")


class InboundHandler:
    """aiosmtpd handler. Junk is accepted and dropped (250), so senders do not retry it; only a
    failure on our side (the database, a bug) asks the sending server to try again (451)."""

    def __init__(self, queue: ArqRedis | None, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        try:
            result = await service.handle_message(
                raw=raw,
                queue=self.queue,
                recipients=list(envelope.rcpt_tos),  # RCPT TO: where the reply was sent
                settings=self.settings,
            )
        except ServiceError as exc:
            if exc.status == 413:  # aiosmtpd refuses most of these itself, from SIZE and DATA
                return "552 5.3.4 Message too big"
            if exc.status >= 500:
                return "451 4.3.0 Temporarily unable to process the message; try again later"
            return "250 2.6.0 Not a calendar reply; dropped"  # the service logged why
        except Exception:
            log.exception("inbound message failed; the sender will retry")
            return "451 4.3.0 Temporarily unable to process the message; try again later"
        held = f", {len(result.held)} held for the organizer" if result.held else ""
        return f"250 2.0.0 {result.applied} of {result.replies} answers applied{held}"


async def serve(*, settings: Settings, host: str, port: int) -> None:
    """Listen until SIGINT or SIGTERM; the database and Redis pools live as long."""
    # aiosmtpd logs every connection at INFO; the outcome lines of the service are the record
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    configure_database(settings)
    await start_database_pool(
        max_size=5, connect_timeout=settings.db_timeout, command_timeout=settings.db_timeout
    )
    queue = await redis_pool(settings.redis_url, command_timeout=settings.redis_timeout)
    handler = InboundHandler(queue, settings)
    loop = asyncio.get_running_loop()
    # the server runs on this loop (not in aiosmtpd's Controller thread), next to the pools
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            hostname=settings.public_host,
            ident="events-svc inbound",
        ),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("inbound SMTP listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await queue.aclose()
        await DB.close_connection_pool()
        log.info("inbound SMTP stopped")
