"""Sign-in by e-mail link: asking for a link, the link itself, and redeeming it.

A request makes a random nonce per organizer row of the address, keeps
`{organizer, browser}` under it in Redis for `LINK_TTL` seconds, and writes a `console_mail`
row naming the nonce (the e-mail goes out through that outbox). The link carries the nonce
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
from events_svc.organizers.tables import ConsoleMail

PREFIX = "events-svc:console:sign-in:"
LINK_TTL = 15 * 60  # seconds


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
    rows: list[dict[str, Any]] = []
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
        rows.append({"id": uuid.uuid4(), "organizer": organizer.id, "nonce": nonce})
    async with ConsoleMail._meta.db.transaction():
        for row in rows:
            await ConsoleMail.insert(
                ConsoleMail(
                    id=row["id"],
                    organizer=row["organizer"],
                    nonce=row["nonce"],
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return [{"id": r["id"], "attempts": 0} for r in rows]


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


# --- the outbox rows of sign-in mail (claimed and recorded by the worker) -------------------


async def claim_mail(*, mail_id: uuid.UUID, now: datetime, lease: float) -> dict[str, Any] | None:
    """Take one queued (or abandoned) row; returns it with the organizer and organization."""
    rows = await ConsoleMail.raw(
        "UPDATE console_mail m SET status = 'sending', attempts = m.attempts + 1,"
        " claimed_at = {} FROM organizer o, organization g"
        " WHERE m.id = {} AND o.id = m.organizer AND g.id = o.org AND m.next_attempt_at <= {}"
        " AND (m.status = 'queued' OR (m.status = 'sending' AND m.claimed_at < {}))"
        " RETURNING m.id, m.nonce, m.attempts, m.created_at, o.email, o.name, o.locale,"
        " g.name AS org_name, g.name_en AS org_name_en",
        now,
        mail_id,
        now,
        now - timedelta(seconds=lease),
    )
    return dict(rows[0]) if rows else None


async def record_mail(
    *, mail_id: uuid.UUID, status: str, error: str = "", retry_at: datetime | None = None
) -> None:
    """The outcome: sent, failed (with the error), or queued again for `retry_at`."""
    if status == "queued":
        await ConsoleMail.raw(
            "UPDATE console_mail SET status = 'queued', last_error = {}, next_attempt_at = {}"
            " WHERE id = {}",
            error,
            retry_at,
            mail_id,
        )
    else:
        await ConsoleMail.raw(
            "UPDATE console_mail SET status = {}, last_error = {},"
            " sent_at = CASE WHEN {} = 'sent' THEN now() ELSE NULL END WHERE id = {}",
            status,
            error,
            status,
            mail_id,
        )


async def mail_due(*, now: datetime, grace: float, lease: float) -> list[dict[str, Any]]:
    """Rows the sweep enqueues again: queued past the grace, or held by a worker too long.
    Rows older than a link are dropped (their link no longer works)."""
    await ConsoleMail.raw(
        "UPDATE console_mail SET status = 'failed', last_error = 'the link expired unsent'"
        " WHERE status IN ('queued', 'sending') AND created_at < {}",
        now - timedelta(seconds=LINK_TTL),
    )
    rows = await ConsoleMail.raw(
        "SELECT id, attempts FROM console_mail WHERE (status = 'queued' AND next_attempt_at <= {})"
        " OR (status = 'sending' AND claimed_at < {}) LIMIT 1000",
        now - timedelta(seconds=grace),
        now - timedelta(seconds=lease),
    )
    return [dict(r) for r in rows]
