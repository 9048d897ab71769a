"""The console's admin pages: organizers and API keys (admins only; editors get 403)."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from events_svc.errors import Conflict, InvalidInput
from events_svc.organizers import service as organizers
from events_svc.organizers import sessions
from events_svc.orgs import service as orgs
from events_svc.settings import Settings
from events_svc.web.common import AdminConsolePages, form_errors, org_of, page, see_other
from events_svc.web.forms import FormErrors, text_of
from events_svc.webhooks import service as webhooks
from events_svc.webhooks.records import CreatedWebhookRecord

ORGANIZER_FIELDS = {"email", "name", "locale", "role"}


class AdminPages(AdminConsolePages):
    path = "/console"

    async def _organizers(
        self,
        request: Request[Any, Any, Any],
        *,
        errors: Any = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        rows = await organizers.list_organizers(org_id=org_of(request))
        return page(
            request,
            "console/organizers.html",
            status=status,
            rows=rows,
            errors=errors,
            values=values or {"email": "", "name": "", "locale": "zh-CN", "role": "editor"},
        )

    @get("/organizers", summary="The organization's organizers")
    async def list_organizers(self, request: Request[Any, Any, Any]) -> Template:
        return await self._organizers(request)

    @post("/organizers", status_code=200, summary="Add an organizer")
    async def add_organizer(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        values = {k: text_of(form, k) for k in ORGANIZER_FIELDS}
        try:
            await organizers.add_organizer(
                org_id=org_of(request),
                email=values["email"],
                name=values["name"],
                locale=values["locale"],
                role=values["role"],
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known=ORGANIZER_FIELDS)
            return await self._organizers(request, errors=errors, values=values, status=422)
        return see_other("/console/organizers")

    @post("/organizers/{email:str}", status_code=200, summary="Change an organizer's role")
    async def change_organizer(
        self, request: Request[Any, Any, Any], email: FromPath[str]
    ) -> Response[Any]:
        form = await request.form()
        try:
            await organizers.change_organizer(
                org_id=org_of(request),
                email=email,
                role=text_of(form, "role") or None,
                locale=text_of(form, "locale") or None,
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known=set())
            return await self._organizers(request, errors=errors, status=409)
        return see_other("/console/organizers")

    @post("/organizers/{email:str}/remove", status_code=200, summary="Remove an organizer")
    async def remove_organizer(
        self,
        request: Request[Any, Any, Any],
        email: FromPath[str],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        try:
            row = await organizers.remove_organizer(org_id=org_of(request), email=email)
        except Conflict as exc:
            errors = form_errors(request, exc, known=set())
            return await self._organizers(request, errors=errors, status=409)
        await sessions.end_all(queue, organizer_id=row.id)
        return see_other("/console/organizers")

    async def _keys(
        self,
        request: Request[Any, Any, Any],
        *,
        created: str | None = None,
        errors: Any = None,
        status: int = 200,
    ) -> Template:
        rows = await orgs.list_api_keys(org_id=org_of(request))
        return page(
            request,
            "console/api_keys.html",
            status=status,
            rows=rows,
            created=created,
            errors=errors,
        )

    @get("/api-keys", summary="The organization's API keys (prefixes only)")
    async def list_keys(self, request: Request[Any, Any, Any]) -> Template:
        return await self._keys(request)

    @post("/api-keys", status_code=200, summary="Create an API key; shown once, on this page")
    async def create_key(self, request: Request[Any, Any, Any]) -> Template:
        form = await request.form()
        label = " ".join(text_of(form, "label").split())[:100]
        _row, key = await orgs.create_api_key(org_id=org_of(request), label=label)
        return await self._keys(request, created=key)

    @post("/api-keys/{prefix:str}/revoke", status_code=200, summary="Revoke an API key")
    async def revoke_key(
        self, request: Request[Any, Any, Any], prefix: FromPath[str]
    ) -> Response[Any]:
        form = await request.form()
        try:
            await orgs.revoke_api_key(
                org_id=org_of(request),
                prefix=prefix,
                confirm_last=text_of(form, "confirm_last") == "1",
            )
        except Conflict as exc:
            errors = FormErrors(general=[form_errors(request, exc, known=set()).general[0]])
            return await self._keys(request, errors=errors, status=409)
        return see_other("/console/api-keys")


WEBHOOK_KINDS = ("rsvp.changed", "delivery.failed")


class WebhookPages(AdminConsolePages):
    """Webhooks with their delivery log (admins only)."""

    path = "/console/webhooks"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        created: CreatedWebhookRecord | None = None,
        errors: Any = None,
        url: str = "",
        status: int = 200,
    ) -> Template:
        rows = await webhooks.list_webhooks(org_id=org_of(request))
        return page(
            request,
            "console/webhooks.html",
            status=status,
            rows=rows,
            created=created,
            errors=errors,
            url=url,
            kinds=WEBHOOK_KINDS,
        )

    @get("/", summary="The organization's webhooks")
    async def list_webhooks(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", status_code=200, summary="Register a webhook; its secret is shown once")
    async def create_webhook(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Template:
        form = await request.form()
        url = text_of(form, "url").strip()
        kinds = [k for k in form.getall("events", []) if k in WEBHOOK_KINDS]
        try:
            row = await webhooks.create_webhook(
                org_id=org_of(request),
                url=url,
                events=kinds,
                allow_private=settings.webhook_allow_private,
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known={"url", "events"})
            return await self._page(request, errors=errors, url=url, status=422)
        return await self._page(request, created=row)

    @get("/{webhook_id:str}", summary="A webhook's deliveries, newest first")
    async def deliveries(
        self, request: Request[Any, Any, Any], webhook_id: FromPath[str]
    ) -> Template:
        ident = webhooks.webhook_uuid(webhook_id)
        # the newest page (the API pages further with its `next` cursor)
        rows, _ = await webhooks.list_deliveries(org_id=org_of(request), webhook_id=ident)
        hook = next(
            (h for h in await webhooks.list_webhooks(org_id=org_of(request)) if h.id == str(ident)),
            None,
        )
        return page(request, "console/webhook.html", hook=hook, rows=rows)

    @post("/{webhook_id:str}/revoke", status_code=200, summary="Revoke a webhook")
    async def revoke(
        self, request: Request[Any, Any, Any], webhook_id: FromPath[str]
    ) -> Response[Any]:
        await webhooks.revoke_webhook(
            org_id=org_of(request), webhook_id=webhooks.webhook_uuid(webhook_id)
        )
        return see_other("/console/webhooks")
