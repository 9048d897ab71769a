"""HTTP routes of co-operation agreements."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events_svc.deps import BEARER, CALLER
from events_svc.errors import NotFound
from events_svc.openapi import problems
from events_svc.orgs.service import Caller
from events_svc.partnerships import service
from events_svc.partnerships.schemas import PartnershipCreate, PartnershipOut, Programme


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound("partnership not found") from exc


class PartnershipController(Controller):
    path = "/partnerships"
    tags = ["partnerships"]
    dependencies = CALLER
    security = BEARER

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problems(401),
        summary="Propose a co-operation agreement to the organizations in `partners`",
    )
    async def create(
        self, caller: NamedDependency[Caller], data: JSONBody[PartnershipCreate]
    ) -> PartnershipOut:
        row = await service.create(org_id=caller.org_id, data=data)
        return msgspec.convert(row, PartnershipOut, from_attributes=True)

    @get("/", responses=problems(401), summary="The agreements the caller is a party to")
    async def list_partnerships(self, caller: NamedDependency[Caller]) -> list[PartnershipOut]:
        return msgspec.convert(
            await service.list_for(org_id=caller.org_id), list[PartnershipOut], from_attributes=True
        )

    @get("/{partnership_id:str}", responses=problems(401, 404), summary="One agreement")
    async def get_partnership(
        self, caller: NamedDependency[Caller], partnership_id: FromPath[str]
    ) -> PartnershipOut:
        row = await service.get(org_id=caller.org_id, partnership_id=_id(partnership_id))
        return msgspec.convert(row, PartnershipOut, from_attributes=True)

    @post(
        "/{partnership_id:str}/accept",
        status_code=HTTP_200_OK,
        responses=problems(401, 404, 409),
        summary="Accept an agreement; it is active once every party has",
    )
    async def accept(
        self, caller: NamedDependency[Caller], partnership_id: FromPath[str]
    ) -> PartnershipOut:
        row = await service.accept(org_id=caller.org_id, partnership_id=_id(partnership_id))
        return msgspec.convert(row, PartnershipOut, from_attributes=True)

    @post(
        "/{partnership_id:str}/end",
        status_code=HTTP_200_OK,
        responses=problems(401, 404),
        summary="End an agreement (any party may); its events stay",
    )
    async def end(
        self, caller: NamedDependency[Caller], partnership_id: FromPath[str]
    ) -> PartnershipOut:
        row = await service.end(org_id=caller.org_id, partnership_id=_id(partnership_id))
        return msgspec.convert(row, PartnershipOut, from_attributes=True)

    @get(
        "/{partnership_id:str}/programme",
        responses=problems(401, 404),
        summary="The events run under the agreement, grouped by area",
    )
    async def programme(
        self,
        caller: NamedDependency[Caller],
        partnership_id: FromPath[str],
        year: Annotated[int | None, QueryParameter(ge=1900, le=2199)] = None,
    ) -> Programme:
        row = await service.programme(
            org_id=caller.org_id, partnership_id=_id(partnership_id), year=year
        )
        return msgspec.convert(row, Programme, from_attributes=True)
