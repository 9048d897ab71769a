"""An organization's webhook endpoints (register, list, revoke) and emitting deliveries: rows
written in the transaction of the change that causes them."""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import httpx
import msgspec

from events_svc import __version__, paging
from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.webhooks import destinations
from events_svc.webhooks.destinations import DestinationRefused, ResolutionFailed
from events_svc.webhooks.records import CreatedWebhookRecord, DeliveryRecord, WebhookRecord
from events_svc.webhooks.tables import Webhook, WebhookDelivery

log = logging.getLogger("events_svc.webhooks")

Kind = Literal["rsvp.changed", "delivery.failed"]
KINDS: tuple[str, ...] = get_args(Kind)
#: active webhooks per organization: bounds the rows one change writes
MAX_WEBHOOKS = 20
MAX_URL = 2000
PAGE = 50
USER_AGENT = f"events-svc-webhooks/{__version__}"
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def webhook_uuid(ref: str) -> uuid.UUID:
    """A webhook id from the path; a malformed one is a 404, like an unknown webhook."""
    ref = ref.lower()
    if not _UUID_RE.match(ref):
        raise NotFound("webhook not found")
    return uuid.UUID(ref)


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks (None when it can)."""
    if not url or len(url) > MAX_URL:
        return f"must be a URL of at most {MAX_URL} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host, e.g. https://hooks.example.org/events-svc"
    if "@" in parts.netloc:
        return "must not contain credentials (user:password@); authenticate with the signature"
    if port == 0:
        return "port must be a number from 1 to 65535"
    if parts.fragment or url.endswith("#"):
        return "must not contain a #fragment (it is never sent)"
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"{url!r} is not a valid URL: {exc}"
    return None


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _webhook_out(row: dict[str, Any]) -> WebhookRecord:
    events = row["events"]
    return WebhookRecord(
        id=str(row["id"]),
        url=row["url"],
        events=json.loads(events) if isinstance(events, str) else events,
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def destination_problem(url: str) -> str | None:
    """Why a well-formed `url` must not receive webhooks: its host is (or resolves to) a
    non-public address, or does not resolve (None when every address is public)."""
    try:
        await destinations.check(url)
    except (DestinationRefused, ResolutionFailed) as exc:
        return exc.reason
    return None


async def create_webhook(
    *,
    org_id: uuid.UUID,
    url: str,
    events: list[str],
    secret: str | None = None,
    allow_private: bool = False,
) -> CreatedWebhookRecord:
    """Register an endpoint; the answer carries the secret (generated when not given).
    Unless `allow_private` (WEBHOOK_ALLOW_PRIVATE), its host must be public."""
    problem = url_problem(url)
    if not allow_private:
        # an address form the HTTP client rejects is still named for what it is
        problem = destinations.literal_refusal(url) or problem
        if problem is None:
            problem = await destination_problem(url)
    if problem:
        raise InvalidInput.field("url", problem)
    unknown = [e for e in events if e not in KINDS]
    if unknown or not events:
        raise InvalidInput.field("events", f"use a non-empty subset of {', '.join(KINDS)}")
    if secret is not None:
        if len(secret) < 16 or len(secret) > 200:
            raise InvalidInput.field("secret", "must be 16 to 200 characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in secret):
            raise InvalidInput.field("secret", "must not contain control characters")
    secret = secret if secret is not None else new_secret()
    kinds = [k for k in KINDS if k in events]  # each once, in a stable order
    async with Webhook._meta.db.transaction():
        # The organization's row lock makes the count below hold against concurrent creates.
        await Webhook.raw("SELECT 1 FROM organization WHERE id = {} FOR UPDATE", org_id)
        active = await Webhook.raw(
            "SELECT count(*) AS n FROM webhook WHERE org = {} AND revoked_at IS NULL", org_id
        )
        if active[0]["n"] >= MAX_WEBHOOKS:
            raise Conflict(
                f"an organization can have at most {MAX_WEBHOOKS} active webhooks; revoke one first"
            )
        rows = await Webhook.raw(
            "INSERT INTO webhook (id, org, url, secret, events) VALUES ({}, {}, {}, {}, {}::jsonb)"
            " RETURNING id, url, events, created_at, revoked_at",
            uuid.uuid4(),
            org_id,
            url,
            secret,
            json.dumps(kinds),
        )
    hook = _webhook_out(rows[0])
    return CreatedWebhookRecord(
        id=hook.id, url=hook.url, events=hook.events, secret=secret, created_at=hook.created_at
    )


async def list_webhooks(*, org_id: uuid.UUID) -> list[WebhookRecord]:
    """The organization's webhooks, revoked ones included (with `revoked_at`); no secrets."""
    rows = await Webhook.raw(
        "SELECT id, url, events, created_at, revoked_at FROM webhook WHERE org = {}"
        " ORDER BY created_at, id",
        org_id,
    )
    return [_webhook_out(r) for r in rows]


