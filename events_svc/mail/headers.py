"""Message headers: RFC 2047 encoded words and address lines, cached per value."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, quote
from functools import lru_cache

from events_svc.mail.bodies import _single_line, _subject_key
from events_svc.mail.context import SMTP_POLICY, MailContext
from events_svc.mail.i18n import short_when, t


def headers(ctx: MailContext, *, now: datetime) -> list[tuple[str, str]]:
    """The top-level headers that carry user text or dates, before encoding (the address
    headers are written by `address_header`)."""
    title = _single_line(ctx.event.title)
    subject = t(
        _subject_key(ctx), ctx.locale, title=title, when=short_when(ctx.event.starts_at, ctx.locale)
    )
    return [
        ("Subject", subject),
        ("Date", format_datetime(now.replace(microsecond=0))),
        ("Content-Language", ctx.locale),
        ("X-Notification-Kind", ctx.kind),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),  # no Outlook out-of-office replies to robots
        ("MIME-Version", "1.0"),
    ]


def recipient_header(name: str, address: str) -> bytes:
    """The To line, different in every message of a fan-out, so not worth caching."""
    return _address_line("To", name, address)


#: characters that make a display name a quoted string (RFC 5322 specials)
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


@lru_cache(maxsize=1024)
def address_header(name: str, display: str, address: str) -> bytes:
    """An address header (From, Reply-To) as one line; cached, because a fan-out repeats
    the organization's."""
    return _address_line(name, display, address)


def _address_line(name: str, display: str, address: str) -> bytes:
    """`Name: display <address>` written so that every client shows `display` literally.

    A display name is RFC 2047 encoded when it is not plain short ASCII, and also when it
    merely contains `=?`: clients decode encoded words even inside quoted strings, so a name
    such as `=?utf-8?q?Bank_=3Cceo@bank.example=3E?=` would show as other text (another
    address, even). Encoded, it decodes to exactly the text given. Built by hand rather than
    with formataddr or the policy, which both leave such a name as it is. An address with a
    non-ASCII local part cannot be encoded: that header is UTF-8 (RFC 6532), and the sender
    then needs SMTPUTF8 from the server.
    """
    if not address or _NOT_IN_ADDRESS.search(address):
        raise ValueError(f"{address!r} cannot be written in a {name} header")
    text = _single_line(display)
    if not text:
        line = f"{name}: {address}"
    else:
        phrase = f'"{quote(text)}"' if _SPECIALS.search(text) else text
        line = f"{name}: {phrase} <{address}>"
        if "=?" in text or not text.isascii() or len(line) > 78:
            line = f"{name}: {encoded_words(text)} <{address}>"
    return line.encode() + b"\r\n"


#: whitespace (str.isspace's, CR and LF among it), angle brackets, quotes, control characters
_NOT_IN_ADDRESS = re.compile(r'[\s<>"\x00-\x1f]')
#: UTF-8 bytes in one encoded word: its base64 is 60 characters, the word 72 (RFC 2047: 75)
_WORD_BYTES = 45


def encoded_words(text: str) -> str:
    """`text` as RFC 2047 base64 encoded words, each holding whole characters, one per
    folded line: what email.header.Header writes, at a tenth of its cost (the To line is
    different in every message of a fan-out)."""
    data = text.encode()
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never inside a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode()}?=")
        start = end
    return "\r\n ".join(words)


@lru_cache(maxsize=4096)
def encode_header(name: str, value: str) -> bytes:
    """One header line as the email package writes it: refuses CR/LF in the value, RFC 2047
    encodes non-ASCII without splitting a character, folds at 78. Cached, because a fan-out
    repeats From, Reply-To and Subject thousands of times and parsing them is the slow part.

    Text holding `=?` is encoded as a whole: the policy would decode what looks like an
    encoded word in it (a title `=?utf-8?q?=3Cx=3E?=` would be sent as `<x>`)."""
    if "=?" in value:
        if "\r" in value or "\n" in value:
            raise ValueError("header values must not contain a carriage return or linefeed")
        words = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
        return f"{name}: {words}\r\n".encode()
    _name, parsed = SMTP_POLICY.header_store_parse(name, value)
    return SMTP_POLICY.fold_binary(name, parsed)
