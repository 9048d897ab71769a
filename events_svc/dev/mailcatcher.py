"""A mail catcher for development: an aiosmtpd server that keeps each message as an .eml file."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _SaveHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        data = envelope.original_content or b""
        rcpts = ", ".join(envelope.rcpt_tos)
        # The envelope recipients are kept as a header, as mail catchers usually do.
        header = f"X-Envelope-To: {rcpts}\r\nX-Envelope-From: {envelope.mail_from}\r\n".encode()
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(header + data)
        tmp.rename(self.folder / name)  # atomic: readers never see half a message
        return "250 Message accepted for delivery"


class MailCatcher:
    """Runs in a thread of the calling process; `port` is where it listens on 127.0.0.1."""

    def __init__(self, folder: Path, *, port: int) -> None:
        # aiosmtpd logs every connection at INFO; the mail catcher page is the record here
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port
        self._controller: Any = Controller(
            _SaveHandler(folder), hostname="127.0.0.1", port=port, data_size_limit=50 * 1024 * 1024
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
