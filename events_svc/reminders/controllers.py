"""HTTP routes of reminders."""

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
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> ReminderPage:
        rows, next_cursor = await service.list_reminders(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            cursor=cursor,
            limit=paging.page_limit(limit),
        )
        return ReminderPage(
            items=msgspec.convert(rows, list[ReminderOut], from_attributes=True),
            next=next_cursor,
        )
