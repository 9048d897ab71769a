"""The console's contacts: the list (by tag), adding one, and the CSV import that names each
bad row (all rows or none, as the API's)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from events_svc.contacts import service as contacts
from events_svc.errors import Conflict, InvalidInput, ServiceError
from events_svc.web.common import ConsolePages, form_errors, locale_of, org_of, page, see_other
from events_svc.web.forms import FormErrors, say, text_of

FIELDS = {"name", "email", "title", "locale", "tags"}
Text = Annotated[str | None, QueryParameter(max_length=400)]


def _tags(text: str) -> list[str]:
    return [t for t in (x.strip() for x in text.replace("，", ",").split(",")) if t]


class ContactPages(ConsolePages):
    path = "/console/contacts"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        tag: str = "",
        cursor: str | None = None,
        errors: Any = None,
        values: dict[str, str] | None = None,
        imported: tuple[int, int] | None = None,
        bad_rows: list[str] | None = None,
        status: int = 200,
    ) -> Template:
        rows, next_cursor = await contacts.list_contacts(
            org_id=org_of(request), tags=_tags(tag), cursor=cursor or None, limit=50
        )
        return page(
            request,
            "console/contacts.html",
            status=status,
            rows=rows,
            next_cursor=next_cursor,
            tag=tag,
            errors=errors,
            values=values or {"name": "", "email": "", "title": "", "locale": "zh-CN", "tags": ""},
            imported=imported,
            bad_rows=bad_rows,
        )

    @get("/", summary="The organization's contacts (by tag)")
    async def list_contacts(
        self, request: Request[Any, Any, Any], tag: Text = None, cursor: Text = None
    ) -> Template:
        return await self._page(request, tag=tag or "", cursor=cursor)

    @post("/", status_code=200, summary="Add a contact (the API's POST /orgs/me/contacts)")
    async def add_contact(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        values = {k: text_of(form, k) for k in FIELDS}
        try:
            await contacts.create_contact(
                org_id=org_of(request),
                name=values["name"],
                email=values["email"],
                title=values["title"],
                locale=values["locale"] or "zh-CN",
                tags=_tags(values["tags"]),
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known=FIELDS)
            return await self._page(request, errors=errors, values=values, status=422)
        return see_other("/console/contacts")

    @post(
        "/import",
        status_code=200,
        request_max_body_size=contacts.CSV_MAX_BYTES + 64 * 1024,
        summary="Import contacts from a CSV file (the API's POST /orgs/me/contacts.csv)",
    )
    async def import_csv(self, request: Request[Any, Any, Any]) -> Template:
        form = await request.form()
        upload = form.get("file")
        locale = locale_of(request)
        if not isinstance(upload, UploadFile):
            errors = FormErrors(fields={"file": say("required", locale)})
            return await self._page(request, errors=errors, status=422)
        body = await upload.read()
        try:
            result = await contacts.import_csv(org_id=org_of(request), body=body)
        except ServiceError as exc:
            # every bad row, as the service names it ("line N: column: why")
            rows = [f"{e.field}: {e.message}" for e in exc.errors or []] or [exc.detail]
            errors = FormErrors(fields={"file": say(exc.detail, locale)})
            return await self._page(request, errors=errors, bad_rows=rows, status=422)
        return await self._page(request, imported=result)

    @post("/{email:str}/remove", status_code=200, summary="Remove a contact")
    async def remove_contact(
        self, request: Request[Any, Any, Any], email: FromPath[str]
    ) -> Response[Any]:
        await contacts.delete_contact(org_id=org_of(request), email=email)
        return see_other("/console/contacts")
