"""The console's sign-in e-mail: a link that works once, for 15 minutes, in the organizer's
language (pure: no database)."""

from __future__ import annotations

from datetime import datetime

from events_svc.mail.link_mail import link_message

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
    return link_message(
        kind="sign-in",
        locale=loc,
        subject=SUBJECT[loc].format(org=org),
        text=text,
        link=link,
        button=BUTTON[loc],
        email=email,
        mail_from=mail_from,
        now=now,
    )
