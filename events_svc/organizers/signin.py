"""Sign-in by e-mail link: asking for a link, the link itself, and redeeming it.

A request makes a random nonce per organizer row of the address, keeps
`{organizer, browser}` under it in Redis for `LINK_TTL` seconds, and queues a side mail
(`sidemail`, kind `sign-in`) naming the nonce. The link carries the nonce
and an HMAC of it under SECRET_KEY, computed when the message is rendered: the database row
alone signs nobody in. Redeeming checks the HMAC, that the browser is the one that asked (a
hash of its cookie), and deletes the Redis record: a link works once, and not after 15
minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc.organizers import service
from events_svc.orgs.tables import Organizer
from events_svc.sidemail import service as sidemail

PREFIX = "events-svc:console:sign-in:"
LINK_TTL = 15 * 60  # seconds
#: the side-mail kind of the sign-in e-mail (its X-Notification-Kind too)
MAIL_KIND = "sign-in"


@dataclass(frozen=True, slots=True)
class Redeemed:
    organizer_id: uuid.UUID
    org_id: uuid.UUID


def _mac(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), b"console-sign-in:" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode().rstrip("=")


def link_token(secret: str, nonce: str) -> str:
    return f"{nonce}.{_mac(secret, nonce)}"


def sign_in_path(secret: str, nonce: str) -> str:
    return f"/console/sign-in/{link_token(secret, nonce)}"


def binding_hash(browser: str | None) -> str | None:
    return hashlib.sha256(browser.encode()).hexdigest() if browser else None


async def request_links(
    redis: Any, *, email: str, browser: str | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Queue a sign-in e-mail for every organizer row of `email` (none when the address is
    unknown or not an address: the caller answers the same either way); returns the mail
    rows (`id`, `attempts`) to enqueue after this returns."""
    try:
        found = await service.organizers_for_address(email=email)
    except Exception:  # noqa: BLE001 - an address that is not one finds nobody
        found = []
    if not found:
        return []
    now = now or datetime.now(UTC)
    nonces = []
    for organizer in found:
        nonce = secrets.token_urlsafe(24)
        nonces.append(nonce)
        await redis.set(
            PREFIX + nonce,
            json.dumps(
                {
                    "organizer": str(organizer.id),
                    "org": str(organizer.org_id),
                    "browser": binding_hash(browser),
                }
            ),
            ex=LINK_TTL,
        )
    queued: list[dict[str, Any]] = []
    async with Organizer._meta.db.transaction():
        for organizer, nonce in zip(found, nonces, strict=True):
            queued.append(
                await sidemail.queue(
                    kind=MAIL_KIND,
                    about=organizer.id,
                    nonce=nonce,
                    now=now,
                    expires_at=now + timedelta(seconds=LINK_TTL),
                )
            )
    return queued


async def dev_link(redis: Any, *, organizer_id: uuid.UUID, org_id: uuid.UUID, secret: str) -> str:
    """A link for `events-svc dev`, bound to no browser (it is printed, not mailed)."""
    nonce = secrets.token_urlsafe(24)
    record = {"organizer": str(organizer_id), "org": str(org_id), "browser": None}
    await redis.set(PREFIX + nonce, json.dumps(record), ex=LINK_TTL)
    return sign_in_path(secret, nonce)


async def peek(redis: Any, *, secret: str, token: str) -> bool:
    """Whether the link is genuine and still unused (a GET shows the button, consuming
    nothing: mail scanners follow links)."""
    nonce, _, mac = token.partition(".")
    if not nonce or not hmac.compare_digest(mac.encode(), _mac(secret, nonce).encode()):
        return False
    return bool(await redis.exists(PREFIX + nonce))


async def redeem(redis: Any, *, secret: str, token: str, browser: str | None) -> Redeemed | None:
    """The organizer the link signs in, once; None for a forged, used, expired or
    other-browser link."""
    nonce, _, mac = token.partition(".")
    if not nonce or len(token) > 200:
        return None
    if not hmac.compare_digest(mac.encode(), _mac(secret, nonce).encode()):
        return None
    raw = await redis.get(PREFIX + nonce)
    if raw is None:
        return None
    record = json.loads(raw)
    bound = record.get("browser")
    if bound is not None:
        given = binding_hash(browser)
        if given is None or not hmac.compare_digest(bound, given):
            return None  # not the browser that asked: the link stays usable there
    if not await redis.delete(PREFIX + nonce):
        return None  # redeemed at the same moment by another request
    return Redeemed(organizer_id=uuid.UUID(record["organizer"]), org_id=uuid.UUID(record["org"]))


# --- what the sign-in e-mail says (the side-mail worker renders it) ------------------------


async def mail_facts(organizer_id: uuid.UUID) -> dict[str, Any] | None:
    """The organizer's address, name and language, with the organization's names; None
    when the organizer is gone."""
    rows = await Organizer.raw(
        "SELECT o.email, o.name, o.locale, g.name AS org_name, g.name_en AS org_name_en"
        " FROM organizer o JOIN organization g ON g.id = o.org WHERE o.id = {}",
        organizer_id,
    )
    return dict(rows[0]) if rows else None
