"""The public certificate page, in the shared page shell (`web/templates/certificate.html`),
in the holder's language."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Request

from events_svc.calendar.timeutil import zone
from events_svc.mail.i18n import Locale, date_range
from events_svc.training.records import CertificateRecord
from events_svc.web.i18n import register
from events_svc.web.shell import render

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

register("cert", TEXT)


def _issuers(cert: CertificateRecord, locale: str) -> list[str]:
    """The issuers' names in the reader's language (English names where they have one)."""
    if locale == "en":
        return list(cert.issued_by_en or cert.issued_by)
    return list(cert.issued_by)


def t(key: str, locale: Locale, **values: Any) -> str:
    return TEXT[key][locale].format(**values)


def _day(value: datetime, tzid: str, locale: Locale) -> str:
    """An instant's date where the course took place."""
    local = value.astimezone(zone(tzid)) if value.tzinfo is not None else value
    return date_range(local, local, locale)


def render_certificate(
    cert: CertificateRecord, *, locale: Locale, request: Request[Any, Any, Any] | None = None
) -> str:
    """The page stating what the certificate certifies, and whether it still holds."""
    first = datetime.combine(date.fromisoformat(cert.first_session), datetime.min.time())
    last = datetime.combine(date.fromisoformat(cert.last_session), datetime.min.time())
    sep = "、" if locale == "zh-CN" else ", "
    details = [
        (t("name", locale), cert.name),
        (t("course", locale), cert.course),
        (t("hours", locale), t("hours_value", locale, hours=f"{cert.hours:.1f}")),
        (
            t("sessions", locale),
            t(
                "sessions_value",
                locale,
                attended=cert.sessions_attended,
                total=cert.sessions_total,
            ),
        ),
        (t("dates", locale), date_range(first, last, locale)),
        (t("issuers", locale), sep.join(_issuers(cert, locale))),
        (t("issued_at", locale), _day(cert.issued_at, cert.timezone, locale)),
        (t("code", locale), cert.code),
    ]
    revoked_when = (
        _day(cert.revoked_at, cert.timezone, locale) if cert.revoked_at is not None else ""
    )
    return render(
        "certificate.html",
        request=request,
        locale=locale,
        cert=cert,
        details=details,
        revoked_when=revoked_when,
    )
