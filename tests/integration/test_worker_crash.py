"""A worker killed in the middle of a 500-person send: nobody is missed, few are repeated."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from typing import Any

from events_svc.notifications.tables import Notification
from tests.helpers import auth, event_body

PEOPLE = 500
STOP_PEOPLE = 1000
MAX_JOBS = 50  # the worker's concurrency: at most this many messages are in flight at a kill


def _start_worker(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", "worker"],
        env=env or dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes], within: float = 30) -> None:
    """SIGTERM, then `_reap`."""
    process.send_signal(signal.SIGTERM)
    _reap(process, within)


def _reap(process: subprocess.Popen[bytes], within: float = 30) -> None:
    """Wait for a stopping worker; one still running after `within` seconds is killed (and
    the test fails), so it never outlives the test and sends other tests' rows."""
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def _wait(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_killed_worker_loses_nobody(client: Any, make_org: Any, smtp: Any) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    smtp.handler.delay = 0.01  # slow enough that the kill lands in the middle of the send
    invitees = [{"email": f"member{i:03d}@assoc.example.org"} for i in range(PEOPLE)]
    resp = await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    assert resp.json() == {"invited": PEOPLE, "already_invited": 0}

    first = _start_worker()
    try:

        async def some_arrived() -> bool:
            return len(smtp.received) >= 100

        await _wait(some_arrived, 60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = len(smtp.received)
    assert at_kill < PEOPLE, "the kill should land in the middle of the send"

    second = _start_worker()
    try:

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == PEOPLE

        await _wait(all_sent, 90)
    finally:
        _stop(second)

    per_person = collections.Counter(r.recipients[0] for r in smtp.received)
    assert set(per_person) == {i["email"] for i in invitees}, "nobody is missed"
    repeated = sum(n - 1 for n in per_person.values())
    assert repeated <= MAX_JOBS, f"{repeated} repeated; only messages in flight may repeat"
    # a message sent again is the same message: one Message-ID per person, so mailboxes that
    # keep one copy per Message-ID (Gmail does) show it once
    ids: dict[str, set[str]] = collections.defaultdict(set)
    for r in smtp.received:
        ids[r.recipients[0]].add(r.message["Message-ID"])
    assert all(len(v) == 1 for v in ids.values())


async def test_a_stopped_worker_finishes_what_it_started(
    client: Any, make_org: Any, smtp: Any
) -> None:
    """SIGTERM (a deploy, Ctrl-C): running jobs finish and record, nothing is sent twice."""
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    smtp.handler.delay = 0.01
    invitees = [{"email": f"member{i:03d}@assoc.example.org"} for i in range(STOP_PEOPLE)]
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    # a stopping worker finishes its running jobs (40 x 10 rows): enough rows that some remain
    first = _start_worker()
    try:

        async def some_arrived() -> bool:
            return len(smtp.received) >= 100

        await _wait(some_arrived, 60)
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    at_stop = len(smtp.received)
    assert at_stop < STOP_PEOPLE, "the stop should land in the middle of the send"
    # what the stopped worker sent is recorded: no row of it is left in flight
    assert await Notification.count().where(Notification.status == "sending") == 0

    second = _start_worker()
    try:

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == STOP_PEOPLE

        await _wait(all_sent, 90)
    finally:
        _stop(second)
    per_person = collections.Counter(r.recipients[0] for r in smtp.received)
    assert set(per_person) == {i["email"] for i in invitees}
    assert max(per_person.values()) == 1, "nothing is sent twice"


async def test_two_workers_at_once_send_each_message_once(
    client: Any, make_org: Any, smtp: Any
) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    invitees = [{"email": f"both{i:03d}@assoc.example.org"} for i in range(300)]
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    workers = [_start_worker(), _start_worker()]
    try:

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == 300

        await _wait(all_sent, 90)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            _reap(w)
    per_person = collections.Counter(r.recipients[0] for r in smtp.received)
    assert len(per_person) == 300
    assert set(per_person.values()) == {1}


async def test_rows_of_a_dead_worker_are_taken_over_before_the_lease_ends(
    client: Any, make_org: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from events_svc.sender import claims

    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    invitees = [{"email": "dead@x.example.org"}, {"email": "alive@x.example.org"}]
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    now = datetime.now(UTC)
    rows = await Notification.select(Notification.id).order_by(Notification.created_at)
    ids = [r["id"] for r in rows]
    for row_id, owner in zip(ids, ("dead:1", "alive:1"), strict=True):
        await Notification.update(
            {
                Notification.status: "sending",
                Notification.claimed_by: owner,
                Notification.claimed_at: now - timedelta(seconds=20),
            }
        ).where(Notification.id == row_id)
    lease = 300.0  # the whole lease is far from over
    # without heartbeat information, only the lease counts: nothing can be taken
    assert await claims.claim_many(notification_ids=ids, now=now, lease=lease) == []
    taken = await claims.claim_many(
        notification_ids=ids, now=now, lease=lease, worker="me:2", live=["alive:1", "me:2"]
    )
    assert [r["id"] for r in taken] == [ids[0]]
    swept = await claims.due_for_sweep(now=now, grace=60, lease=lease, live=["alive:1"])
    assert swept == []  # the dead worker's row is claimed by me now; the live one stays


async def test_jobs_a_dead_worker_had_taken_do_not_wait_for_the_sweep(
    client: Any, make_org: Any, smtp: Any, app: Any
) -> None:
    """A worker died after taking jobs from the queue but before claiming their rows: arq
    keeps those jobs locked for their whole timeout and the rows still say queued. The
    death is noticed from the heartbeats and the due rows go out again within seconds, not
    after the sweep's grace period."""
    from events_svc.jobs import WORKERS_KEY

    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    invitees = [{"email": f"held{i:02d}@x.example.org"} for i in range(30)]
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    redis = app.state.arq
    job_ids = await redis.zrange("arq:queue", 0, -1)
    assert job_ids
    for job_id in job_ids:  # what a worker does when it starts a job
        await redis.psetex(b"arq:in-progress:" + job_id, 600_000, b"1")
    await redis.zadd(WORKERS_KEY, {"ghost:1": time.time() - 1})
    # this Redis did not lose its memory (the suite empties it before each test): the new
    # worker must find the ghost's jobs from its lapsed heartbeat, not requeue everything
    from workers.main import REDIS_MEMORY_KEY

    await redis.set(REDIS_MEMORY_KEY, "1")

    env = {**os.environ, "SWEEP_GRACE_SECONDS": "600"}  # the sweep would be far too late
    worker = _start_worker(env)
    try:

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == 30

        await _wait(all_sent, 20)
    finally:
        _stop(worker)
    per_person = collections.Counter(r.recipients[0] for r in smtp.received)
    assert len(per_person) == 30 and set(per_person.values()) == {1}
    assert await redis.zscore(WORKERS_KEY, "ghost:1") is None


async def test_a_worker_restarted_on_the_same_host_takes_over_at_once(
    client: Any, make_org: Any, smtp: Any
) -> None:
    """The usual restart after a kill: the new worker sees that its predecessor's process is
    gone and gives back its claimed rows at start-up, without waiting for the heartbeat to
    lapse (4 s) and the claims to age (6 s)."""
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    smtp.handler.delay = 0.02
    invitees = [{"email": f"member{i:03d}@assoc.example.org"} for i in range(PEOPLE)]
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    first = _start_worker()
    try:

        async def some_arrived() -> bool:
            return len(smtp.received) >= 50

        await _wait(some_arrived, 60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    held = await Notification.raw(
        "SELECT DISTINCT claimed_by FROM notification WHERE status = 'sending'"
    )
    assert held, "the kill should leave rows claimed"
    dead = held[0]["claimed_by"]
    assert dead.split(":")[1] == str(first.pid)
    second = _start_worker()
    started = time.monotonic()
    try:

        async def released() -> bool:
            rows = await Notification.raw(
                "SELECT 1 FROM notification WHERE status = 'sending' AND claimed_by = {}", dead
            )
            return not rows

        await _wait(released, 20)
        assert time.monotonic() - started < 5, "taken over at start-up, not after the TTL"

        async def all_sent() -> bool:
            return await Notification.count().where(Notification.status == "sent") == PEOPLE

        await _wait(all_sent, 90)
    finally:
        _stop(second)
    per_person = collections.Counter(r.recipients[0] for r in smtp.received)
    assert set(per_person) == {i["email"] for i in invitees}
