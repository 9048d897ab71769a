"""OpenAPI descriptions of the problem documents each route can answer."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

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


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given problem statuses (always with 400, 413 and 422)."""
    # a route taking credentials also answers 429 once an address has failed too often
    wanted = sorted({400, 413, 422, *statuses, *((429,) if 401 in statuses else ())})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, "Problem"),
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in wanted
    }
