"""HTTP routes of invitations."""

from __future__ import annotations

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from events_svc import paging
from events_svc.contacts import service as contacts
from events_svc.deps import BEARER, CALLER, QUEUE, Cursor, Limit
from events_svc.events.service import event_uuid
from events_svc.invitations import service
from events_svc.invitations.schemas import (
    InvitationOut,
    InvitationPage,
    InvitationsCreate,
    InvitationsCreated,
)
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.settings import Settings

#: 10,000 invitees do not fit in the general 1 MiB limit
INVITATIONS_MAX_BODY = 8 * 1024 * 1024


class InvitationController(Controller):
    path = "/events/{event_id:str}/invitations"
    tags = ["invitations"]
    dependencies = {**CALLER, **QUEUE}
    security = BEARER

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=INVITATIONS_MAX_BODY,
        responses=problems(401, 404, 409),
        summary="Invite people (up to 10,000); each new invitee gets one iMIP invitation",
        description="Idempotent per e-mail address (compared case-insensitively). One invalid "
        "address refuses the whole request, and the problem document lists every bad one. "
        "A cancelled event answers 409. Bodies may be up to 8 MiB here. `organizations` "
        'reaches contacts: `{"slug": …, "tags": [...], "members": false}` invites '
        "that organization's contacts (all, or those having any of the tags); the caller may "
        "name itself and its active member units, and a federation naming itself with "
        "`members: true` also reaches its active member units' contacts. Anyone reached "
        "twice is invited once; an entry of `invitees` wins for name, role and locale.",
    )
    async def invite(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        event_id: FromPath[str],
        data: JSONBody[InvitationsCreate],
        settings: NamedDependency[Settings],
    ) -> InvitationsCreated:
        event = event_uuid(event_id)
        resolved = await contacts.resolve_invitees(
            caller_org_id=caller.org_id, selectors=data.organizations
        )
        invitees = contacts.merge_invitees(
            invitees=data.invitees, resolved=resolved, organizations_named=bool(data.organizations)
        )
        done = await service.invite(
            org_id=caller.org_id,
            event_id=event,
            invitees=invitees,
            message=data.message,
            queue=queue,
            max_reminder_rows=settings.max_reminder_rows_per_event,
        )
        return InvitationsCreated(
            invited=done.invited,
            already_invited=done.already_invited,
            deferred=done.deferred,
            deferred_until=done.deferred_until,
        )

    @get("/", responses=problems(401, 404), summary="Invitees with their answer and delivery")
    async def list_invitations(
        self,
        caller: NamedDependency[Caller],
        event_id: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> InvitationPage:
        items, next_cursor = await service.list_invitations(
            org_id=caller.org_id,
            event_id=event_uuid(event_id),
            cursor=cursor,
            limit=paging.page_limit(limit),
        )
        return InvitationPage(
            items=msgspec.convert(items, list[InvitationOut], from_attributes=True),
            next=next_cursor,
        )

    @delete(
        "/{email:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(401, 404),
        summary="Un-invite a person; they get a CANCEL",
    )
    async def uninvite(
        self,
        caller: NamedDependency[Caller],
        queue: NamedDependency[ArqRedis],
        event_id: FromPath[str],
        email: FromPath[str],
    ) -> None:
        await service.uninvite(
            org_id=caller.org_id, event_id=event_uuid(event_id), email=email, queue=queue
        )
