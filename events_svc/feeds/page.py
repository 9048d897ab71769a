"""The page where a person gives their calendar feed a new address: the question, the answer
(the new link), and the page for a link that is not (or no longer) one; in the RSVP page's
shell (`web/`), in the person's language."""

from __future__ import annotations

import html
from typing import Any

from markupsafe import Markup

from events_svc.mail.i18n import LOCALES, Locale
from events_svc.web.shell import render

TEXT: dict[str, dict[Locale, str]] = {
    "title": {"zh-CN": "更换日历链接", "en": "Change your calendar link"},
    "about": {
        "zh-CN": "您（{email}）的个人日历订阅链接汇集了您受邀参加的全部活动，"
        "不论邀请来自哪家机构。",
        "en": "Your personal calendar link ({email}) shows every event you are invited to, "
        "from every organization.",
    },
    "warning": {
        "zh-CN": "更换后旧链接立即失效，用旧链接订阅的日历将不再更新。"
        "新链接会显示在本页，并发送到您的邮箱。",
        "en": "Once changed, the old link stops working at once and calendars subscribed "
        "with it stop updating. The new link is shown here and e-mailed to you.",
    },
    "submit": {"zh-CN": "更换链接", "en": "Change my link"},
    "done": {
        "zh-CN": "链接已更换，旧链接已失效。请用下面的新链接重新订阅：",
        "en": "Your link has changed; the old one no longer works. Subscribe again with:",
    },
    "subscribe": {"zh-CN": "在日历应用中订阅", "en": "Subscribe in your calendar app"},
    "gone": {
        "zh-CN": "此链接无效或已用过。您收到的最新邮件中有可用的链接。",
        "en": "This link is not valid or has been used. Your latest e-mail from us has one "
        "that works.",
    },
}


def t(key: str, locale: Locale, **values: Any) -> str:
    return TEXT[key][locale].format(**values)


def _locale(value: str) -> Locale:
    return value if value in LOCALES else "zh-CN"


def _shell(lang: Locale, title: str, body: str) -> str:
    # `body` is built here with every value escaped
    return render("plain.html", request=None, locale=lang, title=title, body=Markup(body))  # noqa: S704


def confirm_page(*, email: str, locale: str, action: str) -> str:
    """The question: what the link is, what changing it does, and the button."""
    loc, e = _locale(locale), html.escape
    body = (
        f'<section class="card"><h1>{e(t("title", loc))}</h1>'
        f"<p>{e(t('about', loc, email=email))}</p>"
        f'<div class="note warn">{e(t("warning", loc))}</div>'
        f'<form method="post" action="{e(action)}">'
        f'<button type="submit">{e(t("submit", loc))}</button></form></section>'
    )
    return _shell(loc, t("title", loc), body)


def done_page(*, locale: str, https: str, webcal: str) -> str:
    """The answer: the new link (the mail with it is on its way)."""
    loc, e = _locale(locale), html.escape
    body = (
        f'<div class="note">{e(t("done", loc))}</div>'
        f'<section class="card"><h1>{e(t("title", loc))}</h1>'
        f'<p id="feed"><a href="{e(https)}">{e(https)}</a></p>'
        f'<p><a href="{e(webcal)}">{e(t("subscribe", loc))}</a></p></section>'
    )
    return _shell(loc, t("title", loc), body)


def gone_page() -> str:
    """A link that is not (or no longer) one: both languages, since it names nobody."""
    e = html.escape
    body = (
        f'<section class="card"><h1>{e(t("title", "zh-CN"))} · {e(t("title", "en"))}</h1>'
        f'<div class="note error">{e(t("gone", "zh-CN"))}</div>'
        f'<div class="note error" lang="en">{e(t("gone", "en"))}</div></section>'
    )
    return _shell("zh-CN", t("title", "zh-CN"), body)
