"""The RSVP page, in the shared page shell (`web/templates/rsvp.html`), in the invitee's
language (or the one the reader switched to)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from events_svc.calendar.ics import itinerary_lines, span
from events_svc.mail.i18n import LOCALES, Locale, org_name, recurrence, when
from events_svc.rsvp.records import InvitationView
from events_svc.web.i18n import register
from events_svc.web.shell import reader_locale, render

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
    "legend": {"zh-CN": "您的回复", "en": "Your answer"},
    "qr": {"zh-CN": "签到二维码", "en": "Check-in code"},
    "qr_about": {
        "zh-CN": "到场时请出示此二维码，工作人员扫码即可为您签到。",
        "en": "Show this code at the door: staff scan it to check you in.",
    },
}
register("rsvp", TEXT)


def t(key: str, locale: Locale, **values: Any) -> str:
    return TEXT[key][locale].format(**values)


def hosts(row: InvitationView, loc: Locale) -> str:
    """The event's host and co-hosts, in the reader's language where they have a name in it."""
    names = [
        org_name(row.org_name, row.org_name_en, loc),
        *(row.cohost_names_en if loc == "en" else row.cohost_names),
    ]
    return ("、" if loc == "zh-CN" else ", ").join(names)


def programme(row: InvitationView, loc: Locale) -> dict[str, Any]:
    """What the event holds: its description, an exchange visit's itinerary and the agenda
    (lines of text; the template escapes them)."""
    lines: list[str] = []
    agenda = row.agenda
    if agenda:
        one_day = len({a.starts_at.date() for a in agenda}) == 1
        sep, joiner = ("：", "、") if loc == "zh-CN" else (": ", ", ")
        for entry in agenda:
            line = f"{span(entry.starts_at, entry.ends_at, one_day=one_day)} {entry.title}"
            line += f" · {entry.room}" if entry.room else ""
            if entry.speakers:
                line += " — " + joiner.join(
                    f"{t(f'role.{sp.role}', loc)}{sep}{sp.name or sp.email}"
                    for sp in entry.speakers
                )
            lines.append(line)
    itinerary = row.itinerary
    return {
        "description": row.description.strip(),
        "itinerary": itinerary_lines(itinerary) if itinerary else [],
        "agenda": lines,
    }


def render_page(
    row: InvitationView,
    *,
    action: str,
    selected: str | None,
    message: str | None = None,
    message_kind: str = "note",
    request: Request[Any, Any, Any] | None = None,
    qr: str = "",
) -> str:
    """The page for one invitation: the event, the current answer, the form, and the
    check-in QR code (`qr`, inline SVG)."""
    own: Locale = row.locale if row.locale in LOCALES else "zh-CN"
    loc = reader_locale(request, own)
    details = [
        (t("when", loc), when(row.starts_at, row.ends_at, row.timezone, loc)),
    ]
    repeats = recurrence(row.recurrence, row.timezone, loc)
    if repeats:
        details.append((t("repeats", loc), repeats))
    if row.location:
        details.append((t("where", loc), row.location))
    if row.online_url and row.status != "cancelled":
        details.append((t("online", loc), row.online_url))
    state = "waitlisted" if row.waitlist_position else row.rsvp
    current = t(f"state.{row.rsvp}", loc) if state != "waitlisted" else t("state.tentative", loc)
    choice = selected or (row.rsvp if row.rsvp != "needs-action" else None)
    if row.waitlist_position:
        choice = selected or "accepted"
    return render(
        "rsvp.html",
        request=request,
        locale=loc,
        row=row,
        hosts=hosts(row, loc),
        details=details,
        programme=programme(row, loc),
        current=current,
        choice=choice,
        action=action,
        message=message,
        message_kind=message_kind,
        qr=qr,
    )
