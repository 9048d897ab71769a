"""HTTP routes of organizations and API keys."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events_svc.deps import BEARER, CALLER
from events_svc.openapi import problems
from events_svc.orgs import service
from events_svc.orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    OrgCreate,
    OrgCreated,
    OrgOut,
    OrgPatch,
)
from events_svc.orgs.service import Caller
from events_svc.settings import Settings


class OrgController(Controller):
    path = "/orgs"
    tags = ["organizations"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        security=BEARER,
        responses=problems(401, 409),
        summary="Create an organization (ADMIN_TOKEN); answers its first API key once",
    )
    async def create_org(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OrgCreate],
        settings: NamedDependency[Settings],
    ) -> OrgCreated:
        service.check_admin_token(
            authorization=request.headers.get("authorization"), admin_token=settings.admin_token
        )
        org, key = await service.create_org(
            slug=data.slug, name=data.name, email=data.email, name_en=data.name_en
        )
        return OrgCreated(organization=msgspec.convert(org, OrgOut), api_key=key)

    @get(
        "/me",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="The calling organization",
    )
    async def me(self, caller: NamedDependency[Caller]) -> OrgOut:
        return msgspec.convert(await service.get_org(org_id=caller.org_id), OrgOut)

    @patch(
        "/me",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="Change the calling organization: names, e-mail, default reminders",
    )
    async def update_me(self, caller: NamedDependency[Caller], data: JSONBody[OrgPatch]) -> OrgOut:
        changes = msgspec.to_builtins(data)  # only the fields given (UNSET ones are left out)
        row = await service.update_org(org_id=caller.org_id, changes=changes)
        return msgspec.convert(row, OrgOut)

    @get(
        "/me/api-keys",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="The organization's API keys (prefixes only)",
    )
    async def list_keys(self, caller: NamedDependency[Caller]) -> list[ApiKeyOut]:
        return msgspec.convert(await service.list_api_keys(org_id=caller.org_id), list[ApiKeyOut])

    @post(
        "/me/api-keys",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_201_CREATED,
        responses=problems(401),
        summary="Create another API key; the key is shown only in this answer",
    )
    async def create_key(
        self, caller: NamedDependency[Caller], data: JSONBody[ApiKeyCreate]
    ) -> ApiKeyCreated:
        row, key = await service.create_api_key(org_id=caller.org_id, label=data.label)
        return ApiKeyCreated(key=msgspec.convert(row, ApiKeyOut), api_key=key)

    @delete(
        "/me/api-keys/{prefix:str}",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_200_OK,
        responses=problems(401, 404),
        summary="Revoke an API key",
    )
    async def revoke_key(self, caller: NamedDependency[Caller], prefix: FromPath[str]) -> ApiKeyOut:
        row = await service.revoke_api_key(org_id=caller.org_id, prefix=prefix)
        return msgspec.convert(row, ApiKeyOut)
