"""Words and formats of the mail in zh-CN and en: dates, zones, recurrence, roles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from events_svc.calendar.timeutil import zone

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")

_ZH_WEEKDAYS = "一二三四五六日"
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ZH_ZONE_NAMES = {
    "Asia/Shanghai": "北京时间",
    "Asia/Chongqing": "北京时间",
    "Asia/Harbin": "北京时间",
    "Asia/Urumqi": "乌鲁木齐时间",
    "Asia/Hong_Kong": "香港时间",
    "Asia/Macau": "澳门时间",
    "Asia/Taipei": "台北时间",
    "Asia/Tokyo": "东京时间",
    "Asia/Singapore": "新加坡时间",
    "Europe/London": "伦敦时间",
    "America/New_York": "纽约时间",
    "UTC": "协调世界时",
}
_EN_ZONE_NAMES = {"Asia/Shanghai": "China Standard Time", "Asia/Hong_Kong": "Hong Kong Time"}

_BYDAY = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}

TEXT: dict[str, dict[Locale, str]] = {
    "subject.invitation": {
        "zh-CN": "邀请：{title}（{when}）",
        "en": "Invitation: {title} ({when})",
    },
    "subject.update": {"zh-CN": "更新：{title}（{when}）", "en": "Updated: {title} ({when})"},
    "subject.cancellation": {
        "zh-CN": "已取消：{title}（{when}）",
        "en": "Cancelled: {title} ({when})",
    },
    "subject.uninvited": {
        "zh-CN": "邀请已撤回：{title}（{when}）",
        "en": "Invitation withdrawn: {title} ({when})",
    },
    "subject.reminder": {
        "zh-CN": "提醒：{title}（{when}）",
        "en": "Reminder: {title} ({when})",
    },
    "intro.invitation": {"zh-CN": "{org} 邀请您参加：", "en": "{org} invites you to:"},
    "intro.reminder": {
        "zh-CN": "{org} 提醒您，以下活动即将开始：",
        "en": "A reminder from {org}: this event is coming up.",
    },
    "hint.reminder": {
        "zh-CN": "此活动已在您的日历中；如需查看最新安排，请打开上面的日历文件。",
        "en": "The event is already in your calendar; the calendar file above has the latest.",
    },
    "intro.update": {
        "zh-CN": "{org} 更新了以下活动，以下为最新安排：",
        "en": "{org} has updated this event; here are the current details:",
    },
    "intro.cancellation": {
        "zh-CN": "{org} 已取消以下活动：",
        "en": "{org} has cancelled this event:",
    },
    "intro.uninvited": {
        "zh-CN": "{org} 已将您从以下活动的邀请名单中移除：",
        "en": "{org} has withdrawn your invitation to this event:",
    },
    "subject.waitlist-promoted": {
        "zh-CN": "已为您保留名额：{title}（{when}）",
        "en": "You have a place: {title} ({when})",
    },
    "intro.waitlist-promoted": {
        "zh-CN": "有名额空出，您已从候补名单转为正式参加以下活动（{org}）：",
        "en": "A place came free: you are no longer on the waitlist and are attending ({org}):",
    },
    "hint.waitlist-promoted": {
        "zh-CN": "如您无法参加，请通过下面的链接告知主办方，以便把名额让给其他人。",
        "en": "If you cannot come after all, say so with the link below so the place goes to "
        "someone else.",
    },
    "subject.certificate": {"zh-CN": "结业证书：{title}", "en": "Your certificate: {title}"},
    "intro.certificate": {
        "zh-CN": "祝贺您完成以下培训课程！{org} 为您颁发结业证书：",
        "en": "Congratulations on completing this course! {org} has issued your certificate:",
    },
    "hint.certificate": {
        "zh-CN": "任何人打开上面的核验链接，即可确认此证书真实有效。",
        "en": "Anyone who opens the verification link above can confirm that this certificate "
        "is genuine.",
    },
    "label.holder": {"zh-CN": "学员", "en": "Awarded to"},
    "label.hours": {"zh-CN": "学时", "en": "Hours"},
    "value.hours": {"zh-CN": "{hours} 小时", "en": "{hours} hours"},
    "label.sessions": {"zh-CN": "出勤", "en": "Sessions attended"},
    "value.sessions": {"zh-CN": "{attended} / {total} 次课", "en": "{attended} of {total}"},
    "label.dates": {"zh-CN": "培训日期", "en": "Dates"},
    "label.issuers": {"zh-CN": "颁发单位", "en": "Issued by"},
    "label.verify": {"zh-CN": "证书核验", "en": "Verify"},
    "subject.agenda": {
        "zh-CN": "议程更新：{title}（{when}）",
        "en": "Agenda updated: {title} ({when})",
    },
    "intro.agenda": {
        "zh-CN": "{org} 更新了以下活动的议程：",
        "en": "{org} has changed the agenda of this event:",
    },
    "subject.feed-link": {
        "zh-CN": "您的日历订阅链接已更新",
        "en": "Your calendar subscription link has changed",
    },
    "intro.feed-link": {
        "zh-CN": "应您的要求，您的个人日历订阅链接已更换，旧链接已失效。您受邀参加的活动包括：",
        "en": "As you asked, your personal calendar link has changed; the old one no longer "
        "works. Your invitations include:",
    },
    "hint.feed-link": {
        "zh-CN": "请用下面的新链接重新订阅；您的日历应用会继续显示您受邀参加的全部活动。",
        "en": "Subscribe again with the new link below; your calendar will keep showing every "
        "event you are invited to.",
    },
    "label.agenda": {"zh-CN": "议程", "en": "Agenda"},
    "label.changes": {"zh-CN": "议程变动", "en": "What changed"},
    "change.new": {"zh-CN": "新增", "en": "New"},
    "change.moved": {"zh-CN": "时间调整", "en": "Moved"},
    "change.removed": {"zh-CN": "取消", "en": "Removed"},
    "change.changed": {"zh-CN": "内容更新", "en": "Changed"},
    "role.speaker": {"zh-CN": "主讲", "en": "Speaker"},
    "label.rsvp": {"zh-CN": "您的回复", "en": "Your answer"},
    "rsvp.accepted": {"zh-CN": "接受", "en": "Accept"},
    "rsvp.tentative": {"zh-CN": "待定", "en": "Maybe"},
    "rsvp.declined": {"zh-CN": "拒绝", "en": "Decline"},
    "label.when": {"zh-CN": "时间", "en": "When"},
    "label.repeats": {"zh-CN": "重复", "en": "Repeats"},
    "label.where": {"zh-CN": "地点", "en": "Where"},
    "label.online": {"zh-CN": "线上参会", "en": "Join online"},
    "label.role": {"zh-CN": "您的身份", "en": "Your role"},
    "label.note": {"zh-CN": "主办方留言", "en": "Note from the organizer"},
    "label.details": {"zh-CN": "活动说明", "en": "Details"},
    "label.itinerary": {"zh-CN": "行程", "en": "Itinerary"},
    "label.exceptions": {"zh-CN": "调整的场次", "en": "Changed sessions"},
    "exception.moved": {"zh-CN": "{was} 改至 {now}", "en": "{was} moved to {now}"},
    "exception.cancelled": {"zh-CN": "{was} 取消", "en": "{was} cancelled"},
    "label.ics": {"zh-CN": "日历文件（.ics）", "en": "Calendar file (.ics)"},
    "label.check_in": {
        "zh-CN": "签到二维码（到场时出示）",
        "en": "Your check-in QR code (show it at the door)",
    },
    "label.feed": {"zh-CN": "订阅我的日历", "en": "Subscribe to my calendar"},
    "label.feed_rotate": {"zh-CN": "更换我的日历链接", "en": "Change my calendar link"},
    "hint.invitation": {
        "zh-CN": "本邮件附有日历邀请，可在 Outlook、Gmail、Apple 日历或 Thunderbird 中"
        "直接接受或拒绝。",
        "en": "This message carries a calendar invitation: accept or decline it in Outlook, "
        "Gmail, Apple Calendar or Thunderbird.",
    },
    "hint.cancellation": {
        "zh-CN": "您的日历会自动移除此活动。",
        "en": "Your calendar will remove this event.",
    },
    "footer": {
        "zh-CN": "此邮件由 events-svc 代 {org} 自动发送。如有疑问，请直接回复本邮件联系主办方。",
        "en": "Sent automatically by events-svc on behalf of {org}. "
        "Reply to this message to reach the organizer.",
    },
    "role.chair": {"zh-CN": "主持人", "en": "Chair"},
    "role.required": {"zh-CN": "必要参加者", "en": "Required participant"},
    "role.optional": {"zh-CN": "可选参加者", "en": "Optional participant"},
    "role.non-participant": {"zh-CN": "知会（无需参加）", "en": "For information only"},
}


def org_name(name: str, name_en: str | None, locale: Locale) -> str:
    """An organization's name in the reader's language: its English name for English
    readers where it has one, else its own."""
    return name_en if locale == "en" and name_en else name


def t(key: str, locale: Locale, **values: str) -> str:
    return TEXT[key][locale].format(**values)


def zone_label(tzid: str, when: datetime, locale: Locale) -> str:
    """'北京时间，Asia/Shanghai，UTC+08:00' / 'China Standard Time, Asia/Shanghai, UTC+08:00'."""
    offset = when.replace(tzinfo=zone(tzid)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    utc = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    names = _ZH_ZONE_NAMES if locale == "zh-CN" else _EN_ZONE_NAMES
    sep = "，" if locale == "zh-CN" else ", "
    parts = [names[tzid]] if tzid in names else []
    return sep.join([*parts, tzid, utc])


def _date(value: datetime, locale: Locale) -> str:
    if locale == "zh-CN":
        return f"{value.year}年{value.month}月{value.day}日（星期{_ZH_WEEKDAYS[value.weekday()]}）"
    return (
        f"{_EN_WEEKDAYS[value.weekday()]}, {value.day} {_EN_MONTHS[value.month - 1]} {value.year}"
    )


def when(start: datetime, end: datetime, tzid: str, locale: Locale) -> str:
    """The event's time in its own zone, with the zone named."""
    label = zone_label(tzid, start, locale)
    gap = "" if locale == "zh-CN" else " "  # the zh date already ends in a full-width bracket
    if start.date() == end.date():
        text = f"{_date(start, locale)}{gap}{start:%H:%M}–{end:%H:%M}"
    else:
        text = f"{_date(start, locale)}{gap}{start:%H:%M} – {_date(end, locale)}{gap}{end:%H:%M}"
    return f"{text}（{label}）" if locale == "zh-CN" else f"{text} ({label})"


