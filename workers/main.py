"""arq WorkerSettings: job functions, cron jobs, start-up and shutdown."""

from __future__ import annotations

import os
import socket
from typing import Any

from arq.connections import RedisSettings

from events_svc.app import configure_database, start_database_pool
from events_svc.piccolo_conf import DB
from events_svc.settings import get_settings


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_database(settings)
    await start_database_pool(max_size=10)
    ctx["settings"] = settings
    ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}"


async def shutdown(ctx: dict[str, Any]) -> None:
    await DB.close_connection_pool()


async def ping(ctx: dict[str, Any]) -> str:
    """Answer from this worker; used to check the enqueue path end to end."""
    return f"pong from {ctx['worker_name']}"


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)


class WorkerSettings:
    functions: list[Any] = [ping]
    cron_jobs: list[Any] = []
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 50
    job_timeout = 120
    keep_result = 60
    health_check_interval = 10
