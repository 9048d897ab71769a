"""Delivering webhook rows: claim, sign, post (to checked destinations only), record, sweep."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import msgspec

from events_svc.jobs import backoff
from events_svc.settings import Settings
from events_svc.webhooks import destinations
from events_svc.webhooks.destinations import Destination, DestinationRefused, ResolutionFailed
from events_svc.webhooks.endpoints import USER_AGENT, log
from events_svc.webhooks.tables import WebhookDelivery

# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["delivered", "failed", "skipped", "retry", "noop"]
    detail: str = ""
    #: for "retry": when to try again, and the row (id, attempts) for the next job id
    retry_at: datetime | None = None
    row: dict[str, Any] | None = None


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
