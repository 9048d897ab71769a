"""HTTP routes of registrations for organizers (the public form is a page: web/)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from events_svc import paging
from events_svc.deps import BEARER, CALLER, Cursor, Limit
from events_svc.events.service import event_uuid
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.registration import service
from events_svc.registration.schemas import RegistrationOut, RegistrationPage


class RegistrationController(Controller):
    path = "/events/{event_id:str}/registrations"
    tags = ["registrations"]
    dependencies = {**CALLER}
    security = BEARER

    @get(
        "/",
        responses=problems(401, 404),
        summary="Self-registrations of the event, oldest first, with answers and status",
    )
    async def list_registrations(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> RegistrationPage:
        items, next_cursor = await service.list_registrations(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            cursor=cursor,
            limit=paging.page_limit(limit),
        )
        return RegistrationPage(
            items=msgspec.convert(items, list[RegistrationOut], from_attributes=True),
            next=next_cursor,
        )
