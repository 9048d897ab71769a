"""iMIP messages (RFC 6047): multipart/mixed > alternative (text, html, calendar) + invite.ics.

The names live in context (what a message says), bodies (text and HTML), headers and message."""

from __future__ import annotations

from events_svc.mail.context import (
    CertificateFacts,
    Links,
    MailContext,
)
from events_svc.mail.headers import (
    encode_header,
    headers,
    recipient_header,
)
from events_svc.mail.message import (
    render_message,
)

__all__ = [
    "CertificateFacts",
    "Links",
    "MailContext",
    "encode_header",
    "headers",
    "recipient_header",
    "render_message",
]
