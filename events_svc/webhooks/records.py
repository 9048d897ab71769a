"""Typed records the webhooks service returns; controllers map them to response schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """An endpoint as its organization sees it (never its secret)."""

    id: str
    url: str
    events: list[str]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedWebhookRecord:
    """A new endpoint; its secret is shown once, here."""

    id: str
    url: str
    events: list[str]
    secret: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery to an endpoint, with its outcome so far."""

    id: str
    kind: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
