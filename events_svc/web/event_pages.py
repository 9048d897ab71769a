"""The console's pages about events: home, the list and month view, create / edit / cancel,
and one event's details. Every page calls the same service functions as the JSON routes."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from arq.connections import ArqRedis
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from events_svc import paging
from events_svc.calendar.timeutil import iter_occurrences, zone
from events_svc.errors import Conflict, InvalidInput
from events_svc.events import service as events
from events_svc.events.records import EventRecord
from events_svc.events.schemas import EventCreate, EventPatch, OccurrencePatch
from events_svc.events.service import event_uuid
from events_svc.invitations import service as invitations
from events_svc.notifications import progress
from events_svc.partnerships import service as partnerships
from events_svc.settings import Settings
from events_svc.web.auth import user_of_request
from events_svc.web.common import (
    ConsolePages,
    form_errors,
    locale_of,
    org_of,
    page,
    see_other,
    their_event,
)
from events_svc.web.event_form import DAYS, FIELDS, KINDS, REMINDERS, RENAME, ZONES, EventForm
from events_svc.web.forms import errors_of, text_of
from events_svc.web.i18n import translate

Query = Annotated[str | None, QueryParameter(max_length=100)]


def progress_out(p: progress.Progress | None) -> dict[str, Any]:
    """The numbers the page shows and its script refreshes."""
    if p is None:
        return {
            "total": 0,
            "sent": 0,
            "failed": 0,
            "pending": 0,
            "rate": "0",
            "left": "–",
            "done": True,
        }
    left = "–" if p.seconds_left is None else _duration(p.seconds_left)
    return {
        "total": p.total,
        "sent": p.sent,
        "failed": p.failed,
        "pending": p.pending,
        "rate": f"{p.per_minute:.0f}",
        "left": left,
        "done": p.done,
    }


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _event_page_context(row: EventRecord) -> dict[str, Any]:
    return {"event": row, "event_id": row.id}


class EventPages(ConsolePages):
    path = "/console"

    @get("/", summary="Home: upcoming events, sends in progress, failures")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        org_id = org_of(request)
        upcoming, _ = await events.list_events(
            org_id=org_id, from_=datetime.now(UTC), status="scheduled", limit=10
        )
        sends = await progress.sends_in_progress(org_id=org_id, cache=request.app.state.arq)
        failed = await progress.failures(org_id=org_id, cache=request.app.state.arq)
        return page(
            request,
            "console/home.html",
            upcoming=upcoming,
            sends=[{"event_id": s.event_id, "title": s.title, **progress_out(s)} for s in sends],
            failures=failed,
        )

    @get("/events", summary="The events, with the API's filters, as a list or a month")
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        from_: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
        to: Annotated[str | None, QueryParameter(max_length=40)] = None,
        kind: Query = None,
        status: Query = None,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
        view: Query = None,
        month: Query = None,
    ) -> Template:
        filters = {"from": from_ or "", "to": to or "", "kind": kind or "", "status": status or ""}
        if view == "month":
            try:
                first = date.fromisoformat((month or "") + "-01")
            except ValueError:
                first = datetime.now(UTC).date().replace(day=1)
            following = (first + timedelta(days=32)).replace(day=1)
            rows, _ = await events.list_events(
                org_id=org_of(request),
                from_=datetime.combine(first - timedelta(days=1), datetime.min.time(), UTC),
                to=datetime.combine(following + timedelta(days=1), datetime.min.time(), UTC),
                kinds=(kind,) if kind in KINDS else (),
                status=status if status in ("scheduled", "cancelled") else None,
                limit=paging.MAX_LIMIT,
            )
            return page(
                request,
                "console/events_month.html",
                filters=filters,
                weeks=_month(first, rows),
                month=first,
                previous=(first - timedelta(days=1)).strftime("%Y-%m"),
                following=following.strftime("%Y-%m"),
                kinds=KINDS,
            )
        errors = None
        rows, next_cursor = [], None
        try:
            rows, next_cursor = await events.list_events(
                org_id=org_of(request),
                from_=events.instant(from_, field="from") if from_ else None,
                to=events.instant(to, field="to") if to else None,
                kinds=(kind,) if kind in KINDS else (),
                status=status if status in ("scheduled", "cancelled") else None,
                cursor=cursor or None,
                limit=50,
            )
        except InvalidInput as exc:
            errors = form_errors(request, exc, known={"from", "to", "cursor"})
        return page(
            request,
            "console/events.html",
            rows=rows,
            next_cursor=next_cursor,
            filters=filters,
            kinds=KINDS,
            errors=errors,
        )

    @get("/events/new", summary="The form for a new event")
    async def new_event(self, request: Request[Any, Any, Any]) -> Template:
        return await self._form(request, EventForm(), action="/console/events", errors=None)

    async def _form(
        self,
        request: Request[Any, Any, Any],
        form: EventForm,
        *,
        action: str,
        errors: Any,
        event: EventRecord | None = None,
        status: int = 200,
    ) -> Template:
        agreements = [
            a for a in await partnerships.list_for(org_id=org_of(request)) if a.status == "active"
        ]
        return page(
            request,
            "console/event_form.html",
            agreements=agreements,
            status=status,
            form=form,
            action=action,
            errors=errors,
            event=event,
            zones=ZONES,
            kinds=KINDS,
            days=DAYS,
            reminder_choices=REMINDERS,
        )

    @post("/events", status_code=200, summary="Create an event (the API's POST /events)")
    async def create_event(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Response[Any]:
        user = user_of_request(request)
        form = EventForm.from_post(await request.form())
        try:
            data = msgspec.convert(form.values(), EventCreate)
            row = await events.create_event(
                org_id=user.organizer.org_id,
                org_slug=user.org_slug,
                data=data,
                uid_host=settings.public_host,
                limits=settings.volume,
            )
        except (InvalidInput, msgspec.ValidationError) as exc:
            errors = errors_of(exc, locale_of(request), known=FIELDS, rename=RENAME)
            return await self._form(
                request, form, action="/console/events", errors=errors, status=422
            )
        return see_other(f"/console/events/{row.id}")

    @get("/events/{event_id:str}", summary="One event: its details and its tabs")
    async def event(self, request: Request[Any, Any, Any], event_id: FromPath[str]) -> Template:
        ident, row = await their_event(request, event_id)
        sent = await progress.event_progress(event_id=ident, cache=request.app.state.arq)
        return self._event_page(request, row, progress_out(sent))

    def _event_page(
        self,
        request: Request[Any, Any, Any],
        row: EventRecord,
        sent: dict[str, Any],
        *,
        errors: Any = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        return page(
            request,
            "console/event.html",
            status=status,
            tab="details",
            progress=sent,
            occurrences=_next_occurrences(row),
            errors=errors,
            occ=values or {"occurrence": "", "action": "move", "starts_at": "", "ends_at": ""},
            **_event_page_context(row),
        )

    @post(
        "/events/{event_id:str}/occurrence",
        status_code=200,
        summary="Move or cancel one occurrence of a series (the API's PATCH .../occurrences)",
    )
    async def change_occurrence(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        ident, row = await their_event(request, event_id)
        form = await request.form()
        values = {k: text_of(form, k) for k in ("occurrence", "action", "starts_at", "ends_at")}
        changes: dict[str, Any] = {"status": "cancelled"}
        if values["action"] != "cancel":
            changes = {
                k: (v + ":00" if len(v) == 16 else v)
                for k, v in (("starts_at", values["starts_at"]), ("ends_at", values["ends_at"]))
                if v
            }
        try:
            await events.update_occurrence(
                org_id=org_of(request),
                event_id=ident,
                occurrence=values["occurrence"],
                patch=msgspec.convert(changes, OccurrencePatch),
                queue=queue,
                limits=settings.volume,
            )
        except (InvalidInput, msgspec.ValidationError, Conflict) as exc:
            errors = form_errors(
                request,
                exc,
                known={"occurrence", "occ_starts_at", "occ_ends_at"},
                rename={"starts_at": "occ_starts_at", "ends_at": "occ_ends_at"},
            )
            sent = await progress.event_progress(event_id=ident, cache=request.app.state.arq)
            return self._event_page(
                request, row, progress_out(sent), errors=errors, values=values, status=422
            )
        return see_other(f"/console/events/{ident}")

    @get("/events/{event_id:str}/progress.json", summary="The event's send, for the live bar")
    async def event_progress(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        rows: Query = None,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
    ) -> dict[str, Any]:
        ident, _ = await their_event(request, event_id)  # 404 if not theirs
        out = progress_out(
            await progress.event_progress(event_id=ident, cache=request.app.state.arq)
        )
        if rows == "1":
            # the delivery state of the people on the page being looked at
            locale = locale_of(request)
            items, _ = await invitations.list_invitations(
                org_id=org_of(request), event_id=ident, cursor=cursor or None, limit=50
            )
            out["rows"] = [
                {
                    "key": i.email,
                    "state": (state := i.delivery.status if i.delivery else "none"),
                    "label": translate(f"c.delivery.{state}", locale),
                }
                for i in items
            ]
        return out

    @get("/events/{event_id:str}/edit", summary="The form to change an event")
    async def edit_event(
        self, request: Request[Any, Any, Any], event_id: FromPath[str]
    ) -> Template:
        _, row = await their_event(request, event_id)
        return await self._form(
            request,
            EventForm.from_event(row),
            action=f"/console/events/{row.id}/edit",
            errors=None,
            event=row,
        )

    @post("/events/{event_id:str}/edit", status_code=200, summary="Change an event (PATCH)")
    async def update_event(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        ident, row = await their_event(request, event_id)
        form = EventForm.from_post(await request.form())
        action = f"/console/events/{row.id}/edit"
        try:
            wanted = form.values(existing=row.registration_questions)
            before = EventForm.from_event(row).values(existing=row.registration_questions)
            # only what changed: an unchanged start must not raise SEQUENCE or mail anyone
            changes = {k: v for k, v in wanted.items() if v != before.get(k)}
            patch = msgspec.convert(changes, EventPatch)
            await events.update_event(
                org_id=org_of(request),
                event_id=ident,
                patch=patch,
                queue=queue,
                limits=settings.volume,
            )
        except (InvalidInput, msgspec.ValidationError) as exc:
            errors = form_errors(request, exc, known=FIELDS, rename=RENAME)
            return await self._form(
                request, form, action=action, errors=errors, event=row, status=422
            )
        return see_other(f"/console/events/{row.id}")

    @post("/events/{event_id:str}/cancel", status_code=200, summary="Cancel the event")
    async def cancel_event(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
    ) -> Response[Any]:
        ident = event_uuid(event_id)
        await events.cancel_event(org_id=org_of(request), event_id=ident, queue=queue)
        return see_other(f"/console/events/{ident}")


def _next_occurrences(row: EventRecord, count: int = 30) -> list[str]:
    """The series' next original starts (what one occurrence is named by), from now."""
    if not row.recurrence:
        return []
    tz = zone(row.timezone)
    now = datetime.now(tz).replace(tzinfo=None)
    start = datetime.fromisoformat(row.starts_at)
    found: list[str] = []
    for i, occ in enumerate(iter_occurrences(row.recurrence, start_local=start, tz=tz)):
        if i > 5000 or len(found) >= count:
            break
        if occ >= now:
            found.append(occ.strftime("%Y-%m-%dT%H:%M:%S"))
    return found


def _month(first: date, rows: list[EventRecord]) -> list[list[dict[str, Any]]]:
    """Weeks (Monday first) of the month's days, each with the events starting that day."""
    by_day: dict[str, list[EventRecord]] = {}
    for row in rows:
        by_day.setdefault(row.starts_at[:10], []).append(row)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                {
                    "day": d,
                    "other": d.month != first.month,
                    "events": by_day.get(d.isoformat(), []),
                }
                for d in week
            ]
        )
    return weeks
