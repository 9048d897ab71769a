"""The whole iMIP message as bytes: parts, encodings, and bodies rendered once per fan-out
with per-person links spliced in."""

from __future__ import annotations

import binascii
import html
import quopri
import uuid
from dataclasses import replace
from datetime import datetime
from email.utils import make_msgid
from functools import lru_cache

from events_svc.mail.bodies import QR_CID_SLOT, html_body, shows_qr, text_body
from events_svc.mail.context import MailContext
from events_svc.mail.headers import address_header, encode_header, headers, recipient_header
from events_svc.mail.qr import qr_png


def _base64(data: bytes) -> bytes:
    """Base64 in 76-character lines ending in CRLF, as RFC 2045 wants (encodebytes would
    encode line by line and end them with LF, to be rewritten: twice the work)."""
    if not data:
        return b""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


_HIGH_BYTES = bytes(range(128, 256))


def _text_part(subtype: str, text: str) -> bytes:
    """A text part: quoted-printable for mostly-ASCII text, base64 for mostly-CJK text
    (the shorter of the two, as the email package itself would choose)."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    non_ascii = len(data) - len(data.translate(None, _HIGH_BYTES))
    if non_ascii * 3 > len(data):
        cte, body = "base64", _base64(data)
    else:
        cte, body = "quoted-printable", quopri.encodestring(data).replace(b"\n", b"\r\n")
    head = f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n"
    return head.encode() + b"\r\n" + body


def render_message(ctx: MailContext, *, now: datetime) -> tuple[bytes, str]:
    """The whole e-mail as bytes (CRLF line ends) and its Message-ID.

    multipart/mixed
      multipart/alternative: text/plain, text/html, text/calendar; method=...; charset=UTF-8
      application/ics (invite.ics, the same calendar, for clients that read only attachments)

    Without a calendar (reminders and news), multipart/alternative is the whole message; a
    reminder's HTML is a multipart/related with the person's check-in QR code (image/png).

    The parts below the top-level headers hold only constant ASCII headers and encoded
    bodies, so they are written directly: building them as EmailMessage objects cost
    about 4 ms a message, five times everything else together.
    """
    token = uuid.uuid4().hex
    mixed, alternative = f"mixed-{token}", f"alt-{token}"
    message_id = (
        f"<{ctx.message_key}@{ctx.message_id_domain}>"
        if ctx.message_key
        else make_msgid(domain=ctx.message_id_domain)
    )
    org = ctx.org_name
    header_block = address_header("From", org, ctx.mail_from)
    header_block += address_header("Reply-To", org, ctx.org_email)
    header_block += b"".join(encode_header(name, value) for name, value in headers(ctx, now=now))
    header_block += recipient_header(ctx.recipient_name, ctx.recipient_email)
    # ASCII that we generate, with no user text in it
    header_block += f"Message-ID: {message_id}\r\n".encode()
    crlf = b"\r\n"
    cid = f"check-in-qr.{token}@{ctx.message_id_domain or 'events-svc.invalid'}"
    plain, html_part = _personal_bodies(ctx, cid=cid)
    if shows_qr(ctx) and ctx.links.checkin:
        # the HTML and its QR code image, which it names by Content-ID (RFC 2387, RFC 2392)
        related = f"rel-{token}"
        html_part = b"".join(
            [
                f'Content-Type: multipart/related; type="text/html"; boundary="{related}"\r\n'
                "\r\n".encode(),
                f"--{related}\r\n".encode(),
                html_part,
                crlf,
                f"--{related}\r\n".encode(),
                b"Content-Type: image/png\r\n",
                b"Content-Transfer-Encoding: base64\r\n",
                f"Content-ID: <{cid}>\r\n".encode(),
                b'Content-Disposition: inline; filename="check-in.png"\r\n\r\n',
                _base64(ctx.checkin_png or qr_png(ctx.links.checkin)),
                f"--{related}--\r\n".encode(),
            ]
        )
    text_parts = [
        f"--{alternative}\r\n".encode(),
        plain,
        crlf,
        f"--{alternative}\r\n".encode(),
        html_part,
        crlf,
    ]
    if ctx.method is None:
        # text and HTML only: multipart/alternative is the whole message
        header_block += (
            f'Content-Type: multipart/alternative; boundary="{alternative}"\r\n'.encode()
        )
        body = b"".join([*text_parts, f"--{alternative}--\r\n".encode()])
        return header_block + crlf + body, message_id
    header_block += f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n'.encode()
    ics64 = _base64(ctx.ics)
    body = b"".join(
        [
            b"This is a multi-part message in MIME format.\r\n",
            f"--{mixed}\r\n".encode(),
            f'Content-Type: multipart/alternative; boundary="{alternative}"\r\n\r\n'.encode(),
            *text_parts,
            f"--{alternative}\r\n".encode(),
            # Base64, as Exchange sends it: no line over 998 octets and UTF-8 intact through
            # 7-bit relays. method= equals METHOD inside the calendar (RFC 6047 section 2.4).
            f'Content-Type: text/calendar; method="{ctx.method}"; charset="UTF-8"\r\n'.encode(),
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            ics64,
            f"--{alternative}--\r\n".encode(),
            crlf,
            f"--{mixed}\r\n".encode(),
            b'Content-Type: application/ics; name="invite.ics"\r\n',
            b'Content-Disposition: attachment; filename="invite.ics"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            ics64,
            f"--{mixed}--\r\n".encode(),
        ]
    )
    return header_block + crlf + body, message_id


#: stand-ins for a recipient's own feed links in the cached bodies, replaced per message
_FEED_HTTPS_SLOT = "https://feed.invalid/personal-feed"
_FEED_WEBCAL_SLOT = "webcal://feed.invalid/personal-feed"
_FEED_ROTATE_SLOT = "https://rotate.invalid/personal-feed-link"
_RSVP_SLOT = "https://rsvp.invalid/personal-answer"
_CHECKIN_SLOT = "https://check-in.invalid/personal"


def _body_key(ctx: MailContext) -> MailContext:
    """The context without what differs between recipients: the key of the body cache."""
    links = ctx.links
    if links.feed_https:
        links = replace(
            links,
            feed_https=_FEED_HTTPS_SLOT,
            feed_webcal=_FEED_WEBCAL_SLOT if links.feed_webcal else None,
            feed_rotate=_FEED_ROTATE_SLOT if links.feed_rotate else None,
        )
    if links.rsvp:
        links = replace(links, rsvp=_RSVP_SLOT)
    if links.checkin:
        links = replace(links, checkin=_CHECKIN_SLOT)  # the body names the image, not the URL
    return replace(
        ctx,
        recipient_email="",
        recipient_name="",
        ics=b"",
        message_id_domain="",
        message_key="",
        checkin_png=b"",
        links=links,
    )


def _personal_bodies(ctx: MailContext, *, cid: str) -> tuple[bytes, bytes]:
    """The encoded text and HTML parts; a recipient's feed links (and the QR image's
    Content-ID) go into the shared texts (rendering those is the costly part, encoding is
    cheap)."""
    key = _body_key(ctx)
    personal = [
        (slot, value)
        for slot, value in (
            (_FEED_HTTPS_SLOT, ctx.links.feed_https),
            (_FEED_WEBCAL_SLOT, ctx.links.feed_webcal),
            (_FEED_ROTATE_SLOT, ctx.links.feed_rotate),
            (_RSVP_SLOT, ctx.links.rsvp),
            (QR_CID_SLOT, cid if shows_qr(ctx) else None),
        )
        if value
    ]
    if not personal:
        return _bodies(key)
    plain, rich = _texts(key)
    for slot, value in personal:
        plain = plain.replace(slot, value)
        rich = rich.replace(slot, html.escape(value))
    return _text_part("plain", plain), _text_part("html", rich)


@lru_cache(maxsize=256)
def _texts(ctx: MailContext) -> tuple[str, str]:
    return text_body(ctx), html_body(ctx)


@lru_cache(maxsize=256)
def _bodies(ctx: MailContext) -> tuple[bytes, bytes]:
    """The encoded text/plain and text/html parts, the same for every recipient of a fan-out
    with the same language and role."""
    plain, rich = _texts(ctx)
    return _text_part("plain", plain), _text_part("html", rich)
