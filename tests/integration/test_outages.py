"""Faults a deployment meets every month: claims taken over from a paused worker, the
database dropping its connections mid-send, Redis restarting under a worker, PostgreSQL down
or frozen under the API. Real servers throughout; faults come from a TCP proxy, a private
redis-server and pg_terminate_backend."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from events_svc.notifications.tables import Notification
from tests.helpers import auth, event_body
from tests.tcp_proxy import TcpProxy, database_target, through


async def _invite(client: Any, key: str, emails: list[str]) -> str:
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    resp = await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": e} for e in emails]},
        headers=auth(key),
    )
    assert resp.status_code == 202, resp.text
    return str(ev["id"])


async def _wait(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def _stop(process: subprocess.Popen[bytes], within: float = 30) -> None:
    """SIGTERM, then wait without blocking the loop (the test's proxy runs on it)."""
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
        raise AssertionError(f"{process.args} did not stop on SIGTERM within {within} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_worker_whose_claim_was_taken_over_sends_nothing(
    client: Any, make_org: Any, smtp: Any, settings: Any
) -> None:
    """A worker paused past its heartbeat: another took its rows (a new claim raises
    `attempts`, the fence); when it resumes, the check made with the SMTP connection in hand
    stops it, and it records nothing over the new owner's claim."""
    from events_svc.sender import claims, service
    from events_svc.sender.flight import Flight
    from events_svc.sender.smtp import SmtpPool

    _org, key = await make_org()
    await _invite(client, key, ["paused@x.example.org"])
    [row_id] = [r["id"] for r in await Notification.select(Notification.id)]
    now = datetime.now(UTC)
    [mine] = await claims.claim_many(notification_ids=[row_id], now=now, lease=60, worker="a:1")
    # a: paused. b, 10 s later, sees a's heartbeat gone and takes the row over
    later = now + timedelta(seconds=10)
    [theirs] = await claims.claim_many(
        notification_ids=[row_id], now=later, lease=60, worker="b:1", live=["b:1"]
    )
    assert theirs["attempts"] == mine["attempts"] + 1
    pool = SmtpPool(settings.smtp, size=1, timeout=5)
    flight = Flight(connections=1)
    flight.hold([mine])
    try:
        outcome = await service._process(
            mine, settings=settings, smtp=pool, now=datetime.now(UTC), flight=flight
        )
    finally:
        await pool.close()
    assert outcome.status == "noop"
    assert smtp.received == []
    [row] = await Notification.select().where(Notification.id == row_id)
    assert (row["status"], row["claimed_by"], row["attempts"]) == (
        "sending",
        "b:1",
        theirs["attempts"],
    )
    assert flight.claims == {} and flight.pending == {}


async def test_a_sent_message_is_recorded_after_the_database_comes_back(
    client: Any, make_org: Any, smtp: Any, settings: Any
) -> None:
    """PostgreSQL goes away while a message is inside the SMTP transaction: the worker keeps
    "sent" and writes it when the database is back, instead of leaving the row claimed (and
    sending it again after the lease)."""
    from events_svc.database import start_database_pool
    from events_svc.piccolo_conf import DB
    from events_svc.sender import claims, service
    from events_svc.sender.flight import Flight
    from events_svc.sender.smtp import SmtpPool

    _org, key = await make_org()
    await _invite(client, key, ["blip@x.example.org"])
    [row_id] = [r["id"] for r in await Notification.select(Notification.id)]
    [row] = await claims.claim_many(
        notification_ids=[row_id], now=datetime.now(UTC), lease=60, worker="a:1"
    )
    proxy = TcpProxy(*database_target(settings.database_url))
    await proxy.start()
    # the worker's database connections go through the proxy for this test
    await DB.close_connection_pool()
    await DB.start_connection_pool(
        dsn=_through(proxy, settings.database_url), min_size=1, max_size=4, timeout=1
    )
    smtp.handler.delay = 0.6
    pool = SmtpPool(settings.smtp, size=1, timeout=5)
    flight = Flight(connections=1)
    flight.hold([row])
    try:
        now = datetime.now(UTC)
        sending = asyncio.create_task(
            service._process(row, settings=settings, smtp=pool, now=now, flight=flight)
        )
        await asyncio.sleep(0.3)  # checked, connected and inside DATA (which takes 0.6 s)
        await proxy.down()
        outcome = await sending
        assert outcome.status == "sent"
        assert len(smtp.received) == 1
        assert list(flight.pending) == [row_id], "the outcome is kept, not lost"
        assert await flight.flush() == [] and list(flight.pending) == [row_id], "still away"
        await proxy.up()
        await flight.flush()
        assert flight.pending == {} and flight.claims == {}
    finally:
        await pool.close()
        await DB.close_connection_pool()
        await proxy.close()
        await start_database_pool(max_size=20, connect_timeout=5, command_timeout=60)
    [after] = await Notification.select().where(Notification.id == row_id)
    assert after["status"] == "sent" and after["message_id"] and after["claimed_at"] is None


async def test_no_row_stays_sending_when_sending_raises_something_unexpected(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    """An address the SMTP client cannot even encode: the row is retried a few times, then
    ends `failed` with the reason; its batch-mate is sent."""
    from events_svc.people.tables import Person

    _org, key = await make_org()
    await _invite(client, key, ["fine@x.example.org", "odd@x.example.org"])
    # a stored address from before validation was strict (written directly, as old data is)
    await Person.raw(
        "UPDATE person SET email = 'ünï@例え.example' WHERE email = 'odd@x.example.org'"
    )
    for _ in range(8):
        await worker.drain()
        rows = await Notification.raw("SELECT status FROM notification ORDER BY status")
        if {r["status"] for r in rows} <= {"sent", "failed"}:
            break
        await asyncio.sleep(0.5)
        await worker.sweep()
    rows = await Notification.raw(
        "SELECT p.email, n.status, n.last_error FROM notification n"
        " JOIN person p ON p.id = n.person ORDER BY p.email"
    )
    statuses = {r["email"]: r["status"] for r in rows}
    assert statuses["fine@x.example.org"] == "sent"
    assert statuses["ünï@例え.example"] == "failed"
    assert [r.recipients for r in smtp.received] == [["fine@x.example.org"]]


def _redis_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _redis_up(port: int) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:

        async def pong() -> bool:
            try:
                return bool(await client.ping())
            except Exception:  # noqa: BLE001 - still starting
                return False

        await _wait(pong, 10)
    finally:
        await client.aclose()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_a_worker_outlives_a_redis_restart(
    client: Any, make_org: Any, smtp: Any, tmp_path: Path
) -> None:
    """Redis killed under a running worker and started again 2.5 s later (empty: no
    persistence): the worker process stays up, reconnects, and sends what is due at once
    (it notices that Redis lost its queue) instead of waiting for the sweep's grace."""
    port = _free_port()
    server = _redis_server(port, tmp_path)
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "SWEEP_GRACE_SECONDS": "600",  # the sweep would be far too late
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(  # noqa: S603, ASYNC220
        [sys.executable, "-m", "events_svc.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        await _redis_up(port)
        await asyncio.sleep(2)  # the worker is polling
        server.send_signal(signal.SIGKILL)
        server.wait()
        await asyncio.sleep(2.5)
        assert worker.poll() is None, "the worker must not exit while Redis is away"
        _org, key = await make_org()
        emails = [f"after{i:02d}@x.example.org" for i in range(20)]
        await _invite(client, key, emails)  # enqueued elsewhere: only the rows tell the worker
        server = _redis_server(port, tmp_path)
        await _redis_up(port)

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == 20

        try:
            await _wait(all_sent, 30)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        assert worker.poll() is None
        assert sorted(r.recipients[0] for r in smtp.received) == emails
    finally:
        try:
            await _stop(worker)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_a_worker_that_starts_on_an_emptied_redis_sends_what_is_due_at_once(
    client: Any, make_org: Any, smtp: Any, tmp_path: Path
) -> None:
    """The race behind a flaky run of the test above: on a busy machine the worker was still
    starting when Redis went away, so its start was retried, and the start that succeeded
    on the emptied Redis marked it as remembered without queuing the due rows again; they
    waited for the sweep's grace. Here the worker starts while Redis is away on purpose."""
    port = _free_port()
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "SWEEP_GRACE_SECONDS": "600",  # the sweep would be far too late
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(  # noqa: S603, ASYNC220
        [sys.executable, "-m", "events_svc.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    server: subprocess.Popen[bytes] | None = None
    try:
        _org, key = await make_org()
        emails = [f"early{i:02d}@x.example.org" for i in range(5)]
        await _invite(client, key, emails)  # enqueued elsewhere: only the rows tell the worker

        async def waiting_for_redis() -> bool:  # the worker's start found Redis away
            return "redis connection error" in log.read_text()

        await _wait(waiting_for_redis, 30)
        server = _redis_server(port, tmp_path)
        await _redis_up(port)

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == 5

        try:
            await _wait(all_sent, 30)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        assert sorted(r.recipients[0] for r in smtp.received) == emails
    finally:
        try:
            await _stop(worker)
        finally:
            if server is not None:
                server.send_signal(signal.SIGKILL)
                server.wait()


def _through(proxy: TcpProxy, url: str) -> str:
    return through(proxy, url)


async def test_the_api_answers_503_within_2_s_while_the_database_is_down_or_frozen(
    make_org: Any, settings: Any
) -> None:
    """`events-svc serve` behind a proxy to the real PostgreSQL: stopped, it answers 503 with
    Retry-After at once; frozen, 503 within the 2 s timeout (never a hanging request or a
    500); back, 200 again without a restart."""
    _org, key = await make_org()
    proxy = TcpProxy(*database_target(settings.database_url))
    await proxy.start()
    port = _free_port()
    api = subprocess.Popen(  # noqa: S603, ASYNC220
        [sys.executable, "-m", "events_svc.cli", "serve", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": _through(proxy, settings.database_url)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:

            async def up() -> bool:
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _wait(up, 30)

            async def timed_get() -> tuple[httpx.Response, float]:
                started = time.monotonic()
                resp = await http.get("/events", headers=auth(key))
                return resp, time.monotonic() - started

            resp, _ = await timed_get()
            assert resp.status_code == 200

            await proxy.down()
            for _ in range(3):
                resp, took = await timed_get()
                assert resp.status_code == 503, resp.text
                assert took < 2.5
                assert resp.headers["retry-after"]
                assert resp.headers["content-type"].startswith("application/problem+json")
                assert resp.json()["status"] == 503
            await proxy.up()
            await _wait(lambda: _ok(timed_get), 10)

            proxy.freeze()
            for _ in range(2):
                resp, took = await timed_get()
                assert resp.status_code == 503, resp.text
                assert took < 3.0, f"a frozen database held the request {took:.1f} s"
            proxy.thaw()
            await _wait(lambda: _ok(timed_get), 15)
    finally:
        try:
            await _stop(api)
        finally:
            await proxy.close()


async def _ok(get: Any) -> bool:
    resp, _ = await get()
    return bool(resp.status_code == 200)


async def test_a_request_waiting_when_the_watch_notices_is_answered_503_and_its_work_ends(
    app: Any, client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """In-process, with a watch driven by hand: the request middleware answers a request that
    waits on the database 503 the moment the watch says down (no task of its own per request:
    its work is cancelled, the answer goes out beside it), answers new ones 503 at once, and
    serves again when the watch says the database is back."""
    from events_svc.availability import DatabaseWatch
    from events_svc.events import service

    _org, key = await make_org()
    waiting, undone = asyncio.Event(), asyncio.Event()

    async def stuck(**_kwargs: Any) -> Any:
        waiting.set()
        try:
            await asyncio.sleep(3600)  # as a query on a frozen server
        finally:
            undone.set()

    watch = DatabaseWatch(settings.database_url, timeout=1.0)  # not started: driven below
    monkeypatch.setattr(app.state, "database_watch", watch)
    monkeypatch.setattr(service, "get_event", stuck)
    event_path = "/events/00000000-0000-4000-8000-000000000001"
    request = asyncio.create_task(
        client.get(event_path, headers={**auth(key), "X-Request-ID": "held-1"})
    )
    await asyncio.wait_for(waiting.wait(), 10)
    assert len(watch.waiting) == 1
    watch._mark(down=True, reason=OSError("frozen"))
    resp = await asyncio.wait_for(request, 2)
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] and resp.headers["x-request-id"] == "held-1"
    assert resp.json()["status"] == 503 and resp.json()["instance"] == event_path
    assert undone.is_set() and not watch.waiting
    resp = await client.get("/events", headers=auth(key))  # new requests: 503 at once
    assert resp.status_code == 503 and resp.headers["x-request-id"]
    watch._mark(down=False)
    monkeypatch.undo()
    assert (await client.get("/events", headers=auth(key))).status_code == 200
