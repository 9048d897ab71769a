"""iMIP messages (RFC 6047): multipart/mixed > alternative (text, html, calendar) + invite.ics."""

from __future__ import annotations

import email.policy
import html
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal

from events_svc.calendar.ics import EventData
from events_svc.mail.i18n import Locale, recurrence, short_when, t, when

#: CRLF line ends and RFC 2047 encoded words; `as_bytes()` with the default policy writes bare LF
SMTP_POLICY = email.policy.SMTP
Kind = Literal["invitation", "update", "cancellation"]


@dataclass(frozen=True, slots=True)
class Links:
    ics: str  #: the event's .ics file
    feed_https: str | None = None  #: the person's calendar feed, once feeds exist
    feed_webcal: str | None = None


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
    method: Literal["REQUEST", "CANCEL"]
    ics: bytes
    message_id_domain: str


def _single_line(value: str) -> str:
    # Display names end up in headers; a CR/LF there must never make a header or recipient.
    return " ".join(value.split())


def _rows(ctx: MailContext) -> list[tuple[str, str, bool]]:
    """(label, value, is_link) rows shown in both the text and the HTML body."""
    ev, loc = ctx.event, ctx.locale
    rows: list[tuple[str, str, bool]] = [
        (t("label.when", loc), when(ev.starts_at, ev.ends_at, ev.timezone, loc), False)
    ]
    repeats = recurrence(ev.recurrence, ev.timezone, loc)
    if repeats:
        rows.append((t("label.repeats", loc), repeats, False))
    if ev.location:
        rows.append((t("label.where", loc), ev.location, False))
    if ev.online_url and ctx.method == "REQUEST":
        rows.append((t("label.online", loc), ev.online_url, True))
    if ctx.method == "REQUEST":
        rows.append((t("label.role", loc), t(f"role.{ctx.role}", loc), False))
    return rows


def _subject_key(ctx: MailContext) -> str:
    return "subject.uninvited" if ctx.uninvited else f"subject.{ctx.kind}"


def _intro_key(ctx: MailContext) -> str:
    return "intro.uninvited" if ctx.uninvited else f"intro.{ctx.kind}"


def text_body(ctx: MailContext) -> str:
    loc, ev = ctx.locale, ctx.event
    sep = "：" if loc == "zh-CN" else ": "
    lines = [t(_intro_key(ctx), loc, org=ctx.org_name), "", ev.title, ""]
    lines += [f"{label}{sep}{value}" for label, value, _ in _rows(ctx)]
    if ctx.note.strip():
        lines += ["", f"{t('label.note', loc)}{sep}", ctx.note.strip()]
    if ev.description.strip() and ctx.method == "REQUEST":
        lines += ["", f"{t('label.details', loc)}{sep}", ev.description.strip()]
    lines += ["", f"{t('label.ics', loc)}{sep}{ctx.links.ics}"]
    if ctx.links.feed_https:
        lines.append(f"{t('label.feed', loc)}{sep}{ctx.links.feed_https}")
        if ctx.links.feed_webcal:
            lines.append(f"webcal{sep}{ctx.links.feed_webcal}")
    hint = "hint.invitation" if ctx.method == "REQUEST" else "hint.cancellation"
    lines += ["", t(hint, loc), "", "-- ", t("footer", loc, org=ctx.org_name)]
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
    if ctx.note.strip():
        blocks.append(
            f"<h3>{e(t('label.note', loc))}</h3>"
            f'<p style="white-space:pre-wrap">{e(ctx.note.strip())}</p>'
        )
    if ev.description.strip() and ctx.method == "REQUEST":
        blocks.append(
            f"<h3>{e(t('label.details', loc))}</h3>"
            f'<p style="white-space:pre-wrap">{e(ev.description.strip())}</p>'
        )
    links = [f'<a href="{e(ctx.links.ics)}">{e(t("label.ics", loc))}</a>']
    if ctx.links.feed_https:
        links.append(f'<a href="{e(ctx.links.feed_https)}">{e(t("label.feed", loc))}</a>')
        if ctx.links.feed_webcal:
            links.append(f'<a href="{e(ctx.links.feed_webcal)}">webcal</a>')
    blocks.append(f"<p>{' · '.join(links)}</p>")
    hint = "hint.invitation" if ctx.method == "REQUEST" else "hint.cancellation"
    blocks.append(f'<p style="color:#555">{e(t(hint, loc))}</p>')
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


def build_message(ctx: MailContext, *, now: datetime) -> EmailMessage:
    """The whole e-mail; headers go through EmailMessage, which refuses CR/LF in values."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = Address(display_name=_single_line(ctx.org_name), addr_spec=ctx.mail_from)
    msg["To"] = Address(
        display_name=_single_line(ctx.recipient_name), addr_spec=ctx.recipient_email
    )
    msg["Reply-To"] = Address(display_name=_single_line(ctx.org_name), addr_spec=ctx.org_email)
    title = _single_line(ctx.event.title)
    msg["Subject"] = t(
        _subject_key(ctx), ctx.locale, title=title, when=short_when(ctx.event.starts_at, ctx.locale)
    )
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=ctx.message_id_domain)
    msg["Content-Language"] = ctx.locale
    msg["X-Notification-Kind"] = ctx.kind
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"  # no Outlook out-of-office replies to robots

    msg.set_content(text_body(ctx), subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html_body(ctx), subtype="html", charset="utf-8", cte="quoted-printable")
    # The calendar part is base64, as Exchange sends it: no line over 998 octets, UTF-8 intact
    # through 7-bit relays. Its method= parameter equals METHOD inside (RFC 6047 §2.4).
    msg.add_alternative(
        ctx.ics,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": ctx.method, "charset": "UTF-8"},
    )
    msg.add_attachment(
        ctx.ics, maintype="application", subtype="ics", cte="base64", filename="invite.ics"
    )
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=SMTP_POLICY)
