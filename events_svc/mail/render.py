"""iMIP messages (RFC 6047): multipart/mixed > alternative (text, html, calendar) + invite.ics."""

from __future__ import annotations

import base64
import email.policy
import html
import quopri
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, make_msgid, quote
from functools import lru_cache
from typing import Literal

from events_svc.calendar.ics import AgendaEntry, EventData, itinerary_lines, span
from events_svc.mail.i18n import (
    Locale,
    date_range,
    recurrence,
    series_exceptions,
    short_when,
    t,
    when,
)

#: CRLF line ends and RFC 2047 encoded words; `as_bytes()` with the default policy writes bare LF
SMTP_POLICY = email.policy.SMTP
Kind = Literal[
    "invitation",
    "update",
    "cancellation",
    "reminder",
    "waitlist-promoted",
    "agenda",
    "certificate",
    "feed-link",
]
RSVP_ANSWERS = ("accepted", "tentative", "declined")


@dataclass(frozen=True, slots=True)
class Links:
    ics: str  #: the event's .ics file
    feed_https: str | None = None  #: the person's calendar feed, once feeds exist
    feed_webcal: str | None = None
    #: the person's own link to give their feed a new address (next to the feed link)
    feed_rotate: str | None = None
    rsvp: str | None = None  #: the person's RSVP page (answers as ?response=...)


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What a training certificate states, for its e-mail."""

    url: str  #: the public verification page
    person_name: str
    hours: float
    sessions_attended: int
    sessions_total: int
    first_session: datetime  #: local start of the first attended session
    last_session: datetime


@dataclass(frozen=True, slots=True)
class MailContext:
    """Everything one message says; built by the notifications service from the database."""

    kind: Kind
    uninvited: bool  #: a cancellation because this person was removed, not the event
    locale: Locale
    event: EventData
    org_name: str
    org_email: str
    mail_from: str
    recipient_email: str
    recipient_name: str
    role: str
    note: str  #: the organizer's message (invitations only)
    links: Links
    method: Literal["REQUEST", "CANCEL"] | None  #: None: a message without a calendar part
    ics: bytes
    message_id_domain: str
    #: an agenda update: what changed since the person's last message ("new", entry), ...
    agenda_changes: tuple[tuple[str, AgendaEntry], ...] = ()
    #: a certificate message: what the certificate states, instead of the event's times
    certificate: CertificateFacts | None = None
    #: makes the Message-ID: the notification row's id, so that a message sent again after a
    #: crash between the SMTP reply and its record is the same message (receivers such as
    #: Gmail keep one copy per Message-ID); empty: a fresh one
    message_key: str = ""


def _single_line(value: str) -> str:
    # Display names end up in headers; a CR/LF there must never make a header or recipient.
    return " ".join(value.split())


def _rows(ctx: MailContext) -> list[tuple[str, str, bool]]:
    """(label, value, is_link) rows shown in both the text and the HTML body."""
    ev, loc = ctx.event, ctx.locale
    if ctx.certificate is not None:
        return certificate_rows(ctx.certificate, issuers=ctx.org_name, locale=loc)
    rows: list[tuple[str, str, bool]] = [
        (t("label.when", loc), when(ev.starts_at, ev.ends_at, ev.timezone, loc), False)
    ]
    repeats = recurrence(ev.recurrence, ev.timezone, loc)
    if repeats:
        rows.append((t("label.repeats", loc), repeats, False))
    if ev.location:
        rows.append((t("label.where", loc), ev.location, False))
    if ev.online_url and ctx.method != "CANCEL":
        rows.append((t("label.online", loc), ev.online_url, True))
    if ctx.method == "REQUEST":
        rows.append((t("label.role", loc), t(f"role.{ctx.role}", loc), False))
    return rows


def certificate_rows(
    facts: CertificateFacts, *, issuers: str, locale: Locale
) -> list[tuple[str, str, bool]]:
    """A certificate's rows: holder, hours, sessions, dates, issuers and its public link."""
    loc = locale
    return [
        (t("label.holder", loc), facts.person_name, False),
        (t("label.hours", loc), t("value.hours", loc, hours=f"{facts.hours:.1f}"), False),
        (
            t("label.sessions", loc),
            t(
                "value.sessions",
                loc,
                attended=str(facts.sessions_attended),
                total=str(facts.sessions_total),
            ),
            False,
        ),
        (t("label.dates", loc), date_range(facts.first_session, facts.last_session, loc), False),
        (t("label.issuers", loc), issuers, False),
        (t("label.verify", loc), facts.url, True),
    ]


def _session_line(entry: AgendaEntry, ev: EventData, loc: Locale) -> str:
    """'09:30–10:30 开幕式 · 一号厅 — 主讲：王芳' in the reader's language."""
    one_day = len({a.starts_at.date() for a in ev.agenda}) <= 1
    when = span(entry.starts_at, entry.ends_at, one_day=one_day)
    line = f"{when} {entry.title}" + (f" · {entry.room}" if entry.room else "")
    if entry.speakers:
        sep = "：" if loc == "zh-CN" else ": "
        people = ("、" if loc == "zh-CN" else ", ").join(
            f"{t(f'role.{sp.role}', loc)}{sep}{sp.name or sp.email}" for sp in entry.speakers
        )
        line += f" — {people}"
    return line


