"""The compose file's topology without containers: two `events-svc serve` processes and two
`events-svc worker` processes on one PostgreSQL and one Redis. A fan-out of 2,000 invitations
is split between the workers and every message goes exactly once; progress shows on either
API process (`/events/{id}/deliveries`, `/metrics`); one recipient's message is found by
grepping the workers' JSON lines for the address; a worker killed leaves /readyz green while
its heartbeat age rises."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from events_svc.notifications.tables import Notification
from tests.helpers import auth, event_body

PEOPLE = 2000
METRICS = {"Authorization": f"Bearer {os.environ.get('METRICS_TOKEN', '')}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


async def _until(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            result = await check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"not in {within} s: {what}")


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{", 1)[0] == name and all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def test_two_apis_two_workers_send_each_message_once(
    make_org: Any, smtp: Any, tmp_path: Path
) -> None:
    _org, key = await make_org()
    env = {**os.environ, "LOG_FORMAT": "json", "SMTP_POOL_SIZE": "4"}
    ports = [free_port(), free_port()]
    metric_ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            procs.append(_start(["serve", "--port", str(port)], env, tmp_path / f"api{port}.log"))
        workers = [
            _start(
                ["worker"],
                {**env, "WORKER_METRICS_PORT": str(mp)},
                tmp_path / f"worker{i}.log",
            )
            for i, mp in enumerate(metric_ports)
        ]
        procs += workers
        a, b = (httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports)
        async with a, b:

            async def ready() -> bool:
                return all([(await c.get("/readyz")).status_code == 200 for c in (a, b)])

            await _until(ready, 30, "both API processes ready")

            async def workers_live() -> bool:
                resp = await b.get("/healthz/workers")
                return resp.status_code == 200 and resp.json()["live"] == 2

            await _until(workers_live, 30, "both workers beating")

            ev = (await a.post("/events", json=event_body(), headers=auth(key))).json()
            invitees = [{"email": f"member{i:04d}@assoc.example.org"} for i in range(PEOPLE)]
            started = time.monotonic()
            resp = await b.post(
                f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
            )
            assert resp.json() == {"invited": PEOPLE, "already_invited": 0}
            request_id = resp.headers["x-request-id"]

            progress: list[dict[str, Any]] = []

            async def drained() -> bool:
                body = (await a.get(f"/events/{ev['id']}/deliveries", headers=auth(key))).json()
                progress.append(body)
                return body["totals"].get("sent") == PEOPLE

            await _until(drained, 60, f"{PEOPLE} messages sent")
            elapsed = time.monotonic() - started
            # while it ran, progress had a rate; at the end nothing is left
            assert any(p["rate_per_second"] > 0 and p["remaining"] > 0 for p in progress) or (
                len(progress) <= 2
            ), progress[:3]
            assert progress[-1]["remaining"] == 0 and progress[-1]["eta_seconds"] == 0

            # exactly once, split between the two workers
            per_person = collections.Counter(r.recipients[0] for r in smtp.received)
            assert set(per_person) == {i["email"] for i in invitees}
            assert max(per_person.values()) == 1, per_person.most_common(3)
            by_worker = collections.Counter(
                r["claimed_by"]
                for r in await Notification.select(Notification.claimed_by).where(
                    Notification.status == "sent"
                )
            )
            assert len(by_worker) == 2 and min(by_worker.values()) > 0, by_worker

            # each worker's own metrics port counts its share
            counted = 0.0
            for mp in metric_ports:
                async with httpx.AsyncClient() as c:
                    text = (await c.get(f"http://127.0.0.1:{mp}/metrics")).text
                counted += _sample(text, "events_svc_messages_total", outcome="sent")
            assert counted == PEOPLE

            # "did member0042 get the invitation?": one grep of the workers' JSON lines
            lines = [
                json.loads(line)
                for i in range(2)
                for line in (tmp_path / f"worker{i}.log").read_text().splitlines()
                if "member0042@assoc.example.org" in line
            ]
            sent = [line for line in lines if line.get("message_id")]
            assert len(sent) == 1, lines
            row = await Notification.select(Notification.message_id, Notification.id).where(
                Notification.message_id == sent[0]["message_id"]
            )
            assert row and sent[0]["notification_id"] == str(row[0]["id"])
            assert sent[0]["job_id"]

            # the API's lines are JSON too; the request's line carries its id and organization
            api_lines = [
                json.loads(line)
                for port in ports
                for line in (tmp_path / f"api{port}.log").read_text().splitlines()
            ]
            [line] = [x for x in api_lines if x.get("request_id") == request_id]
            assert line["route"] == "/events/{event_id}/invitations" and line["status"] == 202
            assert line["org"] == _org["slug"] and line["event_id"] == ev["id"]

            # a worker dies: the API stays ready, the other worker stays live, the dead one's
            # heartbeat age rises on /metrics
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()

            async def one_stale() -> bool:
                resp = await a.get("/healthz/workers")
                return resp.status_code == 200 and resp.json() == {
                    **resp.json(),
                    "live": 1,
                    "stale": 1,
                }

            await _until(one_stale, 20, "the dead worker's heartbeat goes stale")
            assert (await a.get("/readyz")).status_code == 200
            assert (await b.get("/readyz")).status_code == 200
            text = (await b.get("/metrics", headers=METRICS)).text
            ages = [
                float(line.rpartition(" ")[2])
                for line in text.splitlines()
                if line.startswith("events_svc_worker_heartbeat_age_seconds{")
            ]
            assert len(ages) == 2 and max(ages) > 4 and min(ages) < 4, ages
            assert _sample(text, "events_svc_outbox_rows", status="queued") == 0
            print(f"\n{PEOPLE} messages through 2 APIs and 2 workers in {elapsed:.1f} s")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
