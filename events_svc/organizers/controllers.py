"""HTTP routes of an organization's organizers (API keys act as admins)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events_svc.deps import BEARER, CALLER
from events_svc.events import service as events
from events_svc.events.service import event_uuid
from events_svc.openapi import problems
from events_svc.organizers import audit, service, sessions
from events_svc.organizers.schemas import (
    ActivityOut,
    OrganizerCreate,
    OrganizerOut,
    OrganizerPatch,
)
from events_svc.organizers.service import OrganizerRecord
from events_svc.orgs.service import Caller


def organizer_out(row: OrganizerRecord) -> OrganizerOut:
    return OrganizerOut(
        email=row.email, name=row.name, locale=row.locale, role=row.role, created_at=row.created_at
    )


class OrganizerController(Controller):
    path = "/orgs/me/organizers"
    tags = ["organizers"]
    dependencies = CALLER
    security = BEARER

    @get("/", responses=problems(401), summary="The organization's organizers, admins first")
    async def list_organizers(self, caller: NamedDependency[Caller]) -> list[OrganizerOut]:
        return [organizer_out(r) for r in await service.list_organizers(org_id=caller.org_id)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problems(401, 409),
        summary="Add an organizer (admin or editor) who signs in to the console by e-mail",
    )
    async def add_organizer(
        self, caller: NamedDependency[Caller], data: JSONBody[OrganizerCreate]
    ) -> OrganizerOut:
        row = await service.add_organizer(
            org_id=caller.org_id,
            email=data.email,
            name=data.name,
            locale=data.locale,
            role=data.role,
        )
        return organizer_out(row)

    @patch(
        "/{email:str}",
        responses=problems(401, 404, 409),
        summary="Change an organizer's name, language or role (the last admin stays admin)",
    )
    async def change_organizer(
        self, caller: NamedDependency[Caller], email: FromPath[str], data: JSONBody[OrganizerPatch]
    ) -> OrganizerOut:
        row = await service.change_organizer(
            org_id=caller.org_id, email=email, name=data.name, locale=data.locale, role=data.role
        )
        return organizer_out(row)

    @delete(
        "/{email:str}",
        status_code=HTTP_200_OK,
        responses=problems(401, 404, 409),
        summary="Remove an organizer and end their console sessions (never the last admin)",
    )
    async def remove_organizer(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], email: FromPath[str]
    ) -> OrganizerOut:
        row = await service.remove_organizer(org_id=caller.org_id, email=email)
        await sessions.end_all(request.app.state.arq, organizer_id=row.id)
        return organizer_out(row)


class ActivityController(Controller):
    path = "/events/{event_id:str}/activity"
    tags = ["events"]
    dependencies = CALLER
    security = BEARER

    @get(
        "/",
        responses=problems(401, 404),
        summary="Who changed the event and when (organizers in the console, API keys)",
    )
    async def activity(
        self, caller: NamedDependency[Caller], event_id: FromPath[str]
    ) -> list[ActivityOut]:
        ident = event_uuid(event_id)
        await events.get_event(org_id=caller.org_id, event_id=ident)  # 404 if not theirs
        return [
            ActivityOut(
                actor=e.actor, action=e.action, route=e.route, status=e.status, at=e.created_at
            )
            for e in await audit.for_subject(subject=str(ident))
        ]
