"""The RSVP page: one self-contained HTML document (no external assets, readable on a phone)
in the invitee's language."""

from __future__ import annotations

import html
from typing import Any

from events_svc.calendar.ics import agenda_entries, itinerary_entries, itinerary_lines, span
from events_svc.mail.i18n import LOCALES, Locale, org_name, recurrence, when

TEXT: dict[str, dict[Locale, str]] = {
    "title": {"zh-CN": "回复邀请", "en": "Your answer"},
    "invited_by": {"zh-CN": "{org} 邀请您参加", "en": "{org} invites you to"},
    "current": {"zh-CN": "您当前的回复：", "en": "Your answer so far: "},
    "state.accepted": {"zh-CN": "参加", "en": "Attending"},
    "state.tentative": {"zh-CN": "待定", "en": "Maybe"},
    "state.declined": {"zh-CN": "不参加", "en": "Not attending"},
    "state.needs-action": {"zh-CN": "尚未回复", "en": "Not answered yet"},
    "choice.accepted": {"zh-CN": "参加", "en": "I will attend"},
    "choice.tentative": {"zh-CN": "待定", "en": "Maybe"},
    "choice.declined": {"zh-CN": "不参加", "en": "I cannot attend"},
    "waitlisted": {
        "zh-CN": "活动名额已满，您在候补名单第 {n} 位。有名额空出时，我们会发邮件通知您。",
        "en": "The event is full: you are number {n} on the waitlist. We will e-mail you "
        "when a place comes free.",
    },
    "comment": {"zh-CN": "留言（可选）", "en": "Comment (optional)"},
    "submit": {"zh-CN": "提交回复", "en": "Send my answer"},
    "saved": {"zh-CN": "已收到您的回复，谢谢！", "en": "Thank you, your answer is saved."},
    "cancelled": {"zh-CN": "此活动已取消。", "en": "This event has been cancelled."},
    "invalid": {
        "zh-CN": "请选择“参加”“待定”或“不参加”。",
        "en": "Please choose one of the answers.",
    },
    "when": {"zh-CN": "时间", "en": "When"},
    "repeats": {"zh-CN": "重复", "en": "Repeats"},
    "where": {"zh-CN": "地点", "en": "Where"},
    "online": {"zh-CN": "线上参会", "en": "Join online"},
    "details": {"zh-CN": "活动说明", "en": "Details"},
    "itinerary": {"zh-CN": "行程", "en": "Itinerary"},
    "agenda": {"zh-CN": "议程", "en": "Agenda"},
    "role.speaker": {"zh-CN": "主讲", "en": "Speaker"},
    "role.chair": {"zh-CN": "主持", "en": "Chair"},
}

_CSS = (
    "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;"
    "background:#f6f8fa;color:#1f2328;line-height:1.5}"
    "main{max-width:34rem;margin:0 auto;padding:1rem}"
    # a long link (a feed URL) wraps instead of widening the page on a phone
    "a{overflow-wrap:anywhere}"
    ".card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem;"
    "margin-bottom:1rem}"
    "h1{font-size:1.35rem;margin:.25rem 0 .75rem}"
    "dt{color:#59636e;font-size:.9rem}dd{margin:0 0 .5rem}"
    "h2{font-size:1.05rem;margin:1rem 0 .4rem}.text{white-space:pre-wrap}"
    ".programme{margin:0;padding-left:1.2rem}.programme li{margin-bottom:.35rem}"
    ".note{padding:.6rem .8rem;border-radius:6px;background:#ddf4ff;margin-bottom:1rem}"
    ".warn{background:#fff8c5}.error{background:#ffebe9}"
    "label.choice{display:block;padding:.7rem .8rem;border:1px solid #d0d7de;border-radius:6px;"
    "margin-bottom:.5rem;font-size:1.05rem}"
    "label.choice input{margin-right:.6rem;transform:scale(1.2)}"
    "textarea{width:100%;box-sizing:border-box;min-height:5rem;font:inherit;padding:.5rem;"
    "border:1px solid #d0d7de;border-radius:6px}"
    "button{width:100%;padding:.8rem;font-size:1.05rem;border:0;border-radius:6px;"
    "background:#1f883d;color:#fff;margin-top:.75rem}"
)


def t(key: str, locale: Locale, **values: Any) -> str:
    return TEXT[key][locale].format(**values)


