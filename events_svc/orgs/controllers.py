"""HTTP routes of organizations, API keys and federations' member units."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from events_svc import ratelimit
from events_svc.deps import BEARER, CALLER
from events_svc.openapi import problems
from events_svc.orgs import members, service
from events_svc.orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MembersAdd,
    MembersAdded,
    MembershipOut,
    OrgCreate,
    OrgCreated,
    OrgOut,
    OrgPatch,
    OrgProfile,
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
        async def verify() -> None:
            service.check_admin_token(
                authorization=request.headers.get("authorization"),
                admin_token=settings.admin_token,
            )

        await ratelimit.guard_credentials(request, verify)
        org, key = await service.create_org(
            slug=data.slug,
            name=data.name,
            email=data.email,
            name_en=data.name_en,
            kind=data.kind,
            region=data.region,
        )
        return OrgCreated(
            organization=msgspec.convert(org, OrgOut, from_attributes=True), api_key=key
        )

    @get(
        "/me",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="The calling organization",
    )
    async def me(self, caller: NamedDependency[Caller]) -> OrgOut:
        return msgspec.convert(
            await service.get_org(org_id=caller.org_id), OrgOut, from_attributes=True
        )

    @patch(
        "/me",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401, 409),
        summary="Change the calling organization: names, e-mail, kind, region, default reminders",
    )
    async def update_me(
        self,
        caller: NamedDependency[Caller],
        data: JSONBody[OrgPatch],
        settings: NamedDependency[Settings],
    ) -> OrgOut:
        changes = msgspec.to_builtins(data)  # only the fields given (UNSET ones are left out)
        row = await service.update_org(
            org_id=caller.org_id,
            changes=changes,
            max_reminder_rows=settings.max_reminder_rows_per_event,
        )
        return msgspec.convert(row, OrgOut, from_attributes=True)

    @get(
        "/me/api-keys",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="The organization's API keys (prefixes only)",
    )
    async def list_keys(self, caller: NamedDependency[Caller]) -> list[ApiKeyOut]:
        return msgspec.convert(
            await service.list_api_keys(org_id=caller.org_id), list[ApiKeyOut], from_attributes=True
        )

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
        return ApiKeyCreated(key=msgspec.convert(row, ApiKeyOut, from_attributes=True), api_key=key)

    @delete(
        "/me/api-keys/{prefix:str}",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_200_OK,
        responses=problems(401, 404, 409),
        summary="Revoke an API key",
        description="The organization's last valid key is revoked only with `confirm_last=true`"
        " (409 otherwise): without a key it is locked out of the API.",
    )
    async def revoke_key(
        self,
        caller: NamedDependency[Caller],
        prefix: FromPath[str],
        confirm_last: Annotated[
            bool, QueryParameter(description="true: revoke even the last valid key")
        ] = False,
    ) -> ApiKeyOut:
        row = await service.revoke_api_key(
            org_id=caller.org_id, prefix=prefix, confirm_last=confirm_last
        )
        return msgspec.convert(row, ApiKeyOut, from_attributes=True)

    @get(
        "/me/members",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="The federation's member units, pending and active",
    )
    async def list_members(self, caller: NamedDependency[Caller]) -> list[MembershipOut]:
        rows = await members.list_members(org_id=caller.org_id)
        return msgspec.convert(rows, list[MembershipOut], from_attributes=True)

    @post(
        "/me/members",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_200_OK,
        responses=problems(401, 409),
        summary="A federation asks organizations (by slug) to become its member units",
        description="Each named organization gets a pending membership that it accepts with "
        "its own key (POST /orgs/me/memberships/{federation_slug}/accept). Only an "
        "organization of kind `federation` lists members (409 otherwise). Naming one "
        "already pending or active changes nothing; an unknown slug, or the caller's own, "
        "is a 422 naming `slugs.N`, and then nothing is added.",
    )
    async def add_members(
        self, caller: NamedDependency[Caller], data: JSONBody[MembersAdd]
    ) -> MembersAdded:
        added, already = await members.add_members(org_id=caller.org_id, slugs=data.slugs)
        return MembersAdded(added=added, already=already)

    @delete(
        "/me/members/{slug:str}",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(401, 404),
        summary="The federation ends a membership (or withdraws its invitation)",
    )
    async def remove_member(self, caller: NamedDependency[Caller], slug: FromPath[str]) -> None:
        await members.remove_member(org_id=caller.org_id, member_slug=slug)

    @get(
        "/me/memberships",
        dependencies=CALLER,
        security=BEARER,
        responses=problems(401),
        summary="The federations the caller belongs to (active) or is asked to join (pending)",
    )
    async def list_memberships(self, caller: NamedDependency[Caller]) -> list[MembershipOut]:
        rows = await members.list_memberships(org_id=caller.org_id)
        return msgspec.convert(rows, list[MembershipOut], from_attributes=True)

    @post(
        "/me/memberships/{federation_slug:str}/accept",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_200_OK,
        responses=problems(401, 404),
        summary="Accept a federation's invitation to become its member unit",
        description="404 when that federation has not asked the caller to join; accepting "
        "an active membership again changes nothing.",
    )
    async def accept_membership(
        self, caller: NamedDependency[Caller], federation_slug: FromPath[str]
    ) -> MembershipOut:
        row = await members.accept_membership(org_id=caller.org_id, federation_slug=federation_slug)
        return msgspec.convert(row, MembershipOut, from_attributes=True)

    @delete(
        "/me/memberships/{federation_slug:str}",
        dependencies=CALLER,
        security=BEARER,
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(401, 404),
        summary="Leave a federation (or decline its invitation)",
    )
    async def leave_federation(
        self, caller: NamedDependency[Caller], federation_slug: FromPath[str]
    ) -> None:
        await members.leave_federation(org_id=caller.org_id, federation_slug=federation_slug)

    # Litestar's router tries a literal segment ("me") before a parameter, and creation
    # refuses the slug "me": this never shadows the caller's own routes.
    @get(
        "/{slug:str}",
        responses=problems(404),
        summary="An organization's public profile (no key needed)",
        description="Names, kind, region, the federations it is an active member unit of and, "
        "for a federation, how many active member units it has. Never addresses or keys.",
    )
    async def profile(self, slug: FromPath[str]) -> OrgProfile:
        return msgspec.convert(
            await service.public_profile(slug=slug), OrgProfile, from_attributes=True
        )
