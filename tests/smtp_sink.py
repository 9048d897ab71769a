"""A real SMTP server for the tests (aiosmtpd), keeping what arrives for inspection."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    #: when the message was accepted (time.monotonic), for tests that measure a send rate
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    #: recipients refused with this reply, e.g. {"bounce@x.org": "550 5.1.1 no such user"}
    refuse: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(
            Received(
                sender=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
            )
        )
        return f"250 2.0.0 OK queued as {len(self.received)}"


class SmtpSink:
    """Listens on 127.0.0.1:`port`; can be stopped and started again to simulate an outage."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = _Handler()
        self._controller: Controller | None = None
        #: offer SMTPUTF8 in the EHLO reply (aiosmtpd's default, like many relays', is not to)
        self.smtputf8 = False

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(
                self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8
            )
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self, *, smtputf8: bool) -> None:
        """Listen again, offering SMTPUTF8 or not."""
        self.stop()
        self.smtputf8 = smtputf8
        self.start()

    def clear(self) -> None:
        self.handler.received.clear()
        self.handler.refuse.clear()
        self.handler.delay = 0.0

    def for_recipient(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.recipients)]

    def wait_for(self, count: int, within: float = 60.0) -> list[Received]:
        """Block (from another thread's point of view) until `count` messages have arrived."""
        deadline = time.monotonic() + within
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)
