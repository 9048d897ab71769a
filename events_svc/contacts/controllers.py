"""HTTP routes of an organization's contacts."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from events_svc import paging
from events_svc.contacts import service
from events_svc.contacts.schemas import (
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactPatch,
    ContactsImported,
)
from events_svc.deps import BEARER, CALLER, Cursor, Limit
from events_svc.openapi import problem_spec, problems
from events_svc.orgs.service import Caller


async def keep_body_for_handler(request: Request[Any, Any, Any]) -> None:
    """Replaces the app's `reject_nul` on the import: that hook reads the body before the
    key is checked and would answer a 413 naming the general 1 MiB limit. The import reads
    the body itself, after the key and media type, and refuses NUL naming its line."""


class ContactController(Controller):
    path = "/orgs/me"
    tags = ["contacts"]
    dependencies = CALLER
    security = BEARER

    @post(
        "/contacts",
        status_code=HTTP_201_CREATED,
        responses=problems(401, 409),
        summary="Add a contact: name, e-mail, title (会长, 秘书长, 督导 …), locale, tags",
        description="One contact per address (compared case-insensitively): 409 when there "
        "is one already (change it with PATCH). Tags are short labels (at most 20 of 50 "
        "characters, without `;`, `|` or `、`) that invitations select by.",
    )
    async def create_contact(
        self, caller: NamedDependency[Caller], data: JSONBody[ContactCreate]
    ) -> ContactOut:
        row = await service.create_contact(
            org_id=caller.org_id,
            name=data.name,
            email=data.email,
            title=data.title,
            locale=data.locale,
            tags=data.tags,
        )
        return msgspec.convert(row, ContactOut, from_attributes=True)

    @get(
        "/contacts",
        responses=problems(401),
        summary="The organization's contacts by address; `tag` (repeatable) keeps those "
        "having ANY of the tags",
        description="ANY, as invitations select: the list previews who an invitation naming "
        "the same tags reaches. Cursor pagination (`next`).",
    )
    async def list_contacts(
        self,
        caller: NamedDependency[Caller],
        tag: Annotated[
            list[str] | None, QueryParameter(description="repeatable; contacts having any")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> ContactPage:
        rows, next_cursor = await service.list_contacts(
            org_id=caller.org_id, tags=tag or (), cursor=cursor, limit=paging.page_limit(limit)
        )
        return ContactPage(
            items=msgspec.convert(rows, list[ContactOut], from_attributes=True), next=next_cursor
        )

    @patch(
        "/contacts/{email:str}",
        responses=problems(401, 404, 409),
        summary="Change a contact (found by address, any case); `tags` replaces the list",
    )
    async def update_contact(
        self, caller: NamedDependency[Caller], email: FromPath[str], data: JSONBody[ContactPatch]
    ) -> ContactOut:
        changes = msgspec.to_builtins(data)  # only the fields given (UNSET ones are left out)
        row = await service.update_contact(org_id=caller.org_id, email=email, changes=changes)
        return msgspec.convert(row, ContactOut, from_attributes=True)

    @delete(
        "/contacts/{email:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(401, 404),
        summary="Remove a contact (found by address, any case)",
    )
    async def delete_contact(self, caller: NamedDependency[Caller], email: FromPath[str]) -> None:
        await service.delete_contact(org_id=caller.org_id, email=email)

    @post(
        "/contacts.csv",
        status_code=HTTP_200_OK,
        before_request=keep_body_for_handler,
        request_max_body_size=service.CSV_MAX_BYTES,
        responses={
            **problems(401),
            413: problem_spec("Over 5 MiB or over 10,000 rows"),
            415: problem_spec("Not text/csv, or a charset other than UTF-8"),
            422: problem_spec(
                "Bad rows: `errors` names each as `line N: column`; nothing imported"
            ),
        },
        summary="Import contacts from CSV (UTF-8, BOM or not): all rows or none",
        description="`Content-Type: text/csv`. The first row names the columns in any order "
        "and case: `name` and `email` (required), `title`, `locale` (zh-CN or en; empty = "
        "zh-CN), `tags` (several in one cell separated by `;`, `|` or `、`). Blank rows are "
        "skipped. A known address updates that contact: name and the columns the file has "
        "(an empty cell clears a title or tags); columns it lacks keep their values. Any bad "
        "row refuses the whole file with a 422 naming each problem as `line N: column`. At "
        "most 10,000 rows and 5 MiB. Answers how many contacts were created and updated.",
    )
    async def import_csv(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller]
    ) -> ContactsImported:
        service.check_media_type(content_type=request.headers.get("content-type"))
        try:
            body = await request.body()
        except RequestEntityTooLarge as exc:
            raise service.too_large() from exc
        created, updated = await service.import_csv(org_id=caller.org_id, body=body)
        return ContactsImported(created=created, updated=updated)
