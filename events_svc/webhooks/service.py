"""Webhooks: registering endpoints, emitting deliveries, and signing, posting and recording them.

Like the mail outbox, every delivery is a row first, written in the transaction of the change
that causes it (`emit`); a job claims the row atomically, POSTs the signed payload and records
the answer, retrying with backoff. Raw SQL is used where the query builder would cost more.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import httpx
import msgspec

from events_svc import __version__, paging
from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.settings import Settings
from events_svc.webhooks import destinations
from events_svc.webhooks.destinations import Destination, DestinationRefused, ResolutionFailed
from events_svc.webhooks.tables import Webhook, WebhookDelivery

log = logging.getLogger("events_svc.webhooks")

Kind = Literal["rsvp.changed", "delivery.failed"]
KINDS: tuple[str, ...] = get_args(Kind)
#: active webhooks per organization: bounds the rows one change writes
MAX_WEBHOOKS = 20
MAX_URL = 2000
PAGE = 50
MAX_BACKOFF = timedelta(hours=1)
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


def _webhook_out(row: dict[str, Any]) -> dict[str, Any]:
    events = row["events"]
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "events": json.loads(events) if isinstance(events, str) else events,
        "created_at": row["created_at"],
        "revoked_at": row["revoked_at"],
    }


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
) -> dict[str, Any]:
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
    return {**_webhook_out(rows[0]), "secret": secret}


async def list_webhooks(*, org_id: uuid.UUID) -> list[dict[str, Any]]:
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
) -> tuple[list[dict[str, Any]], str | None]:
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
    return [{**r, "id": str(r["id"])} for r in rows], next_cursor


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


# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["delivered", "failed", "skipped", "retry", "noop"]
    detail: str = ""
    #: for "retry": when to try again, and the row (id, attempts) for the next job id
    retry_at: datetime | None = None
    row: dict[str, Any] | None = None


def backoff(attempts: int, first: float) -> timedelta:
    """first, 2 x first, 4 x first, ... capped at an hour."""
    return min(timedelta(seconds=first * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Events-Svc-Signature value: HMAC-SHA256 over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def http_client(*, timeout: float) -> httpx.AsyncClient:
    """The worker's one client for all deliveries (connections are reused per host)."""
    # trust_env=False: a proxy from the environment would be handed the checked address and
    # could go anywhere from there; deliveries connect to the address that was checked
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
    )


_CLAIM_SQL = (
    # A revoked webhook's delivery is settled as skipped by the same statement, uncounted.
    "UPDATE webhook_delivery d SET"
    " status = CASE WHEN w.revoked_at IS NULL THEN 'sending' ELSE 'skipped' END,"
    " attempts = d.attempts + CASE WHEN w.revoked_at IS NULL THEN 1 ELSE 0 END,"
    " claimed_at = CASE WHEN w.revoked_at IS NULL THEN {}::timestamptz END,"
    " last_error = CASE WHEN w.revoked_at IS NULL THEN d.last_error ELSE 'webhook revoked' END"
    " FROM webhook w WHERE d.id = {} AND w.id = d.webhook"
    " AND ((d.status = 'queued' AND d.next_attempt_at <= {})"
    "  OR (d.status = 'sending' AND d.claimed_at < {}))"
    " RETURNING d.id, d.kind, d.payload, d.attempts, d.status, d.created_at, w.url, w.secret"
)


async def claim(*, delivery_id: uuid.UUID, now: datetime, lease: float) -> dict[str, Any] | None:
    """Take a due row for sending, atomically, with its URL and secret; None when it is not
    due or another worker has it (a claim older than the lease is taken over)."""
    rows = await WebhookDelivery.raw(
        _CLAIM_SQL, now, delivery_id, now, now - timedelta(seconds=lease)
    )
    return rows[0] if rows else None


def body_of(payload: Any) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON, keys in a readable order."""
    value = json.loads(payload) if isinstance(payload, str) else payload
    ordered = {k: value[k] for k in ("id", "type", "created_at", "data") if k in value}
    return msgspec.json.encode(ordered)


def _connect_reason(exc: BaseException) -> str:
    """A fixed reason for a connection that could not be made (the cause is in the chain)."""
    seen: BaseException | None = exc
    for _ in range(10):  # bounded: a cause chain is short, but never trusted to end
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, ssl.SSLCertVerificationError):
            return "TLS certificate not valid for the host"
        if isinstance(seen, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(seen, OSError) and "refused" in str(seen).lower():
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    return "connection failed"


async def _post(
    client: httpx.AsyncClient, to: Destination, *, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST to the first address that takes the connection: the status code and, unless it
    is a 2xx, a fixed reason. The receiver's body and headers are never read into it."""
    for n, url in enumerate(to.urls, start=1):
        try:
            async with client.stream(
                "POST",
                url,
                content=body,
                headers={**headers, **to.headers},
                extensions=to.extensions,
            ) as resp:
                code = resp.status_code
        except httpx.ConnectError as exc:
            if n < len(to.urls):
                continue  # another address of the same (checked) name may answer
            return None, _connect_reason(exc)
        if 200 <= code < 300:
            return code, ""
        if 300 <= code < 400:
            return code, f"receiver answered {code} (redirects are not followed)"
        return code, f"receiver answered {code}"
    return None, "connection failed"


