"""OpenAPI descriptions of the problem documents each route can answer."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
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
    503: "A dependency is down",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given problem statuses (always with 400, 413 and 422)."""
    wanted = sorted({400, 413, 422, *statuses})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, "Problem"),
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in wanted
    }


STRING = OpenAPIType.STRING


def page_or_json(data_container: type) -> ResponseSpec:
    """The 200 of a public page: HTML by default (`also_answers("text/html")` adds it), the
    same as JSON with `Accept: application/json`."""
    return ResponseSpec(
        data_container=data_container,
        description="An HTML page; this JSON with `Accept: application/json`",
        generate_examples=False,
    )


def also_answers(*media_types: str) -> type[Operation]:
    """An operation class whose 200 answer is also declared in `media_types` (as text): for
    routes that answer an HTML page or a calendar file besides the JSON declared for them."""

    @dataclass
    class _Operation(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                content = ok.content if ok.content is not None else {}
                for media_type in media_types:
                    content.setdefault(media_type, OpenAPIMediaType(schema=Schema(type=STRING)))
                ok.content = content

    return _Operation