def _exceptions(ctx: MailContext) -> list[str]:
    """A series' cancelled and moved occurrences, as the attached calendar has them."""
    ev = ctx.event
    if not ev.recurrence or ctx.certificate is not None:
        return []
    length = ev.ends_at - ev.starts_at
    moved = [
        (o.recurrence_id, o.starts_at, o.ends_at)
        for o in ev.overrides
        if o.recurrence_id is not None
        and o.recurrence_id not in ev.exdates
        and (o.starts_at != o.recurrence_id or o.ends_at - o.starts_at != length)
    ]
    return series_exceptions(ev.exdates, moved, ctx.locale)


def _shows_programme(ctx: MailContext) -> bool:
    """Invitations, updates and reminders show what the event holds; other mail does not."""
    return ctx.method == "REQUEST" or ctx.kind == "reminder"


def _subject_key(ctx: MailContext) -> str:
    return "subject.uninvited" if ctx.uninvited else f"subject.{ctx.kind}"


def _hint_key(ctx: MailContext) -> str:
    if ctx.kind in ("waitlist-promoted", "certificate", "feed-link"):
        return f"hint.{ctx.kind}"
    return {"REQUEST": "hint.invitation", "CANCEL": "hint.cancellation"}.get(
        ctx.method or "", "hint.reminder"
    )


def _intro_key(ctx: MailContext) -> str:
    return "intro.uninvited" if ctx.uninvited else f"intro.{ctx.kind}"


def text_body(ctx: MailContext) -> str:
    loc, ev = ctx.locale, ctx.event
    sep = "：" if loc == "zh-CN" else ": "
    lines = [t(_intro_key(ctx), loc, org=ctx.org_name), "", ev.title, ""]
    lines += [f"{label}{sep}{value}" for label, value, _ in _rows(ctx)]
    exceptions = _exceptions(ctx)
    if exceptions:
        lines += ["", f"{t('label.exceptions', loc)}{sep}", *(f"  {x}" for x in exceptions)]
    if ctx.note.strip():
        lines += ["", f"{t('label.note', loc)}{sep}", ctx.note.strip()]
    if ctx.agenda_changes:
        lines += ["", f"{t('label.changes', loc)}{sep}"]
        lines += [
            f"  {t(f'change.{what}', loc)}{sep}{_session_line(entry, ev, loc)}"
            for what, entry in ctx.agenda_changes
        ]
    if ev.description.strip() and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        lines += ["", f"{t('label.details', loc)}{sep}", ev.description.strip()]
    if ev.itinerary and _shows_programme(ctx):
        lines += ["", f"{t('label.itinerary', loc)}{sep}"]
        lines += [f"  {line}" for line in itinerary_lines(ev.itinerary)]
    if ev.agenda and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        lines += ["", f"{t('label.agenda', loc)}{sep}"]
        lines += [f"  {_session_line(entry, ev, loc)}" for entry in ev.agenda]
    if ctx.links.rsvp:
        lines += ["", f"{t('label.rsvp', loc)}{sep}"]
        lines += [
            f"  {t(f'rsvp.{answer}', loc)}: {ctx.links.rsvp}?response={answer}"
            for answer in RSVP_ANSWERS
        ]
    lines += ["", f"{t('label.ics', loc)}{sep}{ctx.links.ics}"]
    if ctx.links.feed_https:
        lines.append(f"{t('label.feed', loc)}{sep}{ctx.links.feed_https}")
        if ctx.links.feed_webcal:
            lines.append(f"webcal{sep}{ctx.links.feed_webcal}")
        if ctx.links.feed_rotate:
            lines.append(f"{t('label.feed_rotate', loc)}{sep}{ctx.links.feed_rotate}")
    lines += ["", t(_hint_key(ctx), loc), "", "-- ", t("footer", loc, org=ctx.org_name)]
    return "\n".join(lines) + "\n"