async def revoke_webhook(
    *, org_id: uuid.UUID, webhook_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Stop deliveries to a webhook: what is still queued is skipped. Revoking twice keeps
    the first time; another organization's webhook is a 404."""
    async with Webhook._meta.db.transaction():
        rows = await Webhook.raw(
            "UPDATE webhook SET revoked_at = coalesce(revoked_at, {}::timestamptz)"
            " WHERE id = {} AND org = {} RETURNING id",
            now or datetime.now(UTC),
            webhook_id,
            org_id,
        )
        if not rows:
            raise NotFound("webhook not found")
        await WebhookDelivery.raw(
            "UPDATE webhook_delivery SET status = 'skipped', last_error = 'webhook revoked'"
            " WHERE webhook = {} AND status = 'queued'",
            webhook_id,
        )


async def list_deliveries(
    *, org_id: uuid.UUID, webhook_id: uuid.UUID, cursor: str | None = None, limit: int = PAGE
) -> tuple[list[DeliveryRecord], str | None]:
    """A webhook's deliveries, newest first, with their outcome so far; and the cursor of
    the next page (None on the last)."""
    after = paging.decode_keyset(cursor, "deliveries", size=2) if cursor else None
    owned = await Webhook.raw(
        "SELECT 1 FROM webhook WHERE id = {} AND org = {}", webhook_id, org_id
    )
    if not owned:
        raise NotFound("webhook not found")
    rows = await WebhookDelivery.raw(
        "SELECT id, kind, status, attempts, last_status_code, last_error, next_attempt_at,"
        " created_at, delivered_at FROM webhook_delivery WHERE webhook = {}"
        # keyset paging: the page starts after the last (created_at, id) given
        " AND ({}::boolean OR (created_at, id) < ({}::timestamptz, {}::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT {}",
        webhook_id,
        after is None,
        after[0] if after else None,
        after[2] if after else None,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = paging.encode_cursor(
            "deliveries", last["created_at"].isoformat(), str(last["id"])
        )
    return [DeliveryRecord(**{**r, "id": str(r["id"])}) for r in rows], next_cursor


async def emit(
    *,
    org_id: uuid.UUID,
    kind: Literal["rsvp.changed", "delivery.failed"],
    data: dict[str, Any],
    key: str | None = None,
) -> list[dict[str, Any]]:
    """One delivery row per active webhook of the organization subscribed to `kind`; call
    inside the caller's transaction and pass the result to `jobs.enqueue_webhooks` after
    commit. With a `key`, emitting the same thing again adds nothing (and returns no row).

    The payload is {"id": <delivery id>, "type": kind, "created_at": ..., "data": data};
    `data` may hold UUIDs and datetimes (they become strings).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown webhook event kind {kind!r}")
    rows = await WebhookDelivery.raw(
        "INSERT INTO webhook_delivery (id, webhook, kind, key, payload)"
        " SELECT s.id, s.webhook, {}, {}, jsonb_build_object('id', s.id, 'type', {}::text,"
        "  'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        "  'data', {}::jsonb)"
        " FROM (SELECT gen_random_uuid() AS id, w.id AS webhook FROM webhook w"
        "  WHERE w.org = {} AND w.revoked_at IS NULL AND w.events @> {}::jsonb) s"
        " ON CONFLICT (webhook, key) DO NOTHING RETURNING id, attempts",
        kind,
        key,
        kind,
        msgspec.json.encode(data).decode(),
        org_id,
        json.dumps([kind]),
    )
    return list(rows)