def hosts(row: dict[str, Any], loc: Locale) -> str:
    """The event's host and co-hosts, in the reader's language where they have a name in it."""
    names = [
        org_name(row["org_name"], row.get("org_name_en"), loc),
        *(row.get("cohost_names_en" if loc == "en" else "cohost_names") or ()),
    ]
    return ("、" if loc == "zh-CN" else ", ").join(names)


def programme(row: dict[str, Any], loc: Locale) -> str:
    """What the event holds: its description, an exchange visit's itinerary and the agenda."""
    e = html.escape
    parts = []
    if (row.get("description") or "").strip():
        parts.append(
            f"<h2>{e(t('details', loc))}</h2>"
            f'<div class="text">{e(row["description"].strip())}</div>'
        )
    itinerary = itinerary_entries(row.get("itinerary"))
    if itinerary:
        items = "".join(f"<li>{e(line)}</li>" for line in itinerary_lines(itinerary))
        parts.append(f'<h2>{e(t("itinerary", loc))}</h2><ul class="programme">{items}</ul>')
    agenda = agenda_entries(row.get("agenda"))
    if agenda:
        one_day = len({a.starts_at.date() for a in agenda}) == 1
        sep, joiner = ("：", "、") if loc == "zh-CN" else (": ", ", ")
        items = ""
        for entry in agenda:
            line = f"{span(entry.starts_at, entry.ends_at, one_day=one_day)} {entry.title}"
            line += f" · {entry.room}" if entry.room else ""
            if entry.speakers:
                line += " — " + joiner.join(
                    f"{t(f'role.{sp.role}', loc)}{sep}{sp.name or sp.email}"
                    for sp in entry.speakers
                )
            items += f"<li>{e(line)}</li>"
        parts.append(f'<h2>{e(t("agenda", loc))}</h2><ul class="programme">{items}</ul>')
    return "".join(parts)


def render_page(
    row: dict[str, Any],
    *,
    action: str,
    selected: str | None,
    message: str | None = None,
    message_kind: str = "note",
) -> str:
    """The page for one invitation: the event, the current answer, and the form."""
    loc: Locale = row["locale"] if row["locale"] in LOCALES else "zh-CN"
    e = html.escape
    details = [
        (t("when", loc), when(row["starts_at"], row["ends_at"], row["timezone"], loc)),
    ]
    repeats = recurrence(row["recurrence"], row["timezone"], loc)
    if repeats:
        details.append((t("repeats", loc), repeats))
    if row["location"]:
        details.append((t("where", loc), row["location"]))
    if row.get("online_url") and row["status"] != "cancelled":
        details.append((t("online", loc), row["online_url"]))
    notes = []
    if message:
        notes.append(f'<div class="note {message_kind}">{e(message)}</div>')
    if row["status"] == "cancelled":
        notes.append(f'<div class="note warn">{e(t("cancelled", loc))}</div>')
    state = "waitlisted" if row["waitlist_position"] else row["rsvp"]
    if row["waitlist_position"]:
        notes.append(
            f'<div class="note warn">{e(t("waitlisted", loc, n=row["waitlist_position"]))}</div>'
        )
    current = t(f"state.{row['rsvp']}", loc) if state != "waitlisted" else t("state.tentative", loc)
    choice = selected or (row["rsvp"] if row["rsvp"] != "needs-action" else None)
    if row["waitlist_position"]:
        choice = selected or "accepted"
    options = "".join(
        f'<label class="choice"><input type="radio" name="response" value="{answer}"'
        f"{' checked' if answer == choice else ''} required>{e(t(f'choice.{answer}', loc))}"
        "</label>"
        for answer in ("accepted", "tentative", "declined")
    )
    form = ""
    if row["status"] != "cancelled":
        form = (
            f'<form class="card" method="post" action="{e(action)}">{options}'
            f'<label for="comment">{e(t("comment", loc))}</label>'
            f'<textarea id="comment" name="comment" maxlength="2000">{e(row["comment"])}'
            f'</textarea><button type="submit">{e(t("submit", loc))}</button></form>'
        )
    rows = "".join(f"<dt>{e(label)}</dt><dd>{e(value)}</dd>" for label, value in details)
    lang = "zh-CN" if loc == "zh-CN" else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{e(t('title', loc))} · {e(row['title'])}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(notes)}"
        f'<section class="card"><div>{e(t("invited_by", loc, org=hosts(row, loc)))}</div>'
        f"<h1>{e(row['title'])}</h1><dl>{rows}</dl>{programme(row, loc)}"
        f'<div id="current">{e(t("current", loc))}<strong>{e(current)}</strong></div></section>'
        f"{form}</main></body></html>"
    )
