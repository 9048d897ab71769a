"""Sending through aiosmtplib with a small pool of connections reused across messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

from events_svc import telemetry
from events_svc.settings import SmtpSettings

log = logging.getLogger("events_svc.mail.smtp")


class TransientSendError(Exception):
    """Worth retrying later: connection trouble or a 4xx reply."""


class PermanentSendError(Exception):
    """Not worth retrying: a 5xx reply."""


class NotSent(Exception):
    """The caller's last check before the message was handed over said no; nothing was sent."""


@dataclass(frozen=True, slots=True)
class SendResult:
    response: str  #: the server's reply to the message, e.g. "250 OK queued as 1234"


class SmtpPool:
    """At most `size` open connections; each send borrows one and returns it when done."""

    def __init__(self, settings: SmtpSettings, *, size: int, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(size)
        #: the last send failed for a passing reason (server away, 4xx): the worker retries
        #: a few held-back rows now and then to learn when the server is back
        self.failing = False
        #: a message was accepted after failures: rows held back by them can go at once
        self.recovered = False

    async def send(
        self,
        *,
        sender: str,
        recipient: str,
        message: bytes,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> SendResult:
        """Send one message. `before_send` runs once a connection is in hand, right before the
        message is handed over: False (or an error it raises) sends nothing. Raises
        PermanentSendError when the message needs SMTPUTF8 (a non-ASCII address in the
        envelope or the headers) and the server does not offer it."""
        started = telemetry.smtp_timer()
        try:
            result = await self._send(
                sender=sender, recipient=recipient, message=message, before_send=before_send
            )
        except TransientSendError:
            self.failing = True
            raise
        finally:
            telemetry.smtp_done(started)
        if self.failing:
            self.failing = False
            self.recovered = True
        return result

    def take_recovery(self) -> bool:
        """Whether the server came back since the last call."""
        recovered, self.recovered = self.recovered, False
        return recovered

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.use_tls,
            start_tls=True if s.start_tls else False if not s.use_tls else None,
            username=s.username,
            password=s.password,
            timeout=self.timeout,
        )

    async def _connected(self) -> tuple[aiosmtplib.SMTP, bool]:
        """An open connection and whether it was reused (may have gone stale while idle)."""
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                return client, True
        client = self._client()
        await client.connect()
        return client, False

    async def _send(
        self,
        *,
        sender: str,
        recipient: str,
        message: bytes,
        before_send: Callable[[], Awaitable[bool]] | None,
    ) -> SendResult:
        options = ["SMTPUTF8"] if _needs_smtputf8(sender, recipient, message) else []
        async with self._slots:
            for attempt in range(2):
                try:
                    client, reused = await self._connected()
                except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                    raise TransientSendError(f"cannot connect to SMTP server: {exc}") from exc
                if before_send is not None and attempt == 0:
                    try:
                        go = await before_send()
                    except BaseException:
                        self._idle.put_nowait(client)
                        raise
                    if not go:
                        self._idle.put_nowait(client)
                        raise NotSent("the last check before sending said no")
                try:
                    response = await _transaction(client, sender, recipient, message, options)
                except aiosmtplib.SMTPNotSupported as exc:
                    # nothing was sent on this connection: it stays usable
                    self._idle.put_nowait(client)
                    raise PermanentSendError(
                        f"{recipient!r} needs SMTPUTF8 (a non-ASCII address), which the SMTP"
                        f" server does not offer: {exc}"
                    ) from exc
                except ValueError as exc:  # an address aiosmtplib will not put on the wire
                    await self._discard(client, reset=True)  # MAIL may have gone: reset it
                    raise PermanentSendError(f"cannot send to {recipient!r}: {exc}") from exc
                except aiosmtplib.SMTPResponseException as exc:
                    await self._discard(client, reset=True)
                    raise _classify(exc.code, f"{exc.code} {exc.message}") from exc
                except aiosmtplib.SMTPServerDisconnected as exc:
                    await self._discard(client)
                    if reused and attempt == 0:
                        continue  # the server closed an idle connection; one fresh try
                    raise TransientSendError(f"SMTP server disconnected: {exc}") from exc
                except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                    await self._discard(client)
                    raise TransientSendError(f"SMTP error: {exc}") from exc
                self._idle.put_nowait(client)
                return SendResult(response=response.message)
        raise TransientSendError("SMTP server disconnected twice")  # pragma: no cover

    async def _discard(self, client: aiosmtplib.SMTP, *, reset: bool = False) -> None:
        """Drop a connection, or keep it after RSET when the server only refused one message."""
        if reset and client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                await client.rset()
                self._idle.put_nowait(client)
                return
        client.close()

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                await client.quit()
            client.close()


def _classify(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TransientSendError(text)
    return PermanentSendError(text)


def _needs_smtputf8(sender: str, recipient: str, message: bytes) -> bool:
    """RFC 6531: a non-ASCII local part cannot be encoded, so the envelope and the headers
    carry it as UTF-8, which only a server offering SMTPUTF8 may receive."""
    end = message.find(b"\r\n\r\n")
    head = message if end < 0 else message[:end]
    return not (sender.isascii() and recipient.isascii() and head.isascii())


async def _transaction(
    client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes, options: list[str]
) -> aiosmtplib.SMTPResponse:
    """MAIL, RCPT and DATA for one message to one recipient: what `SMTP.sendmail` does,
    without the two passes over the whole message it makes before MAIL (a regex rewriting
    every line end to count the SIZE, and parsing each address once more than MAIL and
    RCPT do): they were a tenth of a fan-out worker's CPU. Raises what `mail`, `rcpt` and
    `data` raise (each reply but the expected one as an SMTPResponseException)."""
    if client.is_ehlo_or_helo_needed:
        await _greet(client)
    if options and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    mail_options = list(options)
    if client.supports_extension("size"):
        # RFC 1870: the octets as sent, every line ending in CRLF (DATA rewrites lone ones)
        mail_options.insert(0, f"size={wire_size(message)}")
    encoding = "utf-8" if options else "ascii"
    # MAIL and RCPT as `SMTP.mail` and `rcpt` send them, without their parsing of each
    # address as an RFC 5322 address list (5-8 % of a worker's CPU): ours are bare addresses,
    # checked here against what would end the path or the command line
    extra = [option.encode("ascii") for option in mail_options]
    response = await client.execute_command(b"MAIL", b"FROM:" + _path(sender, encoding), *extra)
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)
    response = await client.execute_command(b"RCPT", b"TO:" + _path(recipient, encoding))
    if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)
    return await client.data(message)


#: what cannot stand in an SMTP path: whitespace (CR and LF among it: a second command),
#: angle brackets and quotes (aiosmtplib refuses the same), and other control characters
_NOT_IN_PATH = re.compile(r'[\s<>"\x00-\x1f\x7f]')


def _path(address: str, encoding: str) -> bytes:
    """`<address>` for MAIL FROM or RCPT TO; ValueError for an address that cannot be one."""
    if not address or _NOT_IN_PATH.search(address):
        raise ValueError(f"Address {address!r} contains characters not permitted in an SMTP path")
    return b"<" + address.encode(encoding) + b">"


def wire_size(message: bytes) -> int:
    """The message's size as DATA sends it: every lone LF or CR becomes CRLF, and a last
    line without one gets one (counted, not rewritten: our messages are CRLF throughout)."""
    crlf = message.count(b"\r\n")
    size = len(message) + (message.count(b"\n") - crlf) + (message.count(b"\r") - crlf)
    return size if message.endswith((b"\r\n", b"\n", b"\r")) else size + 2


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO for a server that does not know it (as `sendmail` does)."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()
