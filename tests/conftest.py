"""Test fixtures on real PostgreSQL and Redis.

DATABASE_URL / REDIS_URL, when set, name the servers to use (the suite creates its own
database `events_svc_test` there and uses Redis database 15); otherwise the suite starts the
same embedded PostgreSQL and Redis that `events-svc dev` uses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

#: another name lets a second checkout run its suite on the same server at the same time
TEST_DB = os.environ.get("EVENTS_SVC_TEST_DB", "events_svc_test")
TEST_REDIS_DB = int(os.environ.get("EVENTS_SVC_TEST_REDIS_DB", "15"))
ADMIN_TOKEN = "test-admin-token-0123456789"
INBOUND_TOKEN = "test-inbound-token-0123456789"
METRICS_TOKEN = "test-metrics-token-0123456789"

_state: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    if "events_svc_configured" in _state:
        return
    _state["events_svc_configured"] = True
    tmp = Path(tempfile.mkdtemp(prefix="events-svc-tests-"))
    _state["tmp"] = tmp
    admin_url = os.environ.get("DATABASE_URL", "").strip()
    if not admin_url:
        from events_svc.dev.embedded import start_postgres

        server, admin_url = start_postgres(tmp / "postgres")
        _state["pg_server"] = server
    redis_url = os.environ.get("REDIS_URL", "").strip()
    if redis_url:
        parts = urlsplit(redis_url)
        redis_url = urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))
    else:
        from events_svc.dev.embedded import start_redis

        redis = start_redis(tmp / "redis", persist=False)
        _state["redis"] = redis
        redis_url = redis.url
    from events_svc.dev.embedded import free_port, recreate_database

    _state["smtp_port"] = free_port()
    database_url = asyncio.run(recreate_database(admin_url, TEST_DB))
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-" + "x" * 40,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "INBOUND_TOKEN": INBOUND_TOKEN,
            "METRICS_TOKEN": METRICS_TOKEN,
            "PUBLIC_BASE_URL": "https://events.example.org",
            "MAIL_FROM": "events@events.example.org",
            "SMTP_URL": f"smtp://127.0.0.1:{_state['smtp_port']}",
            # short timings, so tests move quickly through retries, leases and sweeps
            "SEND_RETRY_FIRST_SECONDS": "0.3",
            "SEND_LEASE_SECONDS": "5",
            "SWEEP_INTERVAL_SECONDS": "1",
            "SWEEP_GRACE_SECONDS": "2",
            "SMTP_TIMEOUT_SECONDS": "5",
            "AGENDA_UPDATE_DELAY_SECONDS": "0",
        }
    )
    from events_svc.database import migrate

    asyncio.run(migrate(database_url))


def pytest_unconfigure(config: pytest.Config) -> None:
    redis = _state.pop("redis", None)
    if redis is not None:
        redis.stop()
    server = _state.pop("pg_server", None)
    if server is not None:
        server.cleanup()
    tmp = _state.pop("tmp", None)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def settings() -> Any:
    from events_svc.settings import Settings

    return Settings.from_env()


@pytest.fixture(scope="session")
async def app(settings: Any) -> AsyncIterator[Any]:
    from events_svc.app import create_app

    application = create_app(settings)
    # Litestar's lifespan must be entered and left in one task; pytest-asyncio may tear
    # a session fixture down from another, so a task of its own holds it open.
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        async with application.lifespan():
            started.set()
            await stop.wait()

    holder = asyncio.create_task(hold_lifespan())
    await asyncio.wait([holder, asyncio.create_task(started.wait())], return_when="FIRST_COMPLETED")
    if holder.done():
        holder.result()  # start-up failed: raise its error
    yield application
    stop.set()
    await holder


@pytest.fixture(autouse=True)
async def clean_state(app: Any) -> AsyncIterator[None]:
    """Each test starts from empty tables and an empty Redis database."""
    from events_svc.piccolo_app import TABLES

    names = ", ".join(f'"{t._meta.tablename}"' for t in TABLES)
    await TABLES[0].raw(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    await app.state.arq.flushdb()
    yield


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://events.example.org") as c:
        yield c


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Any]:
    from tests.smtp_sink import SmtpSink

    sink = SmtpSink(_state["smtp_port"])
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp(smtp_server: Any) -> Iterator[Any]:
    """The SMTP sink, emptied and running at the start of the test."""
    smtp_server.start()
    smtp_server.clear()
    yield smtp_server
    smtp_server.start()


@pytest.fixture
async def worker(app: Any, settings: Any) -> AsyncIterator[Any]:
    """Runs the real worker functions in this process: `await worker.drain()` works through
    every job until the queue is empty; `await worker.sweep()` runs the cron sweep once."""
    from tests.workers import InProcessWorker

    w = InProcessWorker(settings)
    yield w
    await w.close()


@pytest.fixture
def allow_private_webhooks(app: Any, settings: Any) -> Iterator[Any]:
    """WEBHOOK_ALLOW_PRIVATE for one test whose receiver listens on 127.0.0.1: the app uses
    it while the test runs; give the returned settings to the worker that delivers."""
    import dataclasses

    allowed = dataclasses.replace(settings, webhook_allow_private=True)
    app.state.settings = allowed
    yield allowed
    app.state.settings = settings


OrgFactory = Callable[..., Awaitable[tuple[dict[str, Any], str]]]


@pytest.fixture
def make_org() -> OrgFactory:
    """Create an organization; returns (org, api_key). Defaults can be overridden."""
    from events_svc.orgs import service

    counter = {"n": 0}

    async def factory(**kwargs: Any) -> tuple[dict[str, Any], str]:
        counter["n"] += 1
        values = {
            "slug": f"org{counter['n']}",
            "name": f"社会工作协会{counter['n']}",
            "email": f"office{counter['n']}@assoc.example.org",
        }
        values.update(kwargs)
        org, key = await service.create_org(**values)
        # the tests read an organization as a dict, as the API shows it
        return dataclasses.asdict(org), key

    return factory
