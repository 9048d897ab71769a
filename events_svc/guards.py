"""Hooks around every request: only text PostgreSQL can store (no NUL, no lone surrogate, no
invalid UTF-8) and JSON bodies declared as JSON; feed validators forgotten after writes.

PostgreSQL text cannot hold U+0000 nor a lone UTF-16 surrogate (which a JSON `\\udc80` escape
decodes to), and no field of this API has a use for either; refusing them at the door names
the offending field instead of failing in the database. Percent-encoded bytes that are not
UTF-8 (in the path, the query or a form) would otherwise be replaced by U+FFFD or read as
Latin-1, silently storing other text than was sent.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request
from litestar.types import Message, Scope

from events_svc.errors import InvalidInput, UnsupportedMediaType
from events_svc.feeds import service as feeds

#: JSON escapes that can decode to text PostgreSQL refuses: NUL and UTF-16 surrogates (a valid
#: pair decodes to one character; only a lone one stays a surrogate)
_JSON_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
_FORM = "application/x-www-form-urlencoded"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MULTIPART = "multipart/form-data"


#: what PostgreSQL text cannot hold: NUL and (lone) UTF-16 surrogates
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store `value` as text (None when it can)."""
    if _NOT_TEXT.search(value) is None:
        return None
    if "\x00" in value:
        return "must not contain NUL characters"
    return "must not contain lone UTF-16 surrogates (not Unicode text)"


def _bad_path(value: Any, path: str) -> tuple[str, str] | None:
    """The dotted path of the first string (or key) PostgreSQL cannot store, and why."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = text_problem(key)
            if problem:
                return where, problem
            found = _bad_path(item, where)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _bad_path(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def _check_pairs(encoded: bytes, *, fallback: str) -> None:
    """Each name=value of a query string or form body: UTF-8 once percent-decoded, no NUL.
    The field named is the parameter's name (or `fallback` when the name itself is bad)."""
    for pair in encoded.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        try:
            name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput.field(fallback, "parameter names must be UTF-8") from None
        field = name if name and text_problem(name) is None else fallback
        try:
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput.field(field, "must be UTF-8 text") from None
        problem = text_problem(name) or text_problem(value)
        if problem:
            raise InvalidInput.field(field, problem)


async def _check_multipart(request: Request[Any, Any, Any]) -> None:
    """Multipart form fields: UTF-8 text without NUL (the parsed form is cached for the
    handler). Litestar decodes each field strictly, and a field that is not UTF-8 would
    otherwise fail inside the handler as a 500."""
    try:
        form = await request.form()
    except UnicodeDecodeError:
        raise InvalidInput.field("body", "form fields must be UTF-8 text") from None
    for name, value in form.multi_items():
        if isinstance(value, str):
            problem = text_problem(name) or text_problem(value)
            if problem:
                raise InvalidInput.field(name if text_problem(name) is None else "body", problem)


def _media_type(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    """(type, charset) of the body as declared; None without a Content-Type."""
    header = None
    for name, raw in request.scope["headers"]:  # not `request.headers`: built for this only
        if name == b"content-type":
            header = raw.decode("latin-1")
            break
    if header is None:
        return None
    kind, _, params = header.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


def _require_json(
    request: Request[Any, Any, Any], body: bytes, declared: tuple[str, str] | None
) -> None:
    """A handler that decodes a JSON body gets one declared as JSON (RFC 8259: UTF-8); a body
    sent as text/plain, or with no type, is refused instead of guessed at."""
    handler = request.scope.get("route_handler")
    if handler is None or "data" not in handler.parsed_fn_signature.parameters:
        return
    if declared is None:
        if body:
            raise UnsupportedMediaType("send the body as application/json (no Content-Type given)")
        return
    kind, charset = declared
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        raise UnsupportedMediaType(f"send the body as application/json, not {kind or '(empty)'}")
    if charset not in ("", "utf-8", "utf8"):
        raise UnsupportedMediaType(f"JSON is UTF-8; charset={charset} is not accepted")


async def reject_nul(request: Request[Any, Any, Any]) -> None:
    """Refuse, naming the field, text PostgreSQL cannot store anywhere in the request: path,
    query, JSON body or form body (see the module's docstring); and JSON sent as another type."""
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
    # a plain ASCII path without escapes (an API path with an id) holds nothing to refuse
    if b"%" in raw_path or b"\x00" in raw_path or not raw_path.isascii():
        try:
            path = unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput.field("path", "must be UTF-8 text") from None
        if text_problem(path) or text_problem(scope["path"]):
            raise InvalidInput.field("path", "must not contain NUL characters or lone surrogates")
    elif text_problem(scope["path"]):
        raise InvalidInput.field("path", "must not contain NUL characters or lone surrogates")
    query = scope.get("query_string", b"")
    if query:
        _check_pairs(query, fallback="query")
    if scope["method"] in _BODY_METHODS:
        body = await request.body()  # cached: the handler's decoding reads it again for free
        declared = _media_type(request)
        _require_json(request, body, declared)
        if declared is not None and declared[0] == _FORM:
            _check_pairs(body, fallback="body")
        elif declared is not None and declared[0] == _MULTIPART:
            await _check_multipart(request)
        elif _JSON_SUSPECT.search(body):
            try:
                decoded = json.loads(body)
            except ValueError:
                return  # not JSON: the handler's decoding answers that
            found = _bad_path(decoded, "")
            if found is not None:
                field, problem = found
                raise InvalidInput.field(field or "body", problem)


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
