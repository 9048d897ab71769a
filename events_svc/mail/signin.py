"""The console's sign-in e-mail: a link that works once, for 15 minutes, in the organizer's
language (pure: no database)."""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

SUBJECT = {"zh-CN": "登录活动管理后台：{org}", "en": "Sign in to the events console: {org}"}
BODY = {
    "zh-CN": (
        "您好{name}：\n\n请打开下面的链接登录 {org} 的活动管理后台。"
        "链接 15 分钟内有效，只能使用一次，并且只能在申请登录的浏览器中打开。"
        "\n\n{link}\n\n如果不是您本人申请，请忽略此邮件。\n"
    ),
    "en": (
        "Hello{name},\n\nOpen this link to sign in to the events console of {org}. It works once,"
        " for 15 minutes, in the browser where you asked for it.\n\n{link}\n\n"
        "If you did not ask to sign in, ignore this message.\n"
    ),
}
BUTTON = {"zh-CN": "登录", "en": "Sign in"}


def render_sign_in(
    *,
    locale: str,
    name: str,
    email: str,
    org_name: str,
    link: str,
    mail_from: str,
    now: datetime,
) -> bytes:
    """The whole message, with CRLF line ends (`email.policy.SMTP`)."""
    loc = "en" if locale == "en" else "zh-CN"
    org = " ".join(org_name.split())
    greeting = (" " + " ".join(name.split())) if name.strip() else ""
    if loc == "zh-CN" and greeting:
        greeting = greeting.strip()
    text = BODY[loc].format(name=greeting, org=org, link=link)
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = SUBJECT[loc].format(org=org)
    msg["From"] = Address(addr_spec=mail_from)
    msg["To"] = Address(addr_spec=email)
    msg["Date"] = format_datetime(now.replace(microsecond=0))
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    msg["Content-Language"] = loc
    msg["X-Notification-Kind"] = "sign-in"
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
