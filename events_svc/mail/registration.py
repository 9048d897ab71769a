"""The registration confirmation e-mail (double opt-in), in zh-CN or en (pure: no database)."""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

SUBJECT = {"zh-CN": "请确认报名：{title}", "en": "Confirm your registration: {title}"}
BODY = {
    "zh-CN": (
        "您好{name}：\n\n您在 {org} 的活动页面上报名了「{title}」（{when}）。"
        "请打开下面的链接确认报名；确认后您会收到日历邀请。链接在 {until} 之前有效。"
        "\n\n{link}\n\n如果不是您本人报名，请忽略此邮件，您不会被登记。\n"
    ),
    "en": (
        "Hello{name},\n\nYou registered for \u201c{title}\u201d ({when}) on the page of {org}."
        " Open this link to confirm; you will then receive the calendar invitation. The link"
        " works until {until}.\n\n{link}\n\n"
        "If you did not register, ignore this message: you will not be signed up.\n"
    ),
}
BUTTON = {"zh-CN": "确认报名", "en": "Confirm registration"}


def render_confirmation(
    *,
    locale: str,
    name: str,
    email: str,
    org_name: str,
    title: str,
    when: str,
    until: str,
    link: str,
    mail_from: str,
    now: datetime,
) -> bytes:
    """The whole message, with CRLF line ends (`email.policy.SMTP`)."""
    loc = "en" if locale == "en" else "zh-CN"
    title = " ".join(title.split())
    greeting = " ".join(name.split())
    if loc == "en" and greeting:
        greeting = " " + greeting
    text = BODY[loc].format(
        name=greeting,
        org=" ".join(org_name.split()),
        title=title,
        when=when,
        until=until,
        link=link,
    )
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = SUBJECT[loc].format(title=title)
    msg["From"] = Address(addr_spec=mail_from)
    msg["To"] = Address(addr_spec=email)
    msg["Date"] = format_datetime(now.replace(microsecond=0))
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    msg["Content-Language"] = loc
    msg["X-Notification-Kind"] = "registration-confirm"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text)
    paragraphs = "".join(
        f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip() and p.strip() != link
    )
    msg.add_alternative(
        f'<!doctype html><html lang="{loc}"><body>{paragraphs}'
        f'<p><a href="{html.escape(link)}">{BUTTON[loc]}</a></p></body></html>',
        subtype="html",
    )
    return msg.as_bytes()
