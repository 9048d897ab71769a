"""A send under the relay's rate cap (SEND_RATE_PER_SECOND): real worker processes, real Redis,
the aiosmtpd sink timing each arrival. The send drains at the cap and never above it (beyond
the bucket's burst), two workers together keep the one global cap, a small send of another
organization is not starved by a big one, the time left reported follows the cap, and a Redis
restart in the middle loses nothing."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from events_svc.notifications import progress
from events_svc.notifications.tables import Notification
from events_svc.settings import get_settings
from tests.helpers import auth, event_body
from tests.integration.test_outages import _free_port, _redis_server, _redis_up

RATE = 40  # messages per second, all workers together
BURST = 10


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SEND_RATE_PER_SECOND": str(RATE),
        "SEND_RATE_BURST": str(BURST),
        "WORKER_STOP_GRACE_SECONDS": "5",
        **extra,
    }


def _start_worker(env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb") if log is not None else subprocess.DEVNULL,
    )


async def _stop(process: subprocess.Popen[bytes], within: float = 60) -> None:
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
        raise AssertionError("the worker did not stop on SIGTERM")


async def _wait(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def _invite(client: Any, key: str, emails: list[str]) -> str:
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    resp = await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": e} for e in emails]},
        headers=auth(key),
    )
    assert resp.status_code == 202, resp.text
    return str(ev["id"])


def _sent(smtp: Any, domain: str = "") -> list[float]:
    return sorted(r.at for r in list(smtp.received) if r.recipients[0].endswith(domain))


def _worst_window(times: list[float], width: float) -> int:
    """The most arrivals within any `width` seconds."""
    worst, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - width:
            j += 1
        worst = max(worst, i - j + 1)
    return worst


#: arrivals are timed by the sink, which runs in this test's process beside the API under
#: test: a request the test makes stalls it for a moment, and what arrived meanwhile is timed
#: together. Half a second of the cap is allowed for that (measured: up to ~0.4 s).
JITTER = RATE * 0.5


def _check_cap(times: list[float]) -> None:
    """Never above the cap over any window of 1 s or more, beyond the bucket's burst."""
    print("most arrivals within 1, 2, 3 s:", [_worst_window(times, w) for w in (1, 2, 3)])
    for width in (1.0, 2.0, 3.0):
        worst = _worst_window(times, width)
        assert worst <= BURST + RATE * width + JITTER, f"{worst} arrived within {width} s"


