"""Webhooks: registering endpoints, emitting deliveries, and signing, posting and recording them.

Like the mail outbox, every delivery is a row first, written in the transaction of the change
that causes it (endpoints); workers post it and record the outcome (delivery)."""

from __future__ import annotations

from events_svc.webhooks.delivery import (
    deliver,
    due_for_sweep,
    http_client,
)
from events_svc.webhooks.endpoints import (
    MAX_WEBHOOKS,
    create_webhook,
    emit,
    list_deliveries,
    list_webhooks,
    log,
    revoke_webhook,
    webhook_uuid,
)

__all__ = [
    "MAX_WEBHOOKS",
    "create_webhook",
    "deliver",
    "due_for_sweep",
    "emit",
    "http_client",
    "list_deliveries",
    "list_webhooks",
    "log",
    "revoke_webhook",
    "webhook_uuid",
]
