"""HTTP routes of events."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events_svc import paging
from events_svc.answers import JSONResponse
from events_svc.deps import BEARER, CALLER, QUEUE, Cursor, Limit, provide_optional_caller
from events_svc.errors import Unauthorized
from events_svc.events import service
from events_svc.events.schemas import (
    AgendaOut,
    AgendaPut,
    EventCreate,
    EventKind,
    EventOut,
    EventPage,
    EventPatch,
    EventStatus,
    OccurrenceOut,
    OccurrencePatch,
)
from events_svc.events.service import event_uuid, instant
from events_svc.invitations import agenda as agendas
from events_svc.jobs import enqueue_notifications
from events_svc.openapi import also_answers, problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings
from events_svc.web.audit import creation_note


class EventController(Controller):
    path = "/events"
    tags = ["events"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problems(401),
        summary="Create an event",
        response_class=JSONResponse,
    )
    async def create_event(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[EventCreate],
        settings: NamedDependency[Settings],
    ) -> EventOut:
        row = await service.create_event(
            org_id=caller.org_id,
            org_slug=caller.slug,
            data=data,
            uid_host=settings.public_host,
            limits=settings.volume,
            # the audit entry goes in with the event (the before_send hook then skips it)
            audit_note=creation_note(request.scope),
        )
        return msgspec.convert(row, EventOut, from_attributes=True)

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
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> EventPage:
        rows, next_cursor = await service.list_events(
            org_id=caller.org_id,
            from_=instant(from_, field="from") if from_ else None,
            to=instant(to, field="to") if to else None,
            kinds=kind or (),
            status=status,
            cursor=cursor,
            limit=paging.page_limit(limit),
        )
        return EventPage(
            items=msgspec.convert(rows, list[EventOut], from_attributes=True), next=next_cursor
        )

    @get(
        "/{event_id:str}",
        dependencies={"caller": Provide(provide_optional_caller)},
        responses={
            200: ResponseSpec(
                data_container=EventOut,
                description="The event as JSON; for `<id>.ics`, a text/calendar file",
            ),
            **problems(401, 404),
        },
        operation_class=also_answers("text/calendar"),
        summary="One event, as JSON (`/events/<id>`) or as an .ics file (`/events/<id>.ics`)",
        description="The .ics file of a public event needs no key; a private one needs its "
        "owner's. The JSON form always needs a key.",
    )
    async def get_event(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller | None],
        event_id: FromPath[str],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        ident, wants_ics = service.parse_event_ref(event_id)
        if wants_ics:
            file = await service.event_file(
                event_id=ident,
                org_id=caller.org_id if caller else None,
                base_url=settings.public_base_url,
                mail_from=settings.organizer_email,
            )
            headers = {
                "ETag": file.etag,
                "Cache-Control": "private, max-age=300" if file.private else "public, max-age=300",
                "Content-Disposition": 'inline; filename="event.ics"',
            }
            if _matches(request.headers.get("if-none-match"), file.etag):
                return Response(b"", status_code=304, headers=headers)
            return Response(file.body, media_type="text/calendar", headers=headers)
        if caller is None:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        row = await service.get_event(org_id=caller.org_id, event_id=ident)
        return JSONResponse(msgspec.convert(row, EventOut, from_attributes=True))

    @patch(
        "/{event_id:str}",
        responses=problems(401, 404, 409),
        summary="Change an event; SEQUENCE rises when times, recurrence, location or status change",
    )
    async def update_event(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        data: JSONBody[EventPatch],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> EventOut:
        row = await service.update_event(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            patch=data,
            queue=queue,
            limits=settings.volume,
        )
        return msgspec.convert(row, EventOut, from_attributes=True)

    @post(
        "/{event_id:str}/cancel",
        status_code=HTTP_200_OK,
        responses=problems(401, 404),
        summary="Cancel an event; every invitee gets a CANCEL",
    )
    async def cancel_event(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
    ) -> EventOut:
        row = await service.cancel_event(
            org_id=caller.org_id, event_id=event_uuid(event_id), queue=queue
        )
        return msgspec.convert(row, EventOut, from_attributes=True)

    @patch(
        "/{event_id:str}/occurrences/{occurrence:str}",
        responses=problems(401, 404, 409),
        summary="Move or cancel one occurrence of a series",
        description="`occurrence` is the occurrence's original local start "
        "(e.g. 2027-03-11T14:00:00). Send new `starts_at` / `ends_at` (local, in the event's "
        'zone) or `{"status": "cancelled"}` (`"scheduled"` restores it). Invitees get an '
        "update or CANCEL for that occurrence only (RECURRENCE-ID); feeds carry it as an "
        "override or an EXDATE.",
    )
    async def update_occurrence(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        occurrence: FromPath[str],
        data: JSONBody[OccurrencePatch],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> OccurrenceOut:
        row = await service.update_occurrence(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            occurrence=occurrence,
            patch=data,
            queue=queue,
            limits=settings.volume,
        )
        return msgspec.convert(row, OccurrenceOut, from_attributes=True)

    @put(
        "/{event_id:str}/agenda",
        responses=problems(401, 404, 409),
        summary="Set the event's agenda (sessions, rooms, speakers); speakers are invited",
        description="Times are local to the event's zone and within it. Each session keeps "
        "its `id` (send it back to keep it when renaming). Invitees get one update with what "
        "changed, `AGENDA_UPDATE_DELAY_SECONDS` after the first edit, however many edits.",
    )
    async def put_agenda(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        data: JSONBody[AgendaPut],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> AgendaOut:
        answer, invitations, updates = await agendas.set_agenda(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            items=data.items,
            update_delay=settings.agenda_update_delay,
            max_reminder_rows=settings.max_reminder_rows_per_event,
        )
        await enqueue_notifications(queue, invitations, batch=True)
        await enqueue_notifications(queue, updates, at_due_time=True)
        return msgspec.convert(answer, AgendaOut, from_attributes=True)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: `*`, or any of a comma-separated list of (possibly weak) tags."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags
