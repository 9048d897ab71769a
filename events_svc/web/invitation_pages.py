"""One event's people in the console: invitations (paste, or by organization and tag from
contacts; a preview before sending; delivery state per person; resend), answers, and the
training check-in. The same service functions as the JSON routes."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from arq.connections import ArqRedis
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from events_svc.contacts import service as contacts
from events_svc.contacts.csv_import import parse_csv
from events_svc.delegations import service as delegations
from events_svc.errors import Conflict, InvalidInput, ServiceError
from events_svc.events.service import event_uuid
from events_svc.invitations import resend as resends
from events_svc.invitations import service as invitations
from events_svc.invitations.schemas import InviteeIn, OrgSelector
from events_svc.jobs import enqueue_notifications
from events_svc.notifications import progress
from events_svc.organizers import audit
from events_svc.rsvp import service as rsvp
from events_svc.rsvp.controllers import attendance_csv
from events_svc.settings import Settings
from events_svc.training import service as training
from events_svc.web.auth import ConsoleUser, user_of_request
from events_svc.web.common import (
    ConsolePages,
    form_errors,
    locale_of,
    org_of,
    see_other,
    tab_page,
    their_event,
)
from events_svc.web.event_pages import progress_out
from events_svc.web.forms import FormErrors, errors_of, parse_pasted, say, text_of

PAGE = 50
Text = Annotated[str | None, QueryParameter(max_length=400)]


def _tags(text: str) -> list[str]:
    return [t for t in (x.strip() for x in text.replace("，", ",").split(",")) if t]


async def _who(
    user: ConsoleUser, form: Any, locale: Any
) -> tuple[list[Any], FormErrors, dict[str, str]]:
    """The people the form names (pasted, and contacts by organization and tag), merged as
    the API merges them; and the errors, by field."""
    pasted_text = text_of(form, "pasted")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        # a CSV of people (name, email columns; the contacts import's reader and rules): it
        # joins the pasted lines, and the preview carries them on as text
        try:
            parsed = parse_csv(await upload.read())
        except ServiceError as exc:
            bad_rows = "; ".join(f"{e.field}: {e.message}" for e in (exc.errors or [])[:5])
            errors = FormErrors(
                fields={"file": say(exc.detail, locale) + (f" ({bad_rows})" if bad_rows else "")}
            )
            return [], errors, {"pasted": pasted_text, "org": "", "tags": "", "members": ""}
        rows = [f"{c.name} <{c.email}>" if c.name else c.email for c in parsed.contacts]
        pasted_text = "\n".join([pasted_text.rstrip("\n"), *rows]).strip("\n")
    org_slug = text_of(form, "org").strip()
    tags = _tags(text_of(form, "tags"))
    values = {"pasted": pasted_text, "org": org_slug, "tags": text_of(form, "tags")}
    errors = FormErrors()
    pasted, bad = parse_pasted(pasted_text)
    if bad:
        lines = ", ".join(str(n) for n, _ in bad[:10])
        errors.fields["pasted"] = (
            f"第 {lines} 行不是电子邮件地址"
            if locale == "zh-CN"
            else f"not an address on line {lines}"
        )
    invitees = [InviteeIn(email=p.email, name=p.name) for p in pasted]
    members = text_of(form, "members") == "1"
    values["members"] = "1" if members else ""
    selectors = [OrgSelector(slug=org_slug, tags=tags or None, members=members)] if org_slug else []
    if not invitees and not selectors and not errors:
        errors.fields["pasted"] = (
            "请粘贴地址，或选择机构和标签"
            if locale == "zh-CN"
            else "paste addresses, or choose an organization and tags"
        )
    if errors:
        return [], errors, values
    try:
        resolved = await contacts.resolve_invitees(
            caller_org_id=user.organizer.org_id, selectors=selectors
        )
        merged = contacts.merge_invitees(
            invitees=invitees, resolved=resolved, organizations_named=bool(selectors)
        )
    except InvalidInput as exc:
        got = errors_of(exc, locale, known={"pasted", "org", "tags", "file"}, rename=_RENAME)
        return [], got, values
    return list(merged), errors, values


_RENAME = {"organizations": "org", "invitees": "pasted"}


class InvitationPages(ConsolePages):
    path = "/console/events/{event_id:str}"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        event_id: str,
        *,
        cursor: str | None = None,
        errors: Any = None,
        values: dict[str, str] | None = None,
        preview: list[Any] | None = None,
        status: int = 200,
    ) -> Template:
        ident, row = await their_event(request, event_id)
        items, next_cursor = await invitations.list_invitations(
            org_id=org_of(request), event_id=ident, cursor=cursor or None, limit=PAGE
        )
        sent = await progress.event_progress(event_id=ident, cache=request.app.state.arq)
        return tab_page(
            request,
            "console/invitations.html",
            row,
            tab="invitations",
            status=status,
            items=items,
            next_cursor=next_cursor,
            progress=progress_out(sent),
            values=values or {"pasted": "", "org": "", "tags": "", "members": ""},
            errors=errors,
            preview=preview,
        )

    @get("/invitations", summary="Invitees with their answer and delivery; the invite form")
    async def invitations(
        self, request: Request[Any, Any, Any], event_id: FromPath[str], cursor: Text = None
    ) -> Template:
        return await self._page(request, event_id, cursor=cursor)

    # a preview changes nothing: no audit entry
    @post(
        "/invitations/preview",
        status_code=200,
        request_max_body_size=contacts.CSV_MAX_BYTES + 64 * 1024,
        summary="Who would be invited",
        opt={"audit": False},
    )
    async def preview(self, request: Request[Any, Any, Any], event_id: FromPath[str]) -> Template:
        user = user_of_request(request)
        people, errors, values = await _who(user, await request.form(), locale_of(request))
        if errors:
            return await self._page(request, event_id, errors=errors, values=values, status=422)
        return await self._page(request, event_id, values=values, preview=people)

    @post("/invitations", status_code=200, summary="Invite (the API's POST .../invitations)")
    async def invite(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        user = user_of_request(request)
        locale = locale_of(request)
        people, errors, values = await _who(user, await request.form(), locale)
        if not errors:
            try:
                await invitations.invite(
                    org_id=org_of(request),
                    event_id=event_uuid(event_id),
                    invitees=people,
                    message="",
                    queue=queue,
                    max_reminder_rows=settings.max_reminder_rows_per_event,
                )
            except InvalidInput as exc:
                errors = errors_of(exc, locale, known={"pasted", "org", "tags"}, rename=_RENAME)
        if errors:
            return await self._page(request, event_id, errors=errors, values=values, status=422)
        return see_other(f"/console/events/{event_uuid(event_id)}/invitations")

    @post("/invitations/{email:str}/resend", status_code=200, summary="Send a failed one again")
    async def resend(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        email: FromPath[str],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        ident = event_uuid(event_id)
        try:
            rows = await resends.resend(org_id=org_of(request), event_id=ident, email=email)
        except Conflict as exc:
            general = FormErrors(general=[say(exc.detail, locale_of(request))])
            return await self._page(request, event_id, errors=general, status=409)
        await enqueue_notifications(queue, rows)
        return see_other(f"/console/events/{ident}/invitations")

    @get("/answers", summary="Answers: counts, the waitlist in order, comments")
    async def answers(self, request: Request[Any, Any, Any], event_id: FromPath[str]) -> Template:
        ident, row = await their_event(request, event_id)
        data = await rsvp.attendance(org_id=org_of(request), event_id=ident)
        return tab_page(request, "console/answers.html", row, tab="answers", data=data)

    @get("/answers.csv", summary="Answers as CSV (the API's attendance.csv)")
    async def answers_csv(
        self, request: Request[Any, Any, Any], event_id: FromPath[str]
    ) -> Response[bytes]:
        data = await rsvp.attendance(org_id=org_of(request), event_id=event_uuid(event_id))
        return attendance_csv(data)

    @get("/activity", summary="Who changed the event and when (organizer or API key)")
    async def activity(self, request: Request[Any, Any, Any], event_id: FromPath[str]) -> Template:
        ident, row = await their_event(request, event_id)
        entries = await audit.for_subject(subject=str(ident))
        return tab_page(
            request,
            "console/activity.html",
            row,
            tab="activity",
            entries=entries,
        )

    @get("/delegations", summary="An exchange visit's delegations (as the visitors named them)")
    async def delegations(
        self, request: Request[Any, Any, Any], event_id: FromPath[str]
    ) -> Template:
        ident, row = await their_event(request, event_id)
        rows = None
        if row.kind == "exchange_visit":
            rows = await delegations.list_for(org_id=org_of(request), event_id=ident)
        return tab_page(
            request,
            "console/delegations.html",
            row,
            tab="delegations",
            rows=rows,
        )

    @get("/completion", summary="A training's completion and certificates")
    async def completion(
        self, request: Request[Any, Any, Any], event_id: FromPath[str]
    ) -> Template:
        ident, row = await their_event(request, event_id)
        data = None
        if row.kind == "training":
            data = await training.completion(org_id=org_of(request), event_id=ident)
        return tab_page(
            request,
            "console/completion.html",
            row,
            tab="completion",
            data=data,
        )

    @post("/certificates/{code:str}/revoke", status_code=200, summary="Revoke a certificate")
    async def revoke_certificate(
        self, request: Request[Any, Any, Any], event_id: FromPath[str], code: FromPath[str]
    ) -> Response[Any]:
        ident, _ = await their_event(request, event_id)  # 404 if not theirs
        await training.revoke(org_id=org_of(request), code=code)
        return see_other(f"/console/events/{ident}/completion")

    @get("/check-in", summary="Check people in at a training session: search, one tap")
    async def check_in_sheet(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        q: Text = None,
        session: Text = None,
    ) -> Template:
        return await self._sheet(request, event_id, q=q or "", session=session)

    async def _sheet(
        self,
        request: Request[Any, Any, Any],
        event_id: str,
        *,
        q: str,
        session: str | None,
        errors: Any = None,
        status: int = 200,
    ) -> Template:
        ident, row = await their_event(request, event_id)
        sheet = None
        if row.kind == "training":
            sheet = await training.check_in_sheet(
                org_id=org_of(request), event_id=ident, occurrence=session, search=q
            )
        return tab_page(
            request,
            "console/check_in.html",
            row,
            tab="check-in",
            status=status,
            sheet=sheet,
            q=q,
            errors=errors,
        )

    @post(
        "/check-in", status_code=200, summary="Check one person in (the API's POST .../attendance)"
    )
    async def check_in(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        user = user_of_request(request)
        form = await request.form()
        session = text_of(form, "session")
        q = text_of(form, "q")
        try:
            done = await training.check_in(
                org_id=org_of(request),
                key_prefix=user.actor[:64],
                event_id=event_uuid(event_id),
                email=text_of(form, "email"),
                occurrence=session,
            )
        except (InvalidInput, Conflict) as exc:
            errors = form_errors(request, exc, known=set())
            return await self._sheet(
                request, event_id, q=q, session=session, errors=errors, status=422
            )
        await enqueue_notifications(queue, done.notifications)
        query = "?" + urlencode({"session": session, **({"q": q} if q else {})})
        return see_other(f"/console/events/{event_uuid(event_id)}/check-in{query}")
