"""HTTP routes of reminders."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from events_svc.deps import BEARER, CALLER
from events_svc.events.service import event_uuid
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.reminders import service
from events_svc.reminders.schemas import ReminderOut, ReminderPage


class ReminderController(Controller):
    path = "/events/{event_id:str}/reminders"
    tags = ["reminders"]
    dependencies = CALLER
    security = BEARER

    @get(
        "/",
        responses=problems(401, 404),
        summary="Each pending and sent reminder per person, with due time, sent time, outcome",
    )
    async def list_reminders(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=service.PAGE)] = service.PAGE,
    ) -> ReminderPage:
        rows = await service.list_reminders(
            org_id=caller.org_id, event_id=event_uuid(event_id), offset=offset, limit=limit + 1
        )
        more = len(rows) > limit
        return ReminderPage(
            items=msgspec.convert(rows[:limit], list[ReminderOut]),
            next_offset=offset + limit if more else None,
        )
