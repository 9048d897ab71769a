"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from piccolo.querystring import QueryString

from events_svc.errors import problem_response
from events_svc.piccolo_conf import DB

CHECK_TIMEOUT = 2.0


@get("/healthz", tags=["health"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["health"], summary="PostgreSQL and Redis are reachable")
async def readyz(request: Request[Any, Any, Any]) -> Response[Any]:
    checks: dict[str, Awaitable[Any]] = {
        "postgresql": DB.run_querystring(QueryString("SELECT 1")),
        "redis": request.app.state.arq.ping(),
    }
    down: list[str] = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT)
        except Exception:  # noqa: BLE001 - whatever the failure, the dependency is not ready
            down.append(name)
    if down:
        return problem_response(
            request,
            status=HTTP_503_SERVICE_UNAVAILABLE,
            slug="unavailable",
            title="Service unavailable",
            detail=f"unreachable: {', '.join(down)}",
        )
    return Response({"status": "ready", "postgresql": "ok", "redis": "ok"}, status_code=HTTP_200_OK)
