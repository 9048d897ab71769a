"""HTTP routes of send progress: `GET /events/{id}/deliveries`, `GET /orgs/me/deliveries`, and
`POST /events/{id}/deliveries/{notification_id}/retry` for one failed message."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.status_codes import HTTP_202_ACCEPTED

from events_svc import paging
from events_svc.deliveries.schemas import (
    EventDeliveries,
    FailureOut,
    FailurePage,
    OrgDeliveries,
    Retried,
)
from events_svc.deps import BEARER, CALLER, QUEUE, Cursor, Limit
from events_svc.errors import NotFound
from events_svc.events.service import event_uuid
from events_svc.jobs import enqueue_notifications
from events_svc.notifications import deliveries as progress
from events_svc.notifications.records import DeliveriesRecord
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    when, _, ident = paging.decode_keyset(cursor, "failures", size=2)
    return when, ident


def _page(result: DeliveriesRecord, *, size: int) -> FailurePage:
    """The failures as a page of the one listing shape: `items` and the `next` cursor."""
    items = result.failures[:size]
    more = len(result.failures) > size
    last = items[-1] if items else None
    return FailurePage(
        items=[
            FailureOut(
                id=f.id,
                event_id=f.event_id,
                kind=f.kind,
                email=f.email,
                attempts=f.attempts,
                smtp_reply=f.smtp_reply,
                created_at=f.created_at,
                last_attempt_due_at=f.last_attempt_due_at,
            )
            for f in items
        ],
        next=paging.encode_cursor("failures", last.created_at.isoformat(), str(last.id))
        if more and last
        else None,
    )


def _progress(result: DeliveriesRecord, *, size: int) -> dict[str, Any]:
    """The fields an event's and an organization's progress bodies share."""
    return {
        "counts": result.counts,
        "totals": result.totals,
        "sent_last_minute": result.sent_last_minute,
        "rate_per_second": result.rate_per_second,
        "remaining": result.remaining,
        "eta_seconds": result.eta_seconds,
        "failures": _page(result, size=size),
        "rate_cap_per_second": result.rate_cap_per_second,
    }


class DeliveryController(Controller):
    path = "/"
    tags = ["deliveries"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @get(
        "/events/{event_id:str}/deliveries",
        responses=problems(401, 404),
        summary="An event's send: counts by kind and status, rate, time left, failures",
    )
    async def event_deliveries(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
        event_id: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> EventDeliveries:
        size = paging.page_limit(limit)
        ident = event_uuid(event_id)
        result = await progress.event_deliveries(
            org_id=caller.org_id,
            event_id=ident,
            now=datetime.now(UTC),
            after=_after(cursor),
            limit=size + 1,
            settings=settings,
            redis=queue,
        )
        return EventDeliveries(event_id=ident, **_progress(result, size=size))

    @get(
        "/orgs/me/deliveries",
        responses=problems(401),
        summary="The same over every event the organization hosts or co-hosts",
    )
    async def org_deliveries(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> OrgDeliveries:
        size = paging.page_limit(limit)
        result = await progress.org_deliveries(
            org_id=caller.org_id,
            now=datetime.now(UTC),
            after=_after(cursor),
            limit=size + 1,
            settings=settings,
            redis=queue,
        )
        return OrgDeliveries(**_progress(result, size=size))

    @post(
        "/events/{event_id:str}/deliveries/{notification_id:str}/retry",
        status_code=HTTP_202_ACCEPTED,
        responses=problems(401, 404, 409),
        summary="Send a failed message again (409 unless it failed)",
    )
    async def retry(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        event_id: FromPath[str],
        notification_id: FromPath[str],
    ) -> Retried:
        try:
            ident = uuid.UUID(notification_id)
        except ValueError:
            raise NotFound("notification not found") from None
        row = await progress.retry_one(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            notification_id=ident,
            now=datetime.now(UTC),
        )
        # a slot of its own: the job id of the attempt that failed may still be remembered
        await enqueue_notifications(queue, [asdict(row)], sweep_slot=int(time.time() * 1000))
        return Retried(id=row.id, status="queued")
