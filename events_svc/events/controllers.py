"""HTTP routes of events."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events_svc.deps import BEARER, CALLER, QUEUE
from events_svc.events import service
from events_svc.events.schemas import (
    EventCreate,
    EventKind,
    EventOut,
    EventPage,
    EventPatch,
    EventStatus,
)
from events_svc.events.service import instant
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings


class EventController(Controller):
    path = "/events"
    tags = ["events"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @post("/", status_code=HTTP_201_CREATED, responses=problems(401), summary="Create an event")
    async def create_event(
        self,
        caller: NamedDependency[Caller],
        data: JSONBody[EventCreate],
        settings: NamedDependency[Settings],
    ) -> EventOut:
        row = await service.create_event(
            org_id=caller.org_id, org_slug=caller.slug, data=data, uid_host=settings.public_host
        )
        return msgspec.convert(row, EventOut)

    @get("/", responses=problems(401), summary="The caller's events, by start time")
    async def list_events(
        self,
        caller: NamedDependency[Caller],
        from_: Annotated[
            str | None,
            QueryParameter(
                name="from",
                max_length=40,
                description="events ending after this ISO 8601 date or date-time (UTC if naive)",
            ),
        ] = None,
        to: Annotated[
            str | None,
            QueryParameter(
                max_length=40,
                description="events starting before this ISO 8601 date or date-time (UTC if naive)",
            ),
        ] = None,
        kind: Annotated[list[EventKind] | None, QueryParameter(description="repeatable")] = None,
        status: FromQuery[EventStatus | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=service.MAX_PAGE)] = service.DEFAULT_PAGE,
    ) -> EventPage:
        rows, next_cursor = await service.list_events(
            org_id=caller.org_id,
            from_=instant(from_, field="from") if from_ else None,
            to=instant(to, field="to") if to else None,
            kinds=kind or (),
            status=status,
            cursor=cursor,
            limit=limit,
        )
        return EventPage(items=msgspec.convert(rows, list[EventOut]), next=next_cursor)

    @get("/{event_id:uuid}", responses=problems(401, 404), summary="One event")
    async def get_event(
        self, caller: NamedDependency[Caller], event_id: FromPath[uuid.UUID]
    ) -> EventOut:
        row = await service.get_event(org_id=caller.org_id, event_id=event_id)
        return msgspec.convert(row, EventOut)

    @patch(
        "/{event_id:uuid}",
        responses=problems(401, 404, 409),
        summary="Change an event; SEQUENCE rises when times, recurrence, location or status change",
    )
    async def update_event(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[EventPatch],
        queue: NamedDependency[ArqRedis],
    ) -> EventOut:
        row = await service.update_event(
            org_id=caller.org_id, event_id=event_id, patch=data, queue=queue
        )
        return msgspec.convert(row, EventOut)

    @post(
        "/{event_id:uuid}/cancel",
        status_code=HTTP_200_OK,
        responses=problems(401, 404),
        summary="Cancel an event; every invitee gets a CANCEL",
    )
    async def cancel_event(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[uuid.UUID],
        queue: NamedDependency[ArqRedis],
    ) -> EventOut:
        row = await service.cancel_event(org_id=caller.org_id, event_id=event_id, queue=queue)
        return msgspec.convert(row, EventOut)