@pytest.fixture
def capped(app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The API (progress endpoint, console) sees the same cap as the workers."""
    monkeypatch.setenv("SEND_RATE_PER_SECOND", str(RATE))
    monkeypatch.setenv("SEND_RATE_BURST", str(BURST))
    get_settings.cache_clear()
    app.state.settings = dataclasses.replace(
        settings, send_rate_per_second=float(RATE), send_rate_burst=BURST
    )
    yield app.state.settings
    app.state.settings = settings
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_a_send_drains_at_the_cap_and_reports_its_eta(
    client: Any, make_org: Any, smtp: Any, capped: Any, app: Any
) -> None:
    people = 200
    _org, key = await make_org()
    emails = [f"m{i:03d}@drain.example.org" for i in range(people)]
    event_id = await _invite(client, key, emails)
    worker = _start_worker(_env())
    try:

        async def started() -> bool:
            return len(smtp.received) >= 40

        await _wait(started, 30)
        # midway: the time left follows the cap (the worker's first seconds may have gone
        # faster than the cap by the burst, never the last minute's pace)
        body = (await client.get(f"/events/{event_id}/deliveries", headers=auth(key))).json()
        assert body["rate_cap_per_second"] == RATE
        remaining = body["remaining"]
        assert remaining > 0
        assert body["eta_seconds"] == pytest.approx(remaining / RATE, abs=0.2)
        org = (await client.get("/orgs/me/deliveries", headers=auth(key))).json()
        assert org["eta_seconds"] == pytest.approx(org["remaining"] / RATE, abs=0.2)
        # the console's progress bar shows the same figure
        shown = await progress.event_progress(event_id=body["event_id"], cache=app.state.arq)
        assert shown is not None and shown.seconds_left is not None
        assert abs(shown.seconds_left - shown.pending / RATE) <= 1.5

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == people

        await _wait(all_sent, 30)
    finally:
        await _stop(worker)
    times = _sent(smtp)
    assert sorted(r.recipients[0] for r in smtp.received) == emails
    _check_cap(times)
    # the measured rate, past the burst: near the cap (a busy machine's worker falls behind
    # a little; measured 31-38/s with a load average of 7-10 on 2 cores), never above it
    measured = (people - BURST) / (times[-1] - times[0])
    print(f"\n{people} messages at a cap of {RATE}/s: {measured:.1f}/s measured")
    assert RATE * 0.7 <= measured <= RATE * 1.05, measured


async def test_two_workers_keep_one_global_cap(
    client: Any, make_org: Any, smtp: Any, capped: Any
) -> None:
    people = 240
    _org, key = await make_org()
    emails = [f"m{i:03d}@two.example.org" for i in range(people)]
    await _invite(client, key, emails)
    workers = [_start_worker(_env()), _start_worker(_env())]
    try:

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == people

        await _wait(all_sent, 40)
    finally:
        for w in workers:
            await _stop(w)
    times = _sent(smtp)
    assert sorted(r.recipients[0] for r in smtp.received) == emails
    _check_cap(times)
    measured = (people - BURST) / (times[-1] - times[0])
    by = await Notification.raw("SELECT claimed_by, count(*) AS n FROM notification GROUP BY 1")
    print(f"\ntwo workers at a cap of {RATE}/s: {measured:.1f}/s measured; {list(by)}")
    assert measured <= RATE * 1.05, measured
    assert len(by) == 2, "both workers sent"


async def test_a_small_send_is_not_starved_by_a_big_one(
    client: Any, make_org: Any, smtp: Any, capped: Any
) -> None:
    """Organization A's 400-person send needs 10 s at the cap; B's 20 people, queued a
    second into it, are out within about a second at half the rate, not after A's."""
    _a, key_a = await make_org()
    _b, key_b = await make_org()
    big = [f"m{i:03d}@big.example.org" for i in range(400)]
    small = [f"m{i:02d}@small.example.org" for i in range(20)]
    await _invite(client, key_a, big)
    worker = _start_worker(_env())
    try:

        async def big_started() -> bool:
            return len(smtp.received) >= 30

        await _wait(big_started, 30)
        queued = time.monotonic()
        await _invite(client, key_b, small)

        async def small_done() -> bool:
            return len(_sent(smtp, "@small.example.org")) == len(small)

        await _wait(small_done, 15)
        small_times = _sent(smtp, "@small.example.org")
        took = small_times[-1] - queued
        big_left = len(big) - len(_sent(smtp, "@big.example.org"))
        body = (await client.get("/orgs/me/deliveries", headers=auth(key_a))).json()
    finally:
        await _stop(worker)
    during = [t for t in _sent(smtp) if small_times[0] <= t <= small_times[-1]]
    print(
        f"\nB's 20 took {took:.2f} s while A had {big_left} of 400 left;"
        f" B had {len(small_times)} of the {len(during)} messages sent meanwhile"
    )
    assert big_left > 100, "B finished while A's send was still in progress"
    assert took <= 15.0, took
    # B got its share while it had mail waiting (half the rate), when the cap was the limit;
    # on a machine so busy that the worker sent below the cap, the queue's order decides
    # (seen at a load average of 15 on 2 cores: 10 messages a second in all)
    span = max(small_times[-1] - small_times[0], 0.5)
    if len(during) / span >= 0.8 * RATE:
        assert len(small_times) >= 0.35 * len(during)
    _check_cap(_sent(smtp))
    # A's share (and ETA) is half the rate while B sends, the whole rate afterwards
    assert body["rate_cap_per_second"] in (RATE, RATE / 2)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_a_redis_restart_during_a_capped_send_loses_nothing(
    client: Any, make_org: Any, smtp: Any, tmp_path: Path
) -> None:
    """Redis killed (buckets, deferred jobs and all) in the middle of a capped send and
    started again, empty, a second later: every message still goes out, once."""
    people = 150
    port = _free_port()
    server = _redis_server(port, tmp_path)
    log = tmp_path / "worker.log"
    _org, key = await make_org()
    emails = [f"m{i:03d}@restart.example.org" for i in range(people)]
    await _invite(client, key, emails)  # enqueued elsewhere: the worker finds the due rows
    worker = _start_worker(
        _env(REDIS_URL=f"redis://127.0.0.1:{port}/0", SWEEP_GRACE_SECONDS="600"), log
    )
    try:
        await _redis_up(port)

        async def some_sent() -> bool:
            return len(smtp.received) >= 50

        await _wait(some_sent, 30)
        server.send_signal(signal.SIGKILL)
        server.wait()
        at_kill = len(smtp.received)
        await asyncio.sleep(1.0)
        server = _redis_server(port, tmp_path)
        await _redis_up(port)

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == people

        try:
            await _wait(all_sent, 30)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    finally:
        try:
            await _stop(worker)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait()
    per_person = collections.Counter(r.recipients[0] for r in smtp.received)
    print(f"\nRedis killed after {at_kill} of {people}; {len(smtp.received)} messages in all")
    assert set(per_person) == set(emails), "nobody is missed"
    assert sum(n - 1 for n in per_person.values()) <= BURST, "only messages in flight repeat"
    assert at_kill < people
