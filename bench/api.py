"""Benchmark: `GET /events/{id}` and `POST /events` with 32 concurrent clients, the served app
against its floor.

Serves, side by side in one run, each as one uvicorn process on the same PostgreSQL database:

- **app**: the real service (`events_svc.app:create_app`, settings from the environment);
- **floor** (`bench/api_floor.py`): the same stack (Litestar + asyncpg, a pool of DB_POOL_SIZE)
  doing only the round trips an authenticated request cannot avoid: look the API key up by its
  prefix, then read one event row (GET) or insert one (POST);
- **bare**: a Litestar app answering JSON without any database (the framework's ceiling).

Each operation is driven against each server for `--seconds`, the servers' order rotating from
round to round, and the medians over the rounds are printed with the ratio app/floor (and the
median of the rounds' own app/floor ratios, which a machine shared with other work moves less).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/api.py [--clients 32] [--seconds 8] [--rounds 3] [--driver wrk|python]
                            [--compare-drivers] [--observability]

The load comes from `wrk` (Debian's package; `apt-get install wrk`) with a Lua script per
operation, or with `--driver python` (or without wrk) from a minimal asyncio keep-alive client
in this process. `--compare-drivers` first drives the floor's GET with both and prints each
one's rate and its own CPU time per 1,000 requests: on 2 cores a driver that burns a core
competes with the server it measures.

With --observability a fourth server runs the app with metrics and JSON log lines on (METRICS=on,
LOG_FORMAT=json, one line per request written to a file) and the app server has them off
(METRICS=off, LOG_FORMAT=text): both are printed side by side with their ratio on/off.

Without DATABASE_URL / REDIS_URL it starts the embedded PostgreSQL and Redis. The database is
`events_svc_bench` plus EVENTS_SVC_BENCH_SUFFIX (so two checkouts can measure at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, http, services

BENCH_DB = "events_svc_bench"
BENCH_DIR = Path(__file__).resolve().parent
#: events made before the rounds; GET cycles through them
GET_EVENTS = 200

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

# wrk: one line of JSON at the end (latencies in microseconds)
_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
WRK_GET = (
    """
local ids = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  i = math.random(#ids)
end
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/events/" .. ids[i])
end
"""
    + _WRK_DONE
)
WRK_POST = (
    """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[BODY]==]
