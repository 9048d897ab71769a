"""HTTP routes of delegations to exchange visits."""

from __future__ import annotations

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from events_svc.delegations import service
from events_svc.delegations.schemas import DelegationOut, DelegationPut
from events_svc.deps import BEARER, CALLER, QUEUE
from events_svc.events.service import event_uuid
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings


class DelegationController(Controller):
    path = "/events/{event_id:str}/delegations"
    tags = ["exchange visits"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @put(
        "/{slug:str}",
        responses=problems(401, 404, 409),
        summary="A visiting organization names its delegation (its own key); all are invited",
        description="`leader` and `members` are addresses of the organization's contacts. The "
        "leader is invited as chair, members as required participants; people dropped from "
        "the delegation are taken off the list.",
    )
    async def put_delegation(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        event_id: FromPath[str],
        slug: FromPath[str],
        data: JSONBody[DelegationPut],
        settings: NamedDependency[Settings],
    ) -> DelegationOut:
        delegation, queued, hooks = await service.put(
            org_id=caller.org_id,
            org_slug=caller.slug,
            event_id=event_uuid(event_id),
            slug=slug,
            leader=data.leader,
            members=data.members,
            max_reminder_rows=settings.max_reminder_rows_per_event,
        )
        await enqueue_notifications(queue, queued, batch=True)
        await enqueue_webhooks(queue, hooks)
        return msgspec.convert(delegation, DelegationOut, from_attributes=True)

    @get(
        "/",
        responses=problems(401, 404),
        summary="The delegations of an exchange visit with every delegate's answer",
        description="Its hosts see all; a visiting organization sees its own.",
    )
    async def list_delegations(
        self, caller: NamedDependency[Caller], event_id: FromPath[str]
    ) -> list[DelegationOut]:
        rows = await service.list_for(org_id=caller.org_id, event_id=event_uuid(event_id))
        return msgspec.convert(rows, list[DelegationOut], from_attributes=True)