def date_range(first: datetime, last: datetime, locale: Locale) -> str:
    """'2026年10月8日 – 2026年11月12日' / '8 October 2026 – 12 November 2026' (one date alone)."""

    def day(value: datetime) -> str:
        if locale == "zh-CN":
            return f"{value.year}年{value.month}月{value.day}日"
        return f"{value.day} {_EN_MONTHS[value.month - 1]} {value.year}"

    return day(first) if first.date() == last.date() else f"{day(first)} – {day(last)}"


def short_when(start: datetime, locale: Locale) -> str:
    """The start for subject lines: '2027年6月10日 09:30' / '10 Jun 2027 09:30'."""
    if locale == "zh-CN":
        return f"{start.year}年{start.month}月{start.day}日 {start:%H:%M}"
    return f"{start.day} {_EN_MONTHS[start.month - 1][:3]} {start.year} {start:%H:%M}"


def series_exceptions(
    exdates: Sequence[datetime],
    moved: Sequence[tuple[datetime, datetime, datetime]],
    locale: Locale,
) -> list[str]:
    """The occurrences of a series that do not fall as its rule says, in time order:
    '2027年3月18日 14:00 改至 2027年3月19日 15:00–18:00' / '… cancelled'. `moved` holds
    (original start, new start, new end)."""
    items: list[tuple[datetime, str]] = [
        (was, t("exception.cancelled", locale, was=short_when(was, locale))) for was in exdates
    ]
    for was, start, end in moved:
        now = f"{short_when(start, locale)}–{end:%H:%M}"
        items.append((was, t("exception.moved", locale, was=short_when(was, locale), now=now)))
    return [text for _when, text in sorted(items)]


