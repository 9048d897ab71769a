"""HTTP routes of webhooks."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from events_svc import paging
from events_svc.deps import BEARER, CALLER, Cursor, Limit
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings
from events_svc.webhooks import service
from events_svc.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    dependencies = CALLER
    security = BEARER

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problems(401, 409),
        summary="Register a URL for rsvp.changed and/or delivery.failed; answers its secret once",
        description="Deliveries are POSTed as JSON with X-Events-Svc-Event, -Delivery, "
        "-Timestamp and -Signature (`sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` "
        "with the secret). A 2xx answer within the timeout counts; anything else is retried "
        "with backoff. Redirects are not followed. The URL's host must be (and resolve only "
        "to) public addresses: loopback, private, link-local and other internal ones are "
        "refused (422), here and again at every delivery.",
    )
    async def create_webhook(
        self,
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        data: JSONBody[WebhookCreate],
    ) -> WebhookCreated:
        row = await service.create_webhook(
            org_id=caller.org_id,
            url=data.url,
            events=list(data.events),
            secret=data.secret,
            allow_private=settings.webhook_allow_private,
        )
        return msgspec.convert(row, WebhookCreated, from_attributes=True)

    @get("/", responses=problems(401), summary="The organization's webhooks (no secrets)")
    async def list_webhooks(self, caller: NamedDependency[Caller]) -> list[WebhookOut]:
        rows = await service.list_webhooks(org_id=caller.org_id)
        return msgspec.convert(rows, list[WebhookOut], from_attributes=True)

    @delete(
        "/{webhook_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(401, 404),
        summary="Revoke a webhook: nothing more is delivered to it",
    )
    async def revoke_webhook(
        self, caller: NamedDependency[Caller], webhook_id: FromPath[str]
    ) -> None:
        await service.revoke_webhook(
            org_id=caller.org_id, webhook_id=service.webhook_uuid(webhook_id)
        )

    @get(
        "/{webhook_id:str}/deliveries",
        responses=problems(401, 404),
        summary="A webhook's deliveries, newest first, with attempts and outcomes",
    )
    async def list_deliveries(
        self,
        caller: NamedDependency[Caller],
        webhook_id: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> DeliveryPage:
        rows, next_cursor = await service.list_deliveries(
            org_id=caller.org_id,
            webhook_id=service.webhook_uuid(webhook_id),
            cursor=cursor,
            limit=paging.page_limit(limit),
        )
        return DeliveryPage(
            items=msgspec.convert(rows, list[DeliveryOut], from_attributes=True),
            next=next_cursor,
        )
