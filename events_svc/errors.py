"""Domain errors and their RFC 9457 problem documents."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from events_svc.outages import OUTAGE_ERRORS, unavailable

log = logging.getLogger("events_svc.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://events-svc.dev/problems/"


class FieldError(msgspec.Struct, frozen=True):
    """One offending input: `field` is a dotted path such as `invitees.3.email`."""

    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ServiceError(Exception):
    """Base of the errors that services raise; each becomes a problem document."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class InvalidInput(ServiceError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"

    @classmethod
    def field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", errors=[FieldError(field=field, message=message)])

    @classmethod
    def fields(cls, errors: list[FieldError]) -> InvalidInput:
        """Several bad fields at once, each named."""
        return cls("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


class PayloadTooLarge(ServiceError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class UnsupportedMediaType(ServiceError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class NotFound(ServiceError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Unauthorized(ServiceError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"


class Forbidden(ServiceError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class TooManyRequests(ServiceError):
    """A rate limit was reached; the answer carries Retry-After (seconds)."""

    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}

# msgspec reports the place of an error as a JSON path: "... - at `$.invitees[3].email`"
_MSGSPEC_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def json_path_to_field(path: str) -> str:
    """`.invitees[3].email` -> `invitees.3.email`."""
    return re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")


def problem_response(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    body = Problem(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=errors or None,
    )
    return Response(
        content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _validation_errors(exc: ValidationException) -> list[FieldError]:
    """Turn Litestar's validation `extra` (from msgspec or parameter parsing) into field errors."""
    out: list[FieldError] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        source = item.get("source")
        match = _MSGSPEC_PATH.match(message)
        if match and match.group("path") is not None:
            message = match.group("msg")
            key = json_path_to_field(match.group("path")) or key
        unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
        if unknown:
            key = ".".join(p for p in (key, unknown.group(1)) if p and p not in ("body", "data"))
            message = "unknown field"
        missing = re.match(r"Object missing required field `([^`]+)`", message)
        if missing:
            key = ".".join(p for p in (key, missing.group(1)) if p and p not in ("body", "data"))
            message = "required field is missing"
        if isinstance(key, str):
            # `from_` is how a Python signature spells the query parameter `from`
            key = json_path_to_field(key).rstrip("_")
        if message in ("'data'", "data"):
            message = "a JSON body is required"  # Litestar's words for an empty body
        if key in ("data", "body"):
            key = ""  # Litestar names the whole body "data"
        elif isinstance(key, str) and key.startswith("data."):
            key = key[5:]
        if not key:
            key = "body" if source in (None, "body") else str(source)
        out.append(FieldError(field=str(key), message=message))
    return out


def validation_exception_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Problem]:
    errors = _validation_errors(exc)
    detail = exc.detail or "Validation failed"
    if "malformed" in detail.lower() or "decode" in detail.lower() or "JSON" in detail:
        # A body that is not JSON at all, rather than JSON with a bad field.
        return problem_response(
            request,
            status=400,
            slug="malformed-body",
            title="Malformed request body",
            detail="the request body is not valid JSON",
            errors=errors or [FieldError(field="body", message="not valid JSON")],
        )
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem_response(
        request,
        status=422,
        slug="invalid-input",
        title="Invalid input",
        detail=detail,
        errors=errors or [FieldError(field="body", message=detail)],
    )


def service_error_handler(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Problem]:
    headers = {"WWW-Authenticate": 'Bearer realm="events-svc"'} if exc.status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=headers,
    )


def http_exception_handler(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[Problem]:
    status = exc.status_code
    if status >= 500:
        return internal_error_handler(request, exc)
    slug, title = _HTTP_SLUGS.get(status, ("client-error", "Client error"))
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="events-svc"')
    errors = None
    if status == 413:
        errors = [FieldError(field="body", message="larger than the 1 MiB limit")]
    elif status == 400:
        # Litestar raises a bare 400 when the body cannot be decoded at all.
        slug, title = "malformed-body", "Malformed request body"
        errors = [FieldError(field="body", message=f"not valid JSON: {exc.detail}")]
    return problem_response(
        request,
        status=status,
        slug=slug,
        title=title,
        detail=exc.detail,
        errors=errors,
        headers=headers or None,
    )


def recursion_error_handler(
    request: Request[Any, Any, Any], exc: RecursionError
) -> Response[Problem]:
    # Only a body nested hundreds of levels deep gets here (msgspec gives up decoding it).
    return problem_response(
        request,
        status=400,
        slug="malformed-body",
        title="Malformed request body",
        detail="the JSON body is nested too deeply",
        errors=[FieldError(field="body", message="nested too deeply")],
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # While the database watch (availability.py) says the database is down, a failure is its
    # doing even where the driver's error does not say so (a connection whose query was cut
    # short by the outage can report "another operation is in progress"): a 503, not a 500.
    watch = getattr(request.app.state, "database_watch", None)
    if watch is not None and watch.down:
        return _unavailable(request, exc)
    # The trace goes to the log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        slug="internal-error",
        title="Internal server error",
        detail="the server failed to handle this request; it has been logged",
    )


#: seconds a client is asked to wait while PostgreSQL or Redis is away (restarts take seconds)
RETRY_AFTER_OUTAGE = 5


def unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """PostgreSQL or Redis is down, restarting or frozen: 503 with Retry-After, not a 500.
    (A change cut short this way was never committed: its transaction dies with it.)"""
    if not unavailable(exc):
        return internal_error_handler(request, exc)
    return _unavailable(request, exc)


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.warning("%s %s: dependency unavailable: %r", request.method, request.url.path, exc)
    return problem_response(
        request,
        status=503,
        slug="unavailable",
        title="Service unavailable",
        detail="the database or the queue is unavailable for a moment; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_OUTAGE)},
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValidationException: validation_exception_handler,
    ServiceError: service_error_handler,
    HTTPException: http_exception_handler,
    RecursionError: recursion_error_handler,
    **dict.fromkeys(OUTAGE_ERRORS, unavailable_handler),
    Exception: internal_error_handler,
}
