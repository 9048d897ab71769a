"""Hooks around every request: no NUL characters anywhere; feed validators forgotten after
writes.

PostgreSQL text cannot hold U+0000, and no field of this API has a use for it; refusing it at
the door names the offending field instead of failing in the database.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request
from litestar.types import Message, Scope

from events_svc.errors import InvalidInput
from events_svc.feeds import service as feeds

_JSON_NUL = b"\\u0000"


def _nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding a NUL, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return where
            found = _nul_path(item, where)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


async def reject_nul(request: Request[Any, Any, Any]) -> None:
    if "\x00" in request.scope["path"]:
        raise InvalidInput.field("path", "must not contain NUL characters")
    query = request.scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query.lower():
        raise InvalidInput.field("query", "must not contain NUL characters")
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # cached: the handler's decoding reads it again for free
        if _JSON_NUL in body:
            try:
                decoded = json.loads(body)
            except ValueError:
                return  # not JSON: the handler's decoding answers that
            field = _nul_path(decoded, "")
            if field is not None:
                raise InvalidInput.field(field or "body", "must not contain NUL characters")


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def invalidate_feeds_after_writes(message: Message, scope: Scope) -> None:
    """When a write request succeeded (its transaction committed; its answer is about to
    go out), feed validators cached in this process are stale."""
    if (
        message["type"] == "http.response.start"
        and scope.get("method") not in _SAFE_METHODS
        and message["status"] < 400
    ):
        feeds.note_write()
