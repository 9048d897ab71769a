"""The side-mail sender: claim a row, compose it by its kind, hand it to SMTP and record the
outcome. One loop for every kind; each kind adds only how its message is composed (KINDS)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from events_svc import telemetry
from events_svc.calendar.timeutil import wall_clock, zone
from events_svc.jobs import backoff
from events_svc.mail.i18n import Locale, org_name
from events_svc.mail.registration import render_confirmation
from events_svc.mail.signin import render_sign_in
from events_svc.organizers import signin
from events_svc.registration import confirmation
from events_svc.registration.service import MAIL_KIND as CONFIRMATION
from events_svc.registration.service import confirm_path
from events_svc.sender.smtp import PermanentSendError, SmtpPool, TransientSendError
from events_svc.settings import Settings
from events_svc.sidemail import service as sidemail


@dataclass(frozen=True, slots=True)
class Letter:
    recipient: str
    message: bytes


#: composes a claimed row's message; None when what it is about is gone (nothing to send)
Compose = Callable[[dict[str, Any], Settings, datetime], Awaitable[Letter | None]]


async def _sign_in(row: dict[str, Any], settings: Settings, now: datetime) -> Letter | None:
    facts = await signin.mail_facts(row["about"])
    if facts is None or not row["nonce"]:
        return None
    # the link is made here, from the row's nonce and SECRET_KEY: it is stored nowhere
    link = settings.public_base_url + signin.sign_in_path(settings.secret_key, row["nonce"])
    locale: Locale = "en" if facts["locale"] == "en" else "zh-CN"
    message = render_sign_in(
        locale=facts["locale"],
        name=facts["name"],
        email=facts["email"],
        org_name=org_name(facts["org_name"], facts["org_name_en"], locale),
        link=link,
        mail_from=settings.mail_from,
        now=now,
    )
    return Letter(facts["email"], message)


async def _confirmation(row: dict[str, Any], settings: Settings, now: datetime) -> Letter | None:
    facts = await confirmation.mail_facts(row["about"])
    if facts is None:
        return None
    link = settings.public_base_url + confirm_path(settings.secret_key, facts["id"])
    locale: Locale = "en" if facts["locale"] == "en" else "zh-CN"
    tz = zone(facts["timezone"])
    message = render_confirmation(
        locale=facts["locale"],
        name=facts["name"],
        email=facts["email"],
        org_name=org_name(facts["org_name"], facts["org_name_en"], locale),
        title=facts["title"],
        when=wall_clock(facts["starts_at"], tz),
        until=wall_clock(facts["expires_at"], tz),
        link=link,
        mail_from=settings.mail_from,
        now=now,
    )
    return Letter(facts["email"], message)


#: kind -> how its message is composed (the renderers live in `events_svc.mail`)
KINDS: dict[str, Compose] = {signin.MAIL_KIND: _sign_in, CONFIRMATION: _confirmation}

Result = Literal["sent", "failed", "retry", "noop"]


async def send(
    *, mail_id: uuid.UUID, settings: Settings, smtp: SmtpPool, now: datetime
) -> tuple[Result, dict[str, Any] | None, datetime | None]:
    """Send one row; returns the outcome, the row and (for a retry) when to try again, for
    the caller to enqueue after the row is recorded."""
    row = await sidemail.claim(mail_id=mail_id, now=now, lease=settings.send_lease)
    if row is None:
        return "noop", None, None
    if now >= row["expires_at"]:
        await _failed(row, "the link expired")
        return "failed", row, None
    compose = KINDS.get(row["kind"])
    letter = await compose(row, settings, now) if compose is not None else None
    if letter is None:
        await _failed(row, f"nothing to send: its {row['kind']} is gone")
        return "failed", row, None
    try:
        await smtp.send(
            sender=settings.mail_from, recipient=letter.recipient, message=letter.message
        )
    except PermanentSendError as exc:
        await _failed(row, str(exc), letter.recipient)
        return "failed", row, None
    except TransientSendError as exc:
        retry_at = now + backoff(row["attempts"], settings.send_retry_first)
        await sidemail.record(mail_id=row["id"], status="queued", error=str(exc), retry_at=retry_at)
        telemetry.side_mail_outcome(row, "retry", recipient=letter.recipient, detail=str(exc))
        return "retry", row, retry_at
    await sidemail.record(mail_id=row["id"], status="sent")
    telemetry.side_mail_outcome(row, "sent", recipient=letter.recipient)
    return "sent", row, None


async def _failed(row: dict[str, Any], error: str, recipient: str | None = None) -> None:
    await sidemail.record(mail_id=row["id"], status="failed", error=error)
    telemetry.side_mail_outcome(row, "failed", recipient=recipient, detail=error)
