"""HTTP route of a send's progress (what the console's live bar shows)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from events_svc.deps import BEARER, CALLER
from events_svc.events import service as events
from events_svc.events.service import event_uuid
from events_svc.notifications import progress
from events_svc.openapi import problems
from events_svc.orgs.service import Caller


class ProgressOut(msgspec.Struct):
    total: int  #: messages the event queued in the last day (reminders aside)
    sent: int  #: sent (or skipped: nothing was left to say)
    failed: int
    pending: int  #: still to go
    per_minute: float  #: sent in the last minute
    seconds_left: int | None  #: at that rate; null while nothing goes out


class ProgressController(Controller):
    path = "/events/{event_id:str}/progress"
    tags = ["invitations"]
    dependencies = CALLER
    security = BEARER

    @get("/", responses=problems(401, 404), summary="How the event's messages are going out")
    async def progress(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
    ) -> ProgressOut:
        ident = event_uuid(event_id)
        await events.get_event(org_id=caller.org_id, event_id=ident)  # 404 if not theirs
        found = await progress.event_progress(event_id=ident, cache=request.app.state.arq)
        if found is None:
            return ProgressOut(total=0, sent=0, failed=0, pending=0, per_minute=0.0, seconds_left=0)
        return ProgressOut(
            total=found.total,
            sent=found.sent,
            failed=found.failed,
            pending=found.pending,
            per_minute=found.per_minute,
            seconds_left=found.seconds_left,
        )
