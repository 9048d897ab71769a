"""OpenAPI descriptions of the problem documents each route can answer."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)

from events_svc.errors import Problem

_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing, malformed or revoked API key",
    403: "Not allowed",
    404: "Not found (another organization's private resources are also 404)",
    409: "Conflict with the resource's state",
    413: "Request body over 1 MiB",
    422: "Invalid input; `errors` names each offending field",
    429: "A rate limit was reached (Retry-After says when to try again)",
    503: "A dependency is down",
}


def problem_spec(description: str) -> ResponseSpec:
    """One problem-document response, described in the route's own words."""
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,
    )


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given problem statuses (always with 400, 413 and 422)."""
    # a route taking credentials also answers 429 once an address has failed too often
    wanted = sorted({400, 413, 422, *statuses, *((429,) if 401 in statuses else ())})
    return {status: problem_spec(_DESCRIPTIONS.get(status, "Problem")) for status in wanted}


STRING = OpenAPIType.STRING


def page_or_json(data_container: type) -> ResponseSpec:
    """The 200 of a public page: HTML by default (`also_answers("text/html")` adds it), the
    same as JSON with `Accept: application/json`."""
    return ResponseSpec(
        data_container=data_container,
        description="An HTML page; this JSON with `Accept: application/json`",
        generate_examples=False,
    )


def also_answers(
    *media_types: str, statuses: tuple[str, ...] = ("200",), body: RequestBody | None = None
) -> type[Operation]:
    """An operation class whose answers (`statuses`) are also declared in `media_types` (as
    text): for routes that answer an HTML page or a calendar file besides the JSON declared for
    them. `body` declares a request body that the handler reads itself."""

    @dataclass
    class _Operation(Operation):
        def __post_init__(self) -> None:
            for status in statuses:
                answer = (self.responses or {}).get(status)
                if isinstance(answer, OpenAPIResponse):
                    content = answer.content if answer.content is not None else {}
                    for media_type in media_types:
                        content.setdefault(media_type, OpenAPIMediaType(schema=Schema(type=STRING)))
                    answer.content = content
            if body is not None and self.request_body is None:
                self.request_body = body

    return _Operation