async def _attempt(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    within: float,
    allow_private: bool,
) -> tuple[int | None, str, bool]:
    """Check the destination, then POST to the address checked: status code, fixed reason
    (empty for a 2xx) and whether the failure is final (a refused destination)."""
    try:
        # httpx's timeout bounds each read; this bounds the whole exchange (DNS, a slow drip)
        async with asyncio.timeout(within):
            if allow_private:
                to = destinations.unchecked(url)
            else:
                to = await destinations.check(
                    url, dns_timeout=min(destinations.DNS_TIMEOUT, within)
                )
            code, error = await _post(client, to, body=body, headers=headers)
            return code, error, False
    except DestinationRefused as exc:
        return None, exc.reason, True
    except ResolutionFailed as exc:
        return None, exc.reason, False
    except (TimeoutError, httpx.TimeoutException):
        return None, "timeout", False
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        return None, "connection broken by the receiver", False
    except httpx.HTTPError:
        return None, "request failed", False
    except Exception:  # noqa: BLE001 - recorded and retried like any failure, not lost
        log.exception("webhook POST failed unexpectedly")
        return None, "request failed", False


async def deliver(
    *,
    delivery_id: uuid.UUID,
    settings: Settings,
    client: httpx.AsyncClient,
    now: datetime | None = None,
) -> Outcome:
    """Claim, sign, POST and record one delivery. Idempotent: a settled row is a no-op."""
    now = now or datetime.now(UTC)
    row = await claim(delivery_id=delivery_id, now=now, lease=settings.webhook_lease)
    if row is None:
        return Outcome("noop")
    if row["status"] == "skipped":
        return Outcome("skipped", "webhook revoked")
    body = body_of(row["payload"])
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Events-Svc-Event": row["kind"],
        "X-Events-Svc-Delivery": str(row["id"]),
        "X-Events-Svc-Timestamp": timestamp,
        "X-Events-Svc-Signature": signature(row["secret"], timestamp, body),
    }
    code, error, final = await _attempt(
        client,
        row["url"],
        body=body,
        headers=headers,
        within=settings.webhook_timeout,
        allow_private=settings.webhook_allow_private,
    )
    done = datetime.now(UTC)
    if not error:
        await WebhookDelivery.raw(
            "UPDATE webhook_delivery SET status = 'delivered', delivered_at = {},"
            " last_status_code = {}, last_error = '', claimed_at = NULL WHERE id = {}",
            done,
            code,
            row["id"],
        )
        return Outcome("delivered", str(code))
    retry_at = done + backoff(row["attempts"], settings.webhook_retry_first)
    gave_up = (
        row["attempts"] >= settings.webhook_max_attempts
        or (retry_at - row["created_at"]).total_seconds() > settings.webhook_give_up_after
    )
    if final or gave_up:
        if not final:  # a refused destination ends it at once: nothing was sent, nor will be
            error = f"gave up after {row['attempts']} attempt(s): {error}"
        await WebhookDelivery.raw(
            "UPDATE webhook_delivery SET status = 'failed', last_status_code = {},"
            " last_error = {}, claimed_at = NULL WHERE id = {}",
            code,
            error[:2000],
            row["id"],
        )
        return Outcome("failed", error)
    await WebhookDelivery.raw(
        "UPDATE webhook_delivery SET status = 'queued', next_attempt_at = {},"
        " last_status_code = {}, last_error = {}, claimed_at = NULL"
        " WHERE id = {} AND status = 'sending'",
        retry_at,
        code,
        error[:2000],
        row["id"],
    )
    return Outcome(
        "retry", error, retry_at=retry_at, row={"id": row["id"], "attempts": row["attempts"]}
    )


async def due_for_sweep(
    *, now: datetime, grace: float, lease: float, limit: int = 10_000
) -> list[dict[str, Any]]:
    """Rows that should be in the queue but may not be: queued and due for a while, or
    claimed by a worker that has not finished within the lease (it probably died)."""
    rows = await WebhookDelivery.raw(
        "SELECT id, attempts FROM webhook_delivery"
        " WHERE (status = 'queued' AND next_attempt_at <= {})"
        " OR (status = 'sending' AND claimed_at < {})"
        " ORDER BY next_attempt_at LIMIT {}",
        now - timedelta(seconds=grace),
        now - timedelta(seconds=lease),
        limit,
    )
    return list(rows)
