"""Benchmark: create + fetch events with 32 concurrent clients against the served API.

Serves the real app (`events-svc serve`, one uvicorn process, real PostgreSQL) and, as the bare
baseline, a Litestar app with one JSON endpoint served the same way; drives both with the same
keep-alive HTTP/1.1 clients in alternating rounds, and prints requests/s, p50/p99 latency and the
ratio app/bare (medians over the rounds).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/api.py [--clients 32] [--seconds 8] [--rounds 3] [--observability]

With --observability a third server runs the app with metrics and JSON log lines on (METRICS=on,
LOG_FORMAT=json, one line per request written to a file) and the app server has them off
(METRICS=off, LOG_FORMAT=text): both are printed side by side with their ratio on/off.

Without DATABASE_URL / REDIS_URL it starts the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, services

BENCH_DB = "events_svc_bench"

EVENT = {
    "kind": "forum",
    "title": "第二届社会工作本色与本土论坛",
    "description": "京粤社工交流",
    "location": "广州市越秀区",
    "starts_at": "2027-06-10T09:30:00",
    "ends_at": "2027-06-10T17:00:00",
    "timezone": "Asia/Shanghai",
}

BARE_APP = """
from litestar import Litestar, get, post
import uuid

@post("/events", status_code=201)
async def create(data: dict) -> dict:
    return {"id": str(uuid.uuid4()), **data}

@get("/events/{event_id:str}")
async def fetch(event_id: str) -> dict:
    return {"id": event_id, "title": "第二届社会工作本色与本土论坛"}

app = Litestar([create, fetch])
"""


class Conn:
    """A minimal keep-alive HTTP/1.1 client, so the load generator costs little CPU."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, data


async def run_load(
    port: int, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, float]:
    body = json.dumps(EVENT, ensure_ascii=False).encode()
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        conn = Conn("127.0.0.1", port, headers)
        await conn.open()
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            status, data = await conn.request("POST", "/events", body)
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            if status != 201:
                errors += 1
                continue
            event_id = json.loads(data)["id"]
            status, _ = await conn.request("GET", f"/events/{event_id}")
            latencies.append(time.perf_counter() - t1)
            if status != 200:
                errors += 1
        conn.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "requests": len(latencies),
        "errors": errors,
    }


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also serve the app with metrics and JSON log lines on (one line per request, to a "
        "file as in production) next to it with them off; printed side by side",
    )
    args = parser.parse_args()

    from events_svc.dev.embedded import free_port

    svc = services(BENCH_DB)
    tmp = Path(tempfile.mkdtemp(prefix="events-svc-bench-api-"))
    database_url, redis_url, key = svc.database_url, svc.redis_url, svc.api_key

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "PUBLIC_BASE_URL": "http://127.0.0.1",
    }
    (tmp / "bare_app.py").write_text(BARE_APP)
    app_port, bare_port = free_port(), free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    # without --observability: the app as configured by the environment (defaults: metrics
    # on, JSON lines); with it, "app" has both off and "app+obs" has both on
    off = {"METRICS": "off", "LOG_FORMAT": "text"} if args.observability else {}
    procs = [
        subprocess.Popen(
            [*uvicorn, "--factory", "events_svc.app:create_app", "--port", str(app_port)],
            env={**env, **off},
            cwd=ROOT,
        ),
        subprocess.Popen([*uvicorn, "bare_app:app", "--port", str(bare_port)], env=env, cwd=tmp),
    ]
    obs_port = free_port()
    if args.observability:
        from events_svc.logctx import uvicorn_log_config

        (tmp / "log.json").write_text(json.dumps(uvicorn_log_config("json")))
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--log-config",
                    str(tmp / "log.json"),
                    "--factory",
                    "events_svc.app:create_app",
                    "--port",
                    str(obs_port),
                ],
                env={**env, "METRICS": "on", "LOG_FORMAT": "json"},
                cwd=ROOT,
                stderr=(tmp / "app-json.log").open("wb"),
            )
        )
    try:
        wait_http(f"http://127.0.0.1:{app_port}/healthz", procs[0])
        wait_http(f"http://127.0.0.1:{bare_port}/events/x", procs[1])
        if args.observability:
            wait_http(f"http://127.0.0.1:{obs_port}/healthz", procs[2])
        auth = {"Authorization": f"Bearer {key}"}
        # warm-up, then alternate rounds so all see the same machine state
        asyncio.run(run_load(app_port, auth, args.clients, 2))
        asyncio.run(run_load(bare_port, {}, args.clients, 2))
        if args.observability:
            asyncio.run(run_load(obs_port, auth, args.clients, 2))
        app_runs, bare_runs, obs_runs = [], [], []
        for round_no in range(args.rounds):
            # alternate which of off/on goes first
            if args.observability and round_no % 2:
                obs_runs.append(asyncio.run(run_load(obs_port, auth, args.clients, args.seconds)))
            app_runs.append(asyncio.run(run_load(app_port, auth, args.clients, args.seconds)))
            if args.observability and not round_no % 2:
                obs_runs.append(asyncio.run(run_load(obs_port, auth, args.clients, args.seconds)))
            bare_runs.append(asyncio.run(run_load(bare_port, {}, args.clients, args.seconds)))
            if args.observability:
                print(
                    f"  round {round_no + 1}: off {app_runs[-1]['rps']:.0f} req/s, "
                    f"on {obs_runs[-1]['rps']:.0f} req/s, bare {bare_runs[-1]['rps']:.0f} req/s, "
                    f"on/off {obs_runs[-1]['rps'] / app_runs[-1]['rps']:.3f}",
                    flush=True,
                )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        svc.close()

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    errors = sum(r["errors"] for r in app_runs + bare_runs)
    ratio = med(app_runs, "rps") / med(bare_runs, "rps")
    print(
        f"api create+fetch, {args.clients} clients, median of {args.rounds} x {args.seconds:.0f}s: "
        f"app {med(app_runs, 'rps'):.0f} req/s (p50 {med(app_runs, 'p50_ms'):.1f} ms, "
        f"p99 {med(app_runs, 'p99_ms'):.1f} ms) | bare litestar {med(bare_runs, 'rps'):.0f} req/s "
        f"(p50 {med(bare_runs, 'p50_ms'):.1f} ms, p99 {med(bare_runs, 'p99_ms'):.1f} ms) | "
        f"ratio app/bare {ratio:.3f} | errors {errors}"
    )
    if args.observability:
        on = med(obs_runs, "rps")
        paired = statistics.median(
            o["rps"] / a["rps"] for o, a in zip(obs_runs, app_runs, strict=True)
        )
        print(
            f"  metrics + JSON logs: off {med(app_runs, 'rps'):.0f} req/s "
            f"(p50 {med(app_runs, 'p50_ms'):.1f} ms) | on {on:.0f} req/s "
            f"(p50 {med(obs_runs, 'p50_ms'):.1f} ms, p99 {med(obs_runs, 'p99_ms'):.1f} ms, "
            f"errors {sum(r['errors'] for r in obs_runs)}) | on/off {on / med(app_runs, 'rps'):.3f}"
            f" | ratio on/bare {on / med(bare_runs, 'rps'):.3f} | median of the rounds' on/off "
            f"{paired:.3f}"
        )


if __name__ == "__main__":
    main()
