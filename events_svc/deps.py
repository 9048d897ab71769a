"""Dependencies shared by the controllers: the settings and the calling organization."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import QueryParameter

from events_svc import logctx, paging, ratelimit
from events_svc.errors import Unauthorized
from events_svc.orgs.service import Caller, authenticate
from events_svc.settings import Settings


def _authorization(request: Request[Any, Any, Any]) -> str | None:
    """The Authorization header, read off the scope: `request.headers` would build a headers
    object that nothing else on a JSON read needs."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


async def provide_caller(
    request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> Caller:
    # `settings` as a dependency of this one, not only of the handler: Litestar resolves
    # dependencies that do not depend on each other in an anyio task group per request
    # (tasks, a cancel scope), which cost more CPU than the rest of a cached key check
    return await _caller(request, settings, _authorization(request))


async def _caller(
    request: Request[Any, Any, Any], settings: Settings, authorization: str | None
) -> Caller:
    # as `ratelimit.guard_credentials`, written out: this runs on every API request
    limit = settings.rate_limit_auth_failures
    await ratelimit.check(request, ratelimit.AUTH, limit)
    try:
        caller = await authenticate(
            authorization=authorization, cache_seconds=settings.api_key_cache_seconds
        )
    except Unauthorized:
        await ratelimit.hit(request, ratelimit.AUTH, limit)  # over the limit: a 429
        raise
    request.scope["state"]["caller"] = caller  # the audit entry's actor (`web/audit.py`)
    logctx.bind_one("org", caller.slug)  # every later log line of the request names it
    return caller


async def provide_optional_caller(
    request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> Caller | None:
    """The caller when a key is given (and valid); None without an Authorization header."""
    authorization = _authorization(request)
    if not authorization:
        return None
    return await _caller(request, settings, authorization)


def provide_queue(request: Request[Any, Any, Any]) -> ArqRedis:
    """The arq pool, for enqueueing after commit."""
    queue: ArqRedis = request.app.state.arq
    return queue


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CALLER = {"caller": Provide(provide_caller)}
QUEUE = {"queue": Provide(provide_queue, sync_to_thread=False)}
#: OpenAPI requirement for routes that take an organization's API key
BEARER: list[dict[str, list[str]]] = [{"BearerAuth": []}]
SECURITY_COMPONENTS = Components(
    security_schemes={
        "BearerAuth": SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="evs_<prefix>_<secret>",
            description="An organization's API key (or ADMIN_TOKEN for POST /orgs).",
        )
    }
)


#: the page size of every listing, checked by `paging.page_limit` (one rule, one message)
Limit = Annotated[
    str | None,
    QueryParameter(
        description=f"items per page: a whole number from 1 to {paging.MAX_LIMIT}"
        f" (default {paging.DEFAULT_LIMIT})",
        max_length=10,
    ),
]
#: where a listing's next page starts: its `next`, as given (checked by `paging.decode_cursor`)
Cursor = Annotated[
    str | None,
    QueryParameter(description="`next` of the previous page; omit for the first", max_length=400),
]
