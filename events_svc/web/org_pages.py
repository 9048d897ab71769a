"""The console's admin pages between organizations: agreements (propose, accept, end) and a
federation's member units (and the federations this organization belongs to)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from events_svc.errors import Conflict, InvalidInput, NotFound
from events_svc.orgs import members as org_members
from events_svc.partnerships import service as partnerships
from events_svc.partnerships.schemas import PartnershipCreate
from events_svc.web.common import AdminConsolePages, form_errors, org_of, page, see_other
from events_svc.web.forms import text_of

AGREEMENT_FIELDS = {"partners", "title", "areas", "signed_on"}


def _list(text: str) -> list[str]:
    return [t for t in (x.strip() for x in text.replace("，", ",").split(",")) if t]


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("partnership not found") from None


class OrgPages(AdminConsolePages):
    path = "/console"

    async def _agreements(
        self,
        request: Request[Any, Any, Any],
        *,
        errors: Any = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        rows = await partnerships.list_for(org_id=org_of(request))
        return page(
            request,
            "console/agreements.html",
            status=status,
            rows=rows,
            errors=errors,
            values=values or {k: "" for k in AGREEMENT_FIELDS},
        )

    @get("/agreements", summary="The organization's co-operation agreements")
    async def agreements(self, request: Request[Any, Any, Any]) -> Template:
        return await self._agreements(request)

    @post("/agreements", status_code=200, summary="Propose an agreement (POST /partnerships)")
    async def propose(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        values = {k: text_of(form, k) for k in AGREEMENT_FIELDS}
        body: dict[str, Any] = {
            "partners": _list(values["partners"]),
            "title": values["title"].strip(),
            "areas": _list(values["areas"]),
        }
        if values["signed_on"]:
            body["signed_on"] = values["signed_on"]
        try:
            data = msgspec.convert(body, PartnershipCreate)
            await partnerships.create(org_id=org_of(request), data=data)
        except (InvalidInput, Conflict, msgspec.ValidationError) as exc:
            errors = form_errors(
                request, exc, known=AGREEMENT_FIELDS, rename={"partner": "partners"}
            )
            return await self._agreements(request, errors=errors, values=values, status=422)
        return see_other("/console/agreements")

    @get("/agreements/{partnership_id:str}", summary="An agreement's programme, by area")
    async def programme(
        self, request: Request[Any, Any, Any], partnership_id: FromPath[str]
    ) -> Template:
        data = await partnerships.programme(
            org_id=org_of(request), partnership_id=_uuid(partnership_id), year=None
        )
        return page(request, "console/programme.html", data=data)

    @post("/agreements/{partnership_id:str}/accept", status_code=200, summary="Accept")
    async def accept(
        self, request: Request[Any, Any, Any], partnership_id: FromPath[str]
    ) -> Response[Any]:
        await partnerships.accept(org_id=org_of(request), partnership_id=_uuid(partnership_id))
        return see_other("/console/agreements")

    @post("/agreements/{partnership_id:str}/end", status_code=200, summary="End an agreement")
    async def end(
        self, request: Request[Any, Any, Any], partnership_id: FromPath[str]
    ) -> Response[Any]:
        await partnerships.end(org_id=org_of(request), partnership_id=_uuid(partnership_id))
        return see_other("/console/agreements")

    async def _members(
        self, request: Request[Any, Any, Any], *, errors: Any = None, status: int = 200
    ) -> Template:
        org_id = org_of(request)
        return page(
            request,
            "console/members.html",
            status=status,
            members=await org_members.list_members(org_id=org_id),
            memberships=await org_members.list_memberships(org_id=org_id),
            errors=errors,
        )

    @get("/members", summary="A federation's member units; the federations this one is in")
    async def members(self, request: Request[Any, Any, Any]) -> Template:
        return await self._members(request)

    @post("/members", status_code=200, summary="Ask organizations to join (a federation)")
    async def add_members(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        try:
            await org_members.add_members(
                org_id=org_of(request), slugs=_list(text_of(form, "slugs"))
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known={"slugs"})
            return await self._members(request, errors=errors, status=422)
        return see_other("/console/members")

    @post("/members/{slug:str}/remove", status_code=200, summary="End a membership")
    async def remove_member(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> Response[Any]:
        await org_members.remove_member(org_id=org_of(request), member_slug=slug)
        return see_other("/console/members")

    @post("/memberships/{slug:str}/accept", status_code=200, summary="Join a federation")
    async def accept_membership(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> Response[Any]:
        await org_members.accept_membership(org_id=org_of(request), federation_slug=slug)
        return see_other("/console/members")

    @post("/memberships/{slug:str}/leave", status_code=200, summary="Leave a federation")
    async def leave(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[Any]:
        await org_members.leave_federation(org_id=org_of(request), federation_slug=slug)
        return see_other("/console/members")