def html_body(ctx: MailContext) -> str:
    loc, ev = ctx.locale, ctx.event
    e = html.escape

    def cell(value: str, is_link: bool) -> str:
        return f'<a href="{e(value)}">{e(value)}</a>' if is_link else e(value)

    th = "text-align:left;padding:4px 12px 4px 0;color:#555;white-space:nowrap;vertical-align:top"
    rows = "".join(
        f'<tr><th style="{th}">{e(label)}</th>'
        f'<td style="padding:4px 0">{cell(value, link)}</td></tr>'
        for label, value, link in _rows(ctx)
    )
    blocks = [
        f"<p>{e(t(_intro_key(ctx), loc, org=ctx.org_name))}</p>",
        f'<h2 style="margin:8px 0 12px">{e(ev.title)}</h2>',
        f'<table style="border-collapse:collapse">{rows}</table>',
    ]
    exceptions = _exceptions(ctx)
    if exceptions:
        items = "".join(f"<li>{e(x)}</li>" for x in exceptions)
        blocks.append(f"<h3>{e(t('label.exceptions', loc))}</h3><ul>{items}</ul>")
    if ctx.note.strip():
        blocks.append(
            f"<h3>{e(t('label.note', loc))}</h3>"
            f'<p style="white-space:pre-wrap">{e(ctx.note.strip())}</p>'
        )
    if ctx.agenda_changes:
        items = "".join(
            f"<li><strong>{e(t(f'change.{what}', loc))}</strong> "
            f"{e(_session_line(entry, ev, loc))}</li>"
            for what, entry in ctx.agenda_changes
        )
        blocks.append(f"<h3>{e(t('label.changes', loc))}</h3><ul>{items}</ul>")
    if ev.agenda and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        items = "".join(f"<li>{e(_session_line(entry, ev, loc))}</li>" for entry in ev.agenda)
        blocks.append(f"<h3>{e(t('label.agenda', loc))}</h3><ul>{items}</ul>")
    if ev.description.strip() and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        blocks.append(
            f"<h3>{e(t('label.details', loc))}</h3>"
            f'<p style="white-space:pre-wrap">{e(ev.description.strip())}</p>'
        )
    if ev.itinerary and _shows_programme(ctx):
        items = "".join(f"<li>{e(line)}</li>" for line in itinerary_lines(ev.itinerary))
        blocks.append(f"<h3>{e(t('label.itinerary', loc))}</h3><ul>{items}</ul>")
    if ctx.links.rsvp:
        button = (
            "display:inline-block;padding:8px 16px;margin:0 8px 8px 0;border-radius:6px;"
            "text-decoration:none;color:#fff;background:{}"
        )
        colours = {"accepted": "#1a7f37", "tentative": "#9a6700", "declined": "#cf222e"}
        buttons = "".join(
            f'<a style="{button.format(colours[answer])}" '
            f'href="{e(ctx.links.rsvp)}?response={answer}">{e(t(f"rsvp.{answer}", loc))}</a>'
            for answer in RSVP_ANSWERS
        )
        blocks.append(f"<p><strong>{e(t('label.rsvp', loc))}</strong></p><p>{buttons}</p>")
    links = [f'<a href="{e(ctx.links.ics)}">{e(t("label.ics", loc))}</a>']
    if ctx.links.feed_https:
        links.append(f'<a href="{e(ctx.links.feed_https)}">{e(t("label.feed", loc))}</a>')
        if ctx.links.feed_webcal:
            links.append(f'<a href="{e(ctx.links.feed_webcal)}">webcal</a>')
        if ctx.links.feed_rotate:
            links.append(
                f'<a href="{e(ctx.links.feed_rotate)}">{e(t("label.feed_rotate", loc))}</a>'
            )
    blocks.append(f"<p>{' · '.join(links)}</p>")
    blocks.append(f'<p style="color:#555">{e(t(_hint_key(ctx), loc))}</p>')
    blocks.append(
        f'<p style="color:#888;font-size:12px">{e(t("footer", loc, org=ctx.org_name))}</p>'
    )
    lang = "zh-CN" if loc == "zh-CN" else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(ev.title)}</title></head>"
        f"<body style=\"font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
        f'font-size:15px;line-height:1.5;color:#222">{"".join(blocks)}</body></html>'
    )


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
    if not address or any(ch.isspace() or ch in '<>"' or ord(ch) < 32 for ch in address):
        raise ValueError(f"{address!r} cannot be written in a {name} header")
    text = _single_line(display)
    if not text:
        line = f"{name}: {address}"
    else:
        phrase = f'"{quote(text)}"' if _SPECIALS.search(text) else text
        line = f"{name}: {phrase} <{address}>"
        if "=?" in text or not text.isascii() or len(line) > 78:
            words = Header(text, "utf-8", header_name=name).encode(linesep="\r\n")
            line = f"{name}: {words} <{address}>"
    return line.encode() + b"\r\n"


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


def _base64(data: bytes) -> bytes:
    # 76-character lines, as RFC 2045 wants; encodebytes ends lines with LF only
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


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
    plain, html_part = _personal_bodies(ctx)
    crlf = b"\r\n"
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
    return replace(
        ctx,
        recipient_email="",
        recipient_name="",
        ics=b"",
        message_id_domain="",
        message_key="",
        links=links,
    )


def _personal_bodies(ctx: MailContext) -> tuple[bytes, bytes]:
    """The encoded text and HTML parts; a recipient's feed links go into the shared texts
    (rendering those is the costly part, encoding is cheap)."""
    key = _body_key(ctx)
    personal = [
        (slot, value)
        for slot, value in (
            (_FEED_HTTPS_SLOT, ctx.links.feed_https),
            (_FEED_WEBCAL_SLOT, ctx.links.feed_webcal),
            (_FEED_ROTATE_SLOT, ctx.links.feed_rotate),
            (_RSVP_SLOT, ctx.links.rsvp),
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