"""
    + _WRK_DONE
)


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


async def python_load(
    port: int, headers: dict[str, str], op: str, ids: list[str], clients: int, seconds: float
) -> dict[str, float]:
    body = json.dumps(EVENT, ensure_ascii=False).encode()
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        conn = Conn("127.0.0.1", port, headers)
        await conn.open()
        i = n
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            if op == "GET":
                i = (i + 1) % len(ids)
                status, _ = await conn.request("GET", f"/events/{ids[i]}")
            else:
                status, _ = await conn.request("POST", "/events", body)
            latencies.append(time.perf_counter() - t0)
            if status >= 300:
                errors += 1
        conn.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "requests": len(latencies),
        "errors": errors,
    }


def wrk_load(
    port: int, headers: dict[str, str], script: Path, ids_file: Path, clients: int, seconds: float
) -> dict[str, float]:
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{max(round(seconds), 1)}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += [f"http://127.0.0.1:{port}/events", "--", str(ids_file)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "requests": result["requests"],
        "errors": result["errors"],
    }


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers (a 401 without a key)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--driver",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk when installed)",
    )
    parser.add_argument(
        "--compare-drivers",
        action="store_true",
        help="first drive the floor's GET with wrk and with the Python client, and print each "
        "one's rate and CPU time",
    )
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also serve the app with metrics and JSON log lines on (one line per request, to a "
        "file as in production) next to it with them off; printed side by side",
    )
    parser.add_argument(
        "--only", choices=("GET", "POST"), action="append", help="operations to measure"
    )
    parser.add_argument(
        "--invite",
        type=int,
        default=0,
        metavar="N",
        help="also time POST /events/{id}/invitations with N new addresses (3 events, each "
        "call printed; the target for 10,000 is under 2 s)",
    )
    args = parser.parse_args()
    ops = args.only or ["GET", "POST"]

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
    (tmp / "get.lua").write_text(WRK_GET)
    (tmp / "post.lua").write_text(WRK_POST.replace("BODY", json.dumps(EVENT, ensure_ascii=False)))
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    # without --observability: the app as configured by the environment (defaults: metrics
    # on, JSON lines); with it, "app" has both off and "app+obs" has both on
    off = {"METRICS": "off", "LOG_FORMAT": "text"} if args.observability else {}
    ports = {"app": free_port(), "floor": free_port(), "bare": free_port()}
    procs = {
        "app": subprocess.Popen(
            [*uvicorn, "--factory", "events_svc.app:create_app", "--port", str(ports["app"])],
            env={**env, **off},
            cwd=ROOT,
        ),
        "floor": subprocess.Popen(
            [*uvicorn, "api_floor:app", "--port", str(ports["floor"])], env=env, cwd=BENCH_DIR
        ),
        "bare": subprocess.Popen(
            [*uvicorn, "bare_app:app", "--port", str(ports["bare"])], env=env, cwd=tmp
        ),
    }
    if args.observability:
        from events_svc.logctx import uvicorn_log_config

        ports["app+obs"] = free_port()
        (tmp / "log.json").write_text(json.dumps(uvicorn_log_config("json")))
        procs["app+obs"] = subprocess.Popen(
            [
                *uvicorn[:3],
                "--log-config",
                str(tmp / "log.json"),
                "--factory",
                "events_svc.app:create_app",
                "--port",
                str(ports["app+obs"]),
            ],
            env={**env, "METRICS": "on", "LOG_FORMAT": "json"},
            cwd=ROOT,
            stderr=(tmp / "app-json.log").open("wb"),
        )
    names = list(ports)
    auth = {"Authorization": f"Bearer {key}"}
    results: dict[tuple[str, str], list[dict[str, float]]] = {
        (name, op): [] for name in names for op in ops
    }

    def load(name: str, op: str, seconds: float, driver: str = args.driver) -> dict[str, float]:
        headers = {} if name == "bare" else auth
        before = proc_cpu(procs[name].pid)
        if driver == "wrk":
            script = tmp / ("get.lua" if op == "GET" else "post.lua")
            result = wrk_load(ports[name], headers, script, tmp / "ids", args.clients, seconds)
        else:
            result = asyncio.run(python_load(ports[name], headers, op, ids, args.clients, seconds))
        # the server's own CPU per request: what a machine shared with other work moves least
        result["cpu_ms"] = (proc_cpu(procs[name].pid) - before) * 1000 / max(result["requests"], 1)
        return result

    try:
        wait_http(f"http://127.0.0.1:{ports['app']}/healthz", procs["app"])
        wait_http(f"http://127.0.0.1:{ports['bare']}/events/x", procs["bare"])
        if args.observability:
            wait_http(f"http://127.0.0.1:{ports['app+obs']}/healthz", procs["app+obs"])
        base = f"http://127.0.0.1:{ports['app']}"
        ids = [http("POST", f"{base}/events", key, EVENT)["id"] for _ in range(GET_EVENTS)]
        (tmp / "ids").write_text("\n".join(ids) + "\n")
        wait_http(f"http://127.0.0.1:{ports['floor']}/events/{ids[0]}", procs["floor"])
        if args.compare_drivers:
            compare_drivers(load)
        if args.invite:
            time_invitations(base, key, args.invite)
        for name in names:  # warm-up: connections, prepared statements, caches
            for op in ops:
                load(name, op, 2)
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for op in ops:
                for name in order:
                    results[name, op].append(load(name, op, args.seconds))
                app, floor = results["app", op][-1], results["floor", op][-1]
                print(
                    f"  round {round_no + 1} {op:4}: "
                    + ", ".join(f"{n} {results[n, op][-1]['rps']:.0f}" for n in names)
                    + f" req/s; app/floor {app['rps'] / floor['rps']:.3f}; CPU ms/req "
                    + ", ".join(f"{n} {results[n, op][-1]['cpu_ms']:.2f}" for n in names),
                    flush=True,
                )
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)
        svc.close()

    def med(runs: list[dict[str, float]], field: str) -> float:
        return statistics.median(r[field] for r in runs)

    print(
        f"api, {args.clients} clients ({args.driver}), median of {args.rounds} x "
        f"{args.seconds:.0f}s per server and operation:"
    )
    for op in ops:
        path = "GET /events/{id}" if op == "GET" else "POST /events"
        cells = []
        for name in names:
            runs = results[name, op]
            cells.append(
                f"{name} {med(runs, 'rps'):.0f} req/s (p50 {med(runs, 'p50_ms'):.1f} ms, "
                f"p99 {med(runs, 'p99_ms'):.1f} ms, CPU {med(runs, 'cpu_ms'):.2f} ms/req, "
                f"errors {sum(r['errors'] for r in runs):.0f})"
            )
        app_runs, floor_runs = results["app", op], results["floor", op]
        paired = statistics.median(
            a["rps"] / f["rps"] for a, f in zip(app_runs, floor_runs, strict=True)
        )
        print(
            f"  {path:17} " + " | ".join(cells) + f" | ratio app/floor "
            f"{med(app_runs, 'rps') / med(floor_runs, 'rps'):.3f} (rounds' median {paired:.3f}); "
            f"server CPU per request app/floor "
            f"{med(app_runs, 'cpu_ms') / med(floor_runs, 'cpu_ms'):.3f}"
        )
        if args.observability:
            on, off_ = med(results["app+obs", op], "rps"), med(app_runs, "rps")
            print(f"  {'':17} metrics + JSON logs on/off {on / off_:.3f}")


def time_invitations(base: str, key: str, count: int) -> None:
    """One invitation call of `count` new people, on three fresh events: each call's time."""
    took = []
    for n in range(3):
        event = http("POST", f"{base}/events", key, EVENT)["id"]
        invitees = [{"email": f"p{n}-{i}@invitees.example.org"} for i in range(count)]
        started = time.perf_counter()
        answer = http("POST", f"{base}/events/{event}/invitations", key, {"invitees": invitees})
        took.append(time.perf_counter() - started)
        assert answer["invited"] == count, answer
    print(
        f"  POST /events/{{id}}/invitations with {count:,} new people: "
        + ", ".join(f"{t:.2f} s" for t in took)
        + f" (median {statistics.median(took):.2f} s)",
        flush=True,
    )


def compare_drivers(load: Any) -> None:
    """The floor's GET driven by each load generator: its rate, and its own CPU per 1,000."""
    for driver in ("wrk", "python"):
        if driver == "wrk" and not shutil.which("wrk"):
            continue
        who = resource.RUSAGE_CHILDREN if driver == "wrk" else resource.RUSAGE_SELF
        before = cpu(who)
        result = load("floor", "GET", 5, driver)
        spent = cpu(who) - before
        print(
            f"  driver {driver:6}: floor GET {result['rps']:.0f} req/s, p50 "
            f"{result['p50_ms']:.1f} ms; the driver's own CPU {spent:.2f} s "
            f"({spent * 1000 / result['requests']:.3f} s per 1,000 requests)",
            flush=True,
        )


if __name__ == "__main__":
    main()
