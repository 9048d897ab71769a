"""The console's side of a visiting organization: the exchange visits it is invited to, and
naming its delegation (the API's PUT /events/{id}/delegations/{slug})."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from arq.connections import ArqRedis
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from events_svc.delegations import service as delegations
from events_svc.errors import Conflict, InvalidInput
from events_svc.events.service import event_uuid
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.settings import Settings
from events_svc.web.auth import user_of_request
from events_svc.web.common import ConsolePages, form_errors, org_of, page, see_other
from events_svc.web.forms import parse_pasted, text_of


class VisitPages(ConsolePages):
    path = "/console/visits"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        failed: str = "",
        errors: Any = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        user = user_of_request(request)
        org_id = org_of(request)
        visits = []
        for visit in await delegations.visits_of(org_id=org_id):
            own = [
                d
                for d in await delegations.list_for(org_id=org_id, event_id=event_uuid(visit.id))
                if d.organization == user.org_slug
            ]
            named = own[0] if own else None
            leader = named.leader.email if named and named.leader else ""
            members = "\n".join(m.email for m in named.members) if named else ""
            if visit.id == failed and values is not None:
                leader, members = values["leader"], values["members"]
            visits.append({**asdict(visit), "leader": leader, "members": members, "named": named})
        return page(
            request,
            "console/visits.html",
            status=status,
            visits=visits,
            failed=failed,
            errors=errors,
        )

    @get("/", summary="The exchange visits this organization is visiting")
    async def visits(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/{event_id:str}", status_code=200, summary="Name our delegation to a visit")
    async def name_delegation(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        user = user_of_request(request)
        form = await request.form()
        values = {"leader": text_of(form, "leader").strip(), "members": text_of(form, "members")}
        members, _bad = parse_pasted(values["members"])
        try:
            _row, queued, hooks = await delegations.put(
                org_id=org_of(request),
                org_slug=user.org_slug,
                event_id=event_uuid(event_id),
                slug=user.org_slug,
                leader=values["leader"],
                members=[m.email for m in members]
                + [line for _n, line in _bad],  # the service names what is no address
                max_reminder_rows=settings.max_reminder_rows_per_event,
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known={"leader", "members"})
            return await self._page(
                request, failed=str(event_uuid(event_id)), errors=errors, values=values, status=422
            )
        await enqueue_notifications(queue, queued, batch=True)
        await enqueue_webhooks(queue, hooks)
        return see_other("/console/visits")
