"""Every successful change request, console or API, leaves an audit entry naming its actor."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from litestar.types import Message, Scope

from events_svc.organizers import audit

log = logging.getLogger("events_svc.audit")
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: path parameters that name what was changed when the path names no event
SUBJECT_PARAMS = ("email", "prefix", "webhook_id", "partnership_id", "slug", "code")


def _actor(state: dict[str, Any]) -> tuple[Any, str] | None:
    user = state.get("user")
    if user is not None:
        return user.organizer.org_id, user.actor
    caller = state.get("caller")
    if caller is not None:
        return caller.org_id, f"api-key:{caller.key_prefix}"
    return None  # signing in, answering by link, the mail hook: no organization actor


_PENDING = "_audit_pending"
#: set when the request's service writes its entry with the change (`creation_note`)
_WRITTEN = "_audit_written"
#: a console page that made something sends the browser to it: /console/events/<id>
_MADE = re.compile(rb"^/console/events/([0-9a-f-]{36})")


async def record_change(message: Message, scope: Scope) -> None:
    """`before_send`: when a change request's answer starts (its transaction committed).
    A creation names no thing in its path: its entry waits for the answer's body (the API's
    JSON `id`) or takes the page it redirects to (the console)."""
    state = scope.get("state")
    if message["type"] == "http.response.body":
        pending = state.pop(_PENDING, None) if isinstance(state, dict) else None
        if pending is not None:
            await _write(pending, subject=_made_id(message.get("body") or b"{}"))
        return
    if message["type"] != "http.response.start" or scope.get("method") not in _CHANGES:
        return
    status = int(message["status"])
    if status >= 400 or (state or {}).get(_WRITTEN):
        return
    who = _actor(state or {})
    if who is None:
        return
    handler = scope.get("route_handler")
    if handler is not None and handler.opt.get("audit") is False:
        return
    params = scope.get("path_params") or {}
    if "event_id" in params:
        subject = str(params["event_id"])
        try:
            subject = str(uuid.UUID(subject))  # as the activity page asks for it
        except ValueError:
            pass
    else:
        subject = ",".join(f"{k}={params[k]}" for k in SUBJECT_PARAMS if k in params)
    action, route = _names(handler, scope)
    entry = {"org_id": who[0], "actor": who[1], "action": action, "route": route, "status": status}
    if not subject:
        location = dict(message.get("headers") or []).get(b"location", b"")
        found = _MADE.match(location)
        if found:
            subject = found.group(1).decode()
        elif status == 201 and isinstance(state, dict):
            state[_PENDING] = entry  # the API's answer carries the new thing's id
            return
    await _write(entry, subject=subject)


#: a JSON answer that starts with its `id` (msgspec writes a struct's fields in order)
_LEADING_ID = re.compile(rb'\{"id":"([^"\\]*)"')


def _made_id(body: bytes) -> str:
    """The `id` of a creation's JSON answer ("" when it names none)."""
    found = _LEADING_ID.match(body)
    if found is not None:
        return found.group(1).decode("utf-8", "replace")
    try:
        made = json.loads(body).get("id", "")
    except (ValueError, AttributeError):
        made = ""
    return str(made)


#: (handler, method) -> the entry's action and route, worked out once per route
_NAMES: dict[tuple[Any, Any], tuple[str, str]] = {}


def _names(handler: Any, scope: Scope) -> tuple[str, str]:
    method = scope.get("method")
    found = _NAMES.get((handler, method)) if handler is not None else None
    if found is not None:
        return found
    paths = sorted(getattr(handler, "paths", ()) or ())
    found = (
        getattr(handler, "handler_name", "") or "",
        f"{method} {paths[0] if paths else scope.get('path', '')}",
    )
    if handler is not None and paths:
        _NAMES[handler, method] = found
    return found


def creation_note(scope: Scope) -> audit.Note | None:
    """The entry this hook would write for the creation the request makes (201), for a
    service that writes it in the statement that makes the thing: one round trip and one
    commit instead of two, and the answer does not wait for a second one. The hook then
    leaves the request alone. None when the request has no organization actor."""
    state = scope.get("state")
    if not isinstance(state, dict):
        return None
    who = _actor(state)
    if who is None:
        return None
    action, route = _names(scope.get("route_handler"), scope)
    state[_WRITTEN] = True
    return audit.Note(org_id=who[0], actor=who[1], action=action, route=route, status=201)


async def _write(entry: dict[str, Any], *, subject: str) -> None:
    try:
        await audit.record(subject=subject, **entry)
    except Exception:  # the change itself stands; only its entry is lost
        log.exception("could not record the audit entry of %s", entry["route"])
