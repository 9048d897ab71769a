"""The console's agenda editor: one session per line, as text (works without JavaScript, and
pastes from a spreadsheet or a document):

    2027-06-10 09:30-10:30 | 开幕式 | 第一会议室 | 张三 <zhang@example.org>; 李四 <li@example.org>

date, start-end, title, room (optional), speakers (optional; `Name <addr>`, `;` between them).
The service keeps each session's id by its title, invites speakers and sends one update."""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

import msgspec
from arq.connections import ArqRedis
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from events_svc.calendar.agenda import AgendaEntry
from events_svc.errors import Conflict, InvalidInput
from events_svc.events.schemas import AgendaItemIn
from events_svc.events.service import event_uuid
from events_svc.invitations import agenda as agendas
from events_svc.jobs import enqueue_notifications
from events_svc.settings import Settings
from events_svc.web.common import ConsolePages, locale_of, org_of, see_other, tab_page, their_event
from events_svc.web.forms import FormErrors, say, text_of

_LINE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})\s*$")


def as_text(items: Sequence[AgendaEntry]) -> str:
    """The stored agenda as the editor's lines."""
    lines = []
    for a in items:
        speakers = "; ".join(f"{s.name} <{s.email}>" if s.name else s.email for s in a.speakers)
        when = f"{a.starts_at:%Y-%m-%d %H:%M}-{a.ends_at:%H:%M}"
        parts = [when, a.title, a.room, speakers]
        lines.append(" | ".join(parts).rstrip(" |"))
    return "\n".join(lines)


def parse(text: str) -> tuple[list[AgendaItemIn], list[int], list[str]]:
    """Items, the line number of each, and the problems of lines that do not parse."""
    items: list[AgendaItemIn] = []
    numbers: list[int] = []
    problems: list[str] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split("|")]
        when = _LINE.match(parts[0])
        if when is None or len(parts) < 2:
            problems.append(f"{n}")
            continue
        day, start, end = when.groups()
        speakers = []
        for entry in (parts[3] if len(parts) > 3 else "").split(";"):
            if entry.strip():
                name, address = parseaddr(entry.strip())
                speakers.append({"email": address or entry.strip(), "name": name})
        try:
            items.append(
                msgspec.convert(
                    {
                        "title": parts[1],
                        "starts_at": f"{day}T{int(start[:-3]):02d}{start[-3:]}:00",
                        "ends_at": f"{day}T{int(end[:-3]):02d}{end[-3:]}:00",
                        "room": parts[2] if len(parts) > 2 else "",
                        "speakers": speakers,
                    },
                    AgendaItemIn,
                )
            )
            numbers.append(n)
        except msgspec.ValidationError:
            problems.append(f"{n}")
    return items, numbers, problems


class AgendaPage(ConsolePages):
    path = "/console/events/{event_id:str}/agenda"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        event_id: str,
        *,
        text: str | None = None,
        errors: Any = None,
        status: int = 200,
    ) -> Template:
        ident, row = await their_event(request, event_id)
        if text is None:
            text = as_text(await agendas.get_agenda(org_id=org_of(request), event_id=ident))
        return tab_page(
            request,
            "console/agenda.html",
            row,
            tab="agenda",
            status=status,
            text=text,
            errors=errors,
        )

    @get("/", summary="The agenda editor")
    async def agenda(self, request: Request[Any, Any, Any], event_id: FromPath[str]) -> Template:
        return await self._page(request, event_id)

    @post("/", status_code=200, summary="Set the agenda (the API's PUT .../agenda)")
    async def set_agenda(
        self,
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
        queue: NamedDependency[ArqRedis],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        locale = locale_of(request)
        text = text_of(await request.form(), "agenda")
        items, numbers, bad = parse(text)
        errors = FormErrors()
        if bad:
            lines = ", ".join(bad[:10])
            errors.fields["agenda"] = (
                f"第 {lines} 行格式不对" if locale == "zh-CN" else f"lines {lines} do not read"
            )
            return await self._page(request, event_id, text=text, errors=errors, status=422)
        try:
            _answer, invitations, updates = await agendas.set_agenda(
                org_id=org_of(request),
                event_id=event_uuid(event_id),
                items=items,
                update_delay=settings.agenda_update_delay,
                max_reminder_rows=settings.max_reminder_rows_per_event,
            )
        except (InvalidInput, Conflict) as exc:
            for e in exc.errors or []:
                index = e.field.split(".")[1] if e.field.startswith("items.") else ""
                where = (
                    f"{numbers[int(index)]}"
                    if index.isdigit() and int(index) < len(numbers)
                    else ""
                )
                prefix = (
                    (f"第 {where} 行：" if locale == "zh-CN" else f"line {where}: ")
                    if where
                    else ""
                )
                errors.general.append(prefix + say(e.message, locale))
            if not errors.general:
                errors.general.append(say(exc.detail, locale))
            return await self._page(request, event_id, text=text, errors=errors, status=422)
        await enqueue_notifications(queue, invitations, batch=True)
        await enqueue_notifications(queue, updates, at_due_time=True)
        return see_other(f"/console/events/{event_uuid(event_id)}/agenda")
