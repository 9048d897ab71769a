"""What the benchmarks share: services (given or embedded) and a fresh database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Services:
    database_url: str  #: a fresh, migrated database for this benchmark
    redis_url: str
    api_key: str  #: of an organization created in it
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


def services(database: str) -> Services:
    """DATABASE_URL / REDIS_URL when set, else the embedded PostgreSQL and Redis; the database
    `database` is created anew on that server and migrated (EVENTS_SVC_BENCH_SUFFIX is added to
    its name, so two checkouts can measure on one server at once)."""
    database += os.environ.get("EVENTS_SVC_BENCH_SUFFIX", "")
    from events_svc.dev.embedded import recreate_database, start_postgres, start_redis

    tmp = Path(tempfile.mkdtemp(prefix="events-svc-bench-"))
    cleanups: list[Callable[[], None]] = []
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url:
        server, admin_url = start_postgres(tmp / "pg")
        cleanups.append(server.cleanup)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        redis = start_redis(tmp / "redis", persist=False)
        cleanups.append(redis.stop)
        redis_url = redis.url

    async def prepare() -> tuple[str, str]:
        from events_svc.database import migrate
        from events_svc.orgs import service

        url = await recreate_database(admin_url, database)
        await migrate(url)
        _org, key = await service.create_org(
            slug="bench", name="基准测试协会", email="b@bench.example.org"
        )
        return url, key

    url, key = asyncio.run(prepare())
    return Services(database_url=url, redis_url=redis_url, api_key=key, cleanups=cleanups)


def http(method: str, url: str, key: str, body: Any) -> Any:
    """One JSON request with an API key; the decoded JSON answer."""
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as resp:  # noqa: S310
        return json.loads(resp.read())
