"""Texts of the public pages (organization, event, registration, check-in), zh-CN and en."""

from __future__ import annotations

from events_svc.web.i18n import Locale, register

TEXTS: dict[str, dict[Locale, str]] = {
    "upcoming": {"zh-CN": "即将举行的公开活动", "en": "Upcoming public events"},
    "none": {"zh-CN": "暂无公开活动。", "en": "No public events at the moment."},
    "subscribe": {"zh-CN": "订阅活动日历", "en": "Subscribe to the calendar"},
    "subscribe_about": {
        "zh-CN": "把本机构的公开活动加入您的日历，新活动和变动会自动出现。",
        "en": "Add this organization's public events to your calendar; new events and changes"
        " appear by themselves.",
    },
    "webcal": {"zh-CN": "用日历应用订阅（webcal）", "en": "Subscribe in a calendar app (webcal)"},
    "https": {"zh-CN": "订阅地址（https）", "en": "Feed address (https)"},
    "google_sub": {"zh-CN": "添加到 Google 日历", "en": "Add to Google Calendar"},
    "outlook_sub": {"zh-CN": "添加到 Outlook 日历", "en": "Add to Outlook"},
    "kind": {"zh-CN": "类型", "en": "Kind"},
    "region": {"zh-CN": "地区", "en": "Region"},
    "when": {"zh-CN": "时间", "en": "When"},
    "your_time": {"zh-CN": "您所在时区：", "en": "Your time: "},
    "where": {"zh-CN": "地点", "en": "Where"},
    "online": {"zh-CN": "线上参加", "en": "Join online"},
    "hosts": {"zh-CN": "主办", "en": "Hosted by"},
    "cohosts": {"zh-CN": "联合主办", "en": "Co-hosts"},
    "venue": {"zh-CN": "接待单位", "en": "Host of the visit"},
    "visiting": {"zh-CN": "来访单位", "en": "Visiting"},
    "agenda": {"zh-CN": "议程", "en": "Agenda"},
    "itinerary": {"zh-CN": "行程", "en": "Itinerary"},
    "schedule": {"zh-CN": "场次", "en": "Sessions"},
    "state.planned": {"zh-CN": "", "en": ""},
    "state.changed": {"zh-CN": "已调整", "en": "changed"},
    "state.moved": {"zh-CN": "已改期（原定 {was}）", "en": "moved (was {was})"},
    "state.cancelled": {"zh-CN": "已取消", "en": "cancelled"},
    "cancelled": {"zh-CN": "本活动已取消。", "en": "This event has been cancelled."},
    "add": {"zh-CN": "加入日历", "en": "Add to calendar"},
    "ics": {"zh-CN": "下载 .ics 文件", "en": "Download .ics"},
    "google": {"zh-CN": "Google 日历", "en": "Google Calendar"},
    "outlook": {"zh-CN": "Outlook 日历", "en": "Outlook"},
    "register": {"zh-CN": "报名", "en": "Register"},
    "register_about": {
        "zh-CN": "提交后我们会给您发送确认邮件，点击邮件中的链接后报名才生效。",
        "en": "We will send you an e-mail; your registration counts once you open its link.",
    },
    "deadline": {"zh-CN": "报名截止：{when}", "en": "Registration closes: {when}"},
    "closed": {"zh-CN": "目前不接受报名。", "en": "Registration is not open."},
    "name": {"zh-CN": "姓名", "en": "Name"},
    "email": {"zh-CN": "电子邮箱", "en": "E-mail"},
    "locale": {"zh-CN": "邮件语言", "en": "Language of the e-mails"},
    "required": {"zh-CN": "（必填）", "en": " (required)"},
    "hp": {"zh-CN": "请勿填写此项", "en": "Leave this empty"},
    "submit": {"zh-CN": "提交报名", "en": "Register"},
    "fix": {"zh-CN": "请修改下面标出的内容。", "en": "Please correct the fields marked below."},
    "sent_title": {"zh-CN": "请查收确认邮件", "en": "Check your e-mail"},
    "sent": {
        "zh-CN": "确认邮件已发送到 {email}。请打开邮件中的链接完成报名（{hours} 小时内有效）。",
        "en": "We sent a confirmation e-mail to {email}. Open its link to complete your"
        " registration (it works for {hours} hours).",
    },
    "already_title": {"zh-CN": "该邮箱已经报名", "en": "Already registered"},
    "already": {
        "zh-CN": "{email} 已经报名过本活动（或已受到邀请），本次提交没有做任何更改。"
        "如未收到邮件，请检查垃圾邮件箱。",
        "en": "{email} is already registered for (or invited to) this event; nothing was"
        " changed. If no e-mail arrived, look in your spam folder.",
    },
    "refused_title": {"zh-CN": "无法报名", "en": "Registration refused"},
    "reason.closed": {
        "zh-CN": "本活动目前不接受报名。",
        "en": "This event takes no registrations.",
    },
    "reason.cancelled": {"zh-CN": "本活动已取消。", "en": "This event has been cancelled."},
    "reason.deadline": {"zh-CN": "报名已截止。", "en": "The registration deadline has passed."},
    "reason.over": {"zh-CN": "本活动已经结束。", "en": "This event is over."},
    "back": {"zh-CN": "返回活动页面", "en": "Back to the event"},
    "confirm_title": {"zh-CN": "确认报名", "en": "Confirm your registration"},
    "confirm_about": {
        "zh-CN": "点击下面的按钮，确认报名「{title}」。",
        "en": "Press the button to confirm your registration for \u201c{title}\u201d.",
    },
    "confirm_button": {"zh-CN": "确认报名", "en": "Confirm registration"},
    "confirmed_title": {"zh-CN": "报名成功", "en": "You are registered"},
    "confirmed": {
        "zh-CN": "您已报名「{title}」。日历邀请已发送到您的邮箱，可在日历中接受或拒绝。",
        "en": "You are registered for \u201c{title}\u201d. The calendar invitation is on its"
        " way to your e-mail; accept or decline it in your calendar.",
    },
    "waitlisted_title": {"zh-CN": "已进入候补名单", "en": "You are on the waitlist"},
    "waitlisted": {
        "zh-CN": "「{title}」名额已满，您已进入候补名单；有空位时我们会发邮件通知您。",
        "en": "\u201c{title}\u201d is full: you are on the waitlist, and we will e-mail you"
        " when a place frees up.",
    },
    "done_already": {
        "zh-CN": "此报名已经确认过，无需再次确认。",
        "en": "This registration was confirmed already; nothing more to do.",
    },
    "gone_title": {"zh-CN": "链接已失效", "en": "This link no longer works"},
    "gone": {
        "zh-CN": "该确认链接无效或已过期。请回到活动页面重新报名。",
        "en": "This confirmation link is not valid or has expired. Register again on the"
        " event's page.",
    },
    "org.federation": {"zh-CN": "全国性联合会", "en": "National federation"},
    "org.provincial_association": {"zh-CN": "省级协会", "en": "Provincial association"},
    "org.city_association": {"zh-CN": "市级协会", "en": "City association"},
    "org.county_association": {"zh-CN": "区县级协会", "en": "County association"},
    "org.service_agency": {"zh-CN": "社会工作服务机构", "en": "Social work agency"},
    "kind.exchange_visit": {"zh-CN": "交流访问", "en": "Exchange visit"},
    "kind.forum": {"zh-CN": "论坛", "en": "Forum"},
    "kind.training": {"zh-CN": "培训", "en": "Training"},
    "kind.meeting": {"zh-CN": "会议", "en": "Meeting"},
    "kind.ceremony": {"zh-CN": "仪式", "en": "Ceremony"},
    "checkin_title": {"zh-CN": "签到", "en": "Check-in"},
    "checkin_done": {
        "zh-CN": "已为 {name} 签到：{session}",
        "en": "{name} is checked in for {session}",
    },
    "checkin_again": {
        "zh-CN": "{name} 此前已签到：{session}",
        "en": "{name} was checked in already for {session}",
    },
    "checkin_none": {
        "zh-CN": "{name}：现在没有正在进行的场次，未签到。",
        "en": "{name}: no session is under way now; nobody was checked in.",
    },
    "checkin_nothing": {
        "zh-CN": "这是一个活动签到码，需由活动的组织者登录后台后扫描。",
        "en": "This is an event check-in code; an organizer of the event signed in to the"
        " console scans it.",
    },
    "sign_in": {"zh-CN": "组织者登录后台", "en": "Organizers: sign in"},
    "qr": {"zh-CN": "签到二维码", "en": "Check-in QR code"},
    "qr_about": {
        "zh-CN": "到场时请出示此二维码，工作人员扫码即可签到。",
        "en": "Show this code at the door: staff scan it to check you in.",
    },
}

register("pub", TEXTS)
