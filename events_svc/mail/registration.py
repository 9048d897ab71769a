"""The registration confirmation e-mail (double opt-in), in zh-CN or en (pure: no database)."""

from __future__ import annotations

from datetime import datetime

from events_svc.mail.link_mail import link_message

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
    return link_message(
        kind="registration-confirm",
        locale=loc,
        subject=SUBJECT[loc].format(title=title),
        text=text,
        link=link,
        button=BUTTON[loc],
        email=email,
        mail_from=mail_from,
        now=now,
    )