def recurrence(rule: str | None, tzid: str, locale: Locale) -> str:
    """A readable RRULE: '每周（周二、周四），共 6 次' / 'Weekly on Tue, Thu, 6 times'."""
    if not rule:
        return ""
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1") or 1)
    days = [d[-2:] for d in parts.get("BYDAY", "").split(",") if d[-2:] in _BYDAY]
    if locale == "zh-CN":
        unit = {"DAILY": "天", "WEEKLY": "周", "MONTHLY": "月", "YEARLY": "年"}.get(freq, "")
        text = f"每{unit}" if interval == 1 else f"每 {interval} {unit}"
        if days:
            text += "（" + "、".join(f"周{_ZH_WEEKDAYS[_BYDAY[d]]}" for d in days) + "）"
        if "COUNT" in parts:
            text += f"，共 {parts['COUNT']} 次"
        elif "UNTIL" in parts:
            text += f"，至 {_until_local(parts['UNTIL'], tzid):%Y年%m月%d日}"
        return text
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}.get(freq, "")
    text = {"DAILY": "Daily", "WEEKLY": "Weekly", "MONTHLY": "Monthly", "YEARLY": "Yearly"}.get(
        freq, freq
    )
    if interval != 1:
        text = f"Every {interval} {unit}s"
    if days:
        text += " on " + ", ".join(_EN_WEEKDAYS[_BYDAY[d]][:3] for d in days)
    if "COUNT" in parts:
        text += f", {parts['COUNT']} times"
    elif "UNTIL" in parts:
        until = _until_local(parts["UNTIL"], tzid)
        text += f", until {until.day} {_EN_MONTHS[until.month - 1]} {until.year}"
    return text


def _until_local(value: str, tzid: str) -> datetime:
    instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return instant.astimezone(zone(tzid))
