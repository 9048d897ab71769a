"""Request and response bodies of webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

EventKind = Literal["rsvp.changed", "delivery.failed"]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True):
    #: http(s) URL the deliveries are POSTed to; no credentials, no spaces
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    events: Annotated[list[EventKind], msgspec.Meta(min_length=1, max_length=10)]
    #: HMAC-SHA256 key for the signatures; generated when not given
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=200)] | None = None


class WebhookOut(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    created_at: datetime
    revoked_at: datetime | None


class WebhookCreated(msgspec.Struct):
    """A new webhook; its secret is shown only in this answer."""

    id: str
    url: str
    events: list[str]
    secret: str
    created_at: datetime


class DeliveryOut(msgspec.Struct):
    id: str  #: also the payload's "id" and the X-Events-Svc-Delivery header
    kind: str  #: rsvp.changed / delivery.failed
    status: str  #: queued / sending / delivered / failed / skipped
    attempts: int
    last_status_code: int | None  #: HTTP status of the last answer (null: none came)
    #: why the last attempt failed, as fixed text ("receiver answered 500", "timeout",
    #: "connection refused", "destination not allowed: private address" ...); why it was
    #: skipped. Never the receiver's body or headers.
    last_error: str
    next_attempt_at: datetime  #: for a queued delivery: when it is tried (again)
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next: str | None  #: pass as `cursor` for the next page; null on the last
