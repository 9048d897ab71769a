"""The public certificate page: one self-contained HTML document (no external assets,
readable on a phone) in the holder's language."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from events_svc.calendar.timeutil import zone
from events_svc.mail.i18n import Locale, date_range

TEXT: dict[str, dict[Locale, str]] = {
    "title": {"zh-CN": "结业证书核验", "en": "Certificate verification"},
    "valid": {
        "zh-CN": "此证书真实有效。",
        "en": "This certificate is genuine and valid.",
    },
    "revoked": {
        "zh-CN": "此证书已于 {when} 被颁发单位撤销，不再有效。",
        "en": "This certificate was revoked by its issuer on {when} and is no longer valid.",
    },
    "heading": {"zh-CN": "结业证书", "en": "Certificate of completion"},
    "name": {"zh-CN": "学员", "en": "Awarded to"},
    "course": {"zh-CN": "培训课程", "en": "Course"},
    "hours": {"zh-CN": "学时", "en": "Hours"},
    "hours_value": {"zh-CN": "{hours} 小时", "en": "{hours} hours"},
    "sessions": {"zh-CN": "出勤", "en": "Sessions attended"},
    "sessions_value": {"zh-CN": "{attended} / {total} 次课", "en": "{attended} of {total}"},
    "dates": {"zh-CN": "培训日期", "en": "Dates"},
    "issuers": {"zh-CN": "颁发单位", "en": "Issued by"},
    "issued_at": {"zh-CN": "颁发日期", "en": "Issued on"},
    "code": {"zh-CN": "证书编号", "en": "Certificate code"},
}

_CSS = (
    "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;"
    "background:#f6f8fa;color:#1f2328;line-height:1.5}"
    "main{max-width:34rem;margin:0 auto;padding:1rem}"
    ".card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem;"
    "margin-bottom:1rem}"
    "h1{font-size:1.35rem;margin:.25rem 0 .75rem}"
    "dt{color:#59636e;font-size:.9rem}dd{margin:0 0 .5rem;overflow-wrap:anywhere}"
    ".note{padding:.6rem .8rem;border-radius:6px;margin-bottom:1rem;font-weight:600}"
    ".ok{background:#dafbe1}.bad{background:#ffebe9}"
)


def _issuers(cert: dict[str, Any], locale: str) -> list[str]:
    """The issuers' names in the reader's language (English names where they have one)."""
    if locale == "en":
        return list(cert.get("issued_by_en") or cert["issued_by"])
    return list(cert["issued_by"])


def t(key: str, locale: Locale, **values: Any) -> str:
    return TEXT[key][locale].format(**values)


def _day(value: datetime, tzid: str, locale: Locale) -> str:
    """An instant's date where the course took place."""
    local = value.astimezone(zone(tzid)) if value.tzinfo is not None else value
    return date_range(local, local, locale)


def render_certificate(cert: dict[str, Any], *, locale: Locale) -> str:
    """The page stating what the certificate certifies, and whether it still holds."""
    e = html.escape
    first = datetime.combine(date.fromisoformat(cert["first_session"]), datetime.min.time())
    last = datetime.combine(date.fromisoformat(cert["last_session"]), datetime.min.time())
    sep = "、" if locale == "zh-CN" else ", "
    details = [
        (t("name", locale), cert["name"]),
        (t("course", locale), cert["course"]),
        (t("hours", locale), t("hours_value", locale, hours=f"{cert['hours']:.1f}")),
        (
            t("sessions", locale),
            t(
                "sessions_value",
                locale,
                attended=cert["sessions_attended"],
                total=cert["sessions_total"],
            ),
        ),
        (t("dates", locale), date_range(first, last, locale)),
        (t("issuers", locale), sep.join(_issuers(cert, locale))),
        (t("issued_at", locale), _day(cert["issued_at"], cert["timezone"], locale)),
        (t("code", locale), cert["code"]),
    ]
    if cert["revoked_at"] is not None:
        when = _day(cert["revoked_at"], cert["timezone"], locale)
        note = f'<div class="note bad">{e(t("revoked", locale, when=when))}</div>'
    else:
        note = f'<div class="note ok">{e(t("valid", locale))}</div>'
    rows = "".join(f"<dt>{e(label)}</dt><dd>{e(value)}</dd>" for label, value in details)
    return (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{e(t('title', locale))} · {e(cert['course'])}</title><style>{_CSS}</style>"
        f"</head><body><main>{note}"
        f'<section class="card"><h1>{e(t("heading", locale))}</h1><dl>{rows}</dl></section>'
        "</main></body></html>"
    )
