"""A short mail whose point is one link (a sign-in link, a registration's confirmation):
plain text, and HTML with the link as a button; built the same way for every side mail
(pure: no database)."""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid


def link_message(
    *,
    kind: str,
    locale: str,
    subject: str,
    text: str,
    link: str,
    button: str,
    email: str,
    mail_from: str,
    now: datetime,
) -> bytes:
    """The whole message, with CRLF line ends (`email.policy.SMTP`); `text`'s paragraphs
    (blank-line separated) are the HTML's, but for the bare link, which becomes `button`."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = subject
    msg["From"] = Address(addr_spec=mail_from)
    msg["To"] = Address(addr_spec=email)
    msg["Date"] = format_datetime(now.replace(microsecond=0))
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    msg["Content-Language"] = locale
    msg["X-Notification-Kind"] = kind
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text)
    paragraphs = "".join(
        f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip() and p.strip() != link
    )
    msg.add_alternative(
        f'<!doctype html><html lang="{locale}"><body>{paragraphs}'
        f'<p><a href="{html.escape(link)}">{button}</a></p></body></html>',
        subtype="html",
    )
    return msg.as_bytes()
