"""Prometheus metrics that processes count as they work, and the sender's one log line per
message; the sender, the SMTP pool and the webhook job call the small hooks below.

Several processes: with PROMETHEUS_MULTIPROC_DIR set (before the process starts) the counters
and histograms of every uvicorn worker of one `serve` go to files there, and `/metrics` adds
them up (`events_svc.metrics_http`). A worker process (`events-svc worker`) serves its own on
WORKER_METRICS_PORT. Gauges that describe the whole service (outbox rows, queue depth,
heartbeat ages) are read from PostgreSQL and Redis when `/metrics` is scraped, not counted here.

`METRICS=off` turns every hook into a no-op (the API then also skips its per-request timing).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

log = logging.getLogger("events_svc.sent")

enabled = True
#: the API writes one JSON line per request (uvicorn's own access log is off in JSON mode)
access_log = True

HTTP_REQUESTS = Counter(
    "events_svc_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "events_svc_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MESSAGES = Counter(
    "events_svc_messages",
    "Outbox rows processed by a worker, by kind and outcome (sent, retried, failed, skipped)",
    ["kind", "outcome"],
)
SMTP_SECONDS = Histogram(
    "events_svc_smtp_send_seconds",
    "Time the SMTP server took to accept (or refuse) one message",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REMINDER_LATENESS = Histogram(
    "events_svc_reminder_lateness_seconds",
    "From a reminder's due time to its acceptance by the SMTP server",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
WEBHOOKS = Counter(
    "events_svc_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retry, failed, skipped)",
    ["outcome"],
)

_OUTCOMES = {"sent": "sent", "retry": "retried", "failed": "failed", "skipped": "skipped"}


def configure(*, on: bool, access_log: bool = True) -> None:
    global enabled
    enabled = on
    globals()["access_log"] = access_log


def smtp_timer() -> float:
    return time.perf_counter()


def smtp_done(started: float) -> None:
    if enabled:
        SMTP_SECONDS.observe(time.perf_counter() - started)


def message_sent(row: dict[str, Any], *, message_id: str, response: str) -> None:
    """The one line per accepted message (grep the recipient, read the Message-ID), and the
    reminder's lateness."""
    log.info(
        "sent %s to %s",
        row["kind"],
        row.get("email"),
        extra={
            "event_id": str(row["event"]),
            "notification_id": str(row["id"]),
            "kind": row["kind"],
            "recipient": row.get("email"),
            "message_id": message_id,
            "smtp_response": response[:200],
            "attempt": row.get("attempts"),
        },
    )
    if enabled and row["kind"] == "reminder" and row.get("next_attempt_at") is not None:
        late = (datetime.now(UTC) - row["next_attempt_at"]).total_seconds()
        REMINDER_LATENESS.observe(max(late, 0.0))


def message_outcome(row: dict[str, Any], status: str, detail: str = "") -> None:
    """Counts the outcome; a failure or a retry is a log line with the recipient and the
    server's reply too."""
    outcome = _OUTCOMES.get(status)
    if enabled and outcome is not None:
        MESSAGES.labels(row["kind"], outcome).inc()
    if status in ("failed", "retry"):
        log.warning(
            "%s %s to %s: %s",
            "failed" if status == "failed" else "will retry",
            row["kind"],
            row.get("email"),
            detail,
            extra={
                "event_id": str(row["event"]),
                "notification_id": str(row["id"]),
                "kind": row["kind"],
                "recipient": row.get("email"),
                "outcome": outcome,
                "attempt": row.get("attempts"),
            },
        )


def webhook_outcome(status: str) -> None:
    if enabled:
        WEBHOOKS.labels(status).inc()


def side_mail_outcome(
    row: dict[str, Any], status: str, *, recipient: str | None = None, detail: str = ""
) -> None:
    """A side mail's outcome (a sign-in link, a registration's confirmation), counted by kind
    like the outbox's messages; one log line with its id and recipient, never its link."""
    outcome = _OUTCOMES.get(status)
    if enabled and outcome is not None:
        MESSAGES.labels(row["kind"], outcome).inc()
    if outcome is None:
        return
    log.log(
        logging.INFO if status == "sent" else logging.WARNING,
        "%s %s to %s%s",
        {"sent": "sent", "failed": "failed", "retry": "will retry"}.get(status, status),
        row["kind"],
        recipient,
        f": {detail}" if detail else "",
        extra={
            "side_mail_id": str(row["id"]),
            "kind": row["kind"],
            "recipient": recipient,
            "outcome": outcome,
            "attempt": row.get("attempts"),
        },
    )
