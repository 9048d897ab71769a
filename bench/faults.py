"""Fault matrix: a fan-out of invitations through the real service under one fault at a time.

Starts its OWN PostgreSQL (initdb + pg_ctl, or the embedded one), its own Redis and an SMTP sink
in a separate process it controls (down, 451, 550 for some recipients, 0.5 s per message), then
for each fault: a fresh database, `events-svc serve` and two `events-svc worker` processes, an
event, N invitations over the API, and the fault once a quarter of them has arrived. Prints one
table: invited, received (unique recipients with the right message), lost, repeated (and how many
repeats kept the first copy's Message-ID), time to drain after the fault ended, the answers of an
API probe (GET /events/<id> every 0.2 s, 5 s timeout) during the fault, and whether every worker
is alive at the end (a worker the harness killed on purpose is started again at once, as a
supervisor would; any other exit counts). Plus 500 reminders due at once with one of the two
workers SIGKILLed at the due time: p50/p99 lateness. Every row says PASS or FAIL against:

  lost 0 | repeated <= 4 (0 for SIGTERM and slow SMTP) | workers alive | drain <= the no-fault
  fan-out time + 10 s | API during a DB outage: only 200/503, each within 2 s | reminders p99 <= 5 s

    python bench/faults.py [--quick] [--only FAULT] [--invitations 2000] [--json out.json]

It never touches DATABASE_URL / REDIS_URL: every server it talks to is its own, on free ports.
The service's settings (SEND_RETRY_FIRST_SECONDS, SEND_LEASE_SECONDS, ...) are its defaults
unless set in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import email
import email.policy
import io
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import ROOT, http

SHARED_PORTS = {5432, 6379}
TZ = ZoneInfo("Asia/Shanghai")
CONNECTIONS = 4  #: SMTP connections per worker (the service's default pool size)

# sink modes
OK, REJECT_451, REJECT_SOME_550, SLOW = 0, 1, 2, 3


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in SHARED_PORTS:
            return port


def _die_with_parent() -> None:
    """Children get SIGKILL if the harness itself is killed (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def wait_port(port: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------


class Postgres:
    """A throw-away cluster run with the machine's pg_ctl (as `postgres` when we are root)."""

    def __init__(self, root: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl on this machine")
        self.bin = bins[-1].parent
        self.dir = root / "pg"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.user_prefix: list[str] = []
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:  # initdb refuses root
            self.user_prefix = ["runuser", "-u", "postgres", "--"]
            os.chmod(root, 0o755)
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            )

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603
            [*self.user_prefix, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.thaw()
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        try:
            master = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        out = [master]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                    out.append(int(stat.parent.name))
        return out

    def freeze(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------


class Redis:
    def __init__(self, root: Path) -> None:
        self.binary = shutil.which("redis-server") or ""
        if not self.binary:
            from events_svc.dev.embedded import redis_binary

            self.binary = redis_binary()
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        if not wait_port(self.port, 10):
            raise RuntimeError("redis-server did not start")

    def command(self, *words: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), 5) as sock:
            sock.sendall(("".join(f"{w} " for w in words).strip() + "\r\n").encode())
            return sock.recv(1024)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


# ---------------------------------------------------------------------------------------------
# The SMTP sink: a separate process recording each accepted message as a JSON line
# ---------------------------------------------------------------------------------------------

CAL_LINE = re.compile(r"^(SEQUENCE|DTSTART)[;:](.*)$", re.MULTILINE)


def _sink_main(port: int, mode: Any, path: str, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    _die_with_parent()
    out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as we do

    class Handler:
        async def handle_RCPT(  # noqa: N802
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if mode.value == REJECT_451:
                return "451 4.3.0 Try again later"
            if mode.value == REJECT_SOME_550 and address.split("@")[0].endswith("x"):
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            if mode.value == SLOW:
                await asyncio.sleep(0.5)
            msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            seq, start = "", ""
            for part in msg.walk():
                if part.get_content_type() == "text/calendar":
                    found = dict(CAL_LINE.findall(str(part.get_content())))
                    seq, start = found.get("SEQUENCE", "0"), found.get("DTSTART", "")
                    break
            record = {
                "rcpt": envelope.rcpt_tos[0],
                "t": time.time(),
                "mid": str(msg.get("Message-ID", "")),
                "kind": str(msg.get("X-Notification-Kind", "")),
                "seq": seq.strip(),
                "start": start.strip(),
            }
            out.write(json.dumps(record) + "\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


class Sink:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.mode: Any = mp.Value("i", OK)
        self.path = root / "sink.jsonl"
        self.path.touch()
        self.process: Any = None
        self._offset = 0
        self._partial = b""

    def start(self) -> None:
        ready = mp.Event()
        self.process = mp.Process(
            target=_sink_main, args=(self.port, self.mode, str(self.path), ready), daemon=True
        )
        self.process.start()
        if not ready.wait(30) or not wait_port(self.port, 10):
            raise RuntimeError("the SMTP sink did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.join(10)

    def read(self) -> list[dict[str, Any]]:
        """Records appended since the last call."""
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


# ---------------------------------------------------------------------------------------------
# The service's processes and the API probe
# ---------------------------------------------------------------------------------------------


class Service:
    """`events-svc serve` and two `events-svc worker` on one database."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.api_port = free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.api = self._spawn("serve", "--port", str(self.api_port))
        self.workers = [self._spawn("worker"), self._spawn("worker")]
        self.expected_exit: set[int] = set()  #: pids the harness stopped on purpose
        self.unexpected_exits = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):  # noqa: S310
                    return
            time.sleep(0.1)
        raise RuntimeError("the API did not come up within 60 s")

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[0]}.log").open("ab")
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "events_svc.cli", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )

    def signal_worker(self, index: int, signum: int) -> None:
        proc = self.workers[index]
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.expected_exit.add(proc.pid)
        proc.send_signal(signum)

    def supervise(self) -> None:
        """A worker the harness stopped is started again as soon as it exited; any other
        exit is counted and the worker stays dead (the target is: no manual restart)."""
        for i, proc in enumerate(self.workers):
            if proc.returncode is None and proc.poll() is not None:
                if proc.pid in self.expected_exit:
                    self.workers[i] = self._spawn("worker")
                else:
                    self.unexpected_exits += 1

    def alive(self) -> tuple[int, int]:
        self.supervise()
        return sum(p.poll() is None for p in self.workers), len(self.workers)

    def stop(self) -> None:
        procs = [self.api, *self.workers]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


class Probe(threading.Thread):
    """GET an ordinary authenticated route every 0.2 s with a 5 s timeout."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.samples: list[tuple[float, str, float]] = []  #: (sent at, status, seconds)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.time()
            request = urllib.request.Request(  # noqa: S310
                self.url, headers={"Authorization": f"Bearer {self.key}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
                    resp.read()
                    status = str(resp.status)
            except urllib.error.HTTPError as exc:
                status = str(exc.code)
            except TimeoutError:
                status = "timeout"
            except (OSError, urllib.error.URLError) as exc:
                status = "timeout" if "timed out" in str(exc) else "conn-error"
            elapsed = time.time() - started
            self.samples.append((started, status, elapsed))
            self.halt.wait(max(0.0, 0.2 - elapsed))

    def during(self, start: float, end: float) -> tuple[dict[str, int], float]:
        """Answers to the requests that were in flight at some moment of [start, end]."""
        counts: collections.Counter[str] = collections.Counter()
        worst = 0.0
        for at, status, seconds in self.samples:
            if at <= end and at + seconds >= start:
                counts[status] += 1
                worst = max(worst, seconds)
        return dict(sorted(counts.items())), worst


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


@dataclass
class Env:
    pg: Postgres
    redis: Redis
    sink: Sink
    service: Service | None = None
    move: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    name: str
    begin: Callable[[Env], None]
    seconds: float = 0.0  #: from begin to end; 0: instantaneous
    end: Callable[[Env], None] = lambda env: None
    repeats_allowed: int = 4
    db_outage: bool = False
    before_post: bool = False  #: begins before the invitations are posted (550 for some)
    done_when: Callable[[Env], bool] | None = None  #: an end not known in advance (PATCH)


def _set_mode(mode: int) -> Callable[[Env], None]:
    def act(env: Env) -> None:
        env.sink.mode.value = mode

    return act


def _worker_signal(signum: int) -> Callable[[Env], None]:
    def act(env: Env) -> None:
        assert env.service is not None
        env.service.signal_worker(0, signum)

    return act


def _restart_redis_later(env: Env) -> None:
    env.redis.kill()


def _one_after_another(env: Env) -> None:
    """The issue's operator test: Redis restarted, then PostgreSQL, then one worker paused
    12 s, each after the last (in a thread; the row lasts as long as the whole sequence)."""

    def sequence() -> None:
        assert env.service is not None
        env.redis.kill()
        time.sleep(2.5)
        env.redis.start()
        time.sleep(3)
        env.pg.stop("fast")
        time.sleep(10)
        env.pg.start()
        time.sleep(3)
        env.service.signal_worker(0, signal.SIGSTOP)
        time.sleep(12)
        env.service.signal_worker(0, signal.SIGCONT)

    threading.Thread(target=sequence, daemon=True).start()


def _move(env: Env) -> None:
    """PATCH the event's time in a thread (the call may take a while with many invitations)."""

    def call() -> None:
        assert env.service is not None
        started = time.time()
        try:
            http(
                "PATCH",
                f"{env.service.base}/events/{env.move['event']}",
                env.move["key"],
                {"starts_at": env.move["new_start"], "ends_at": env.move["new_end"]},
            )
            env.move["status"] = "200"
        except urllib.error.HTTPError as exc:
            env.move["status"] = str(exc.code)
        except OSError as exc:
            env.move["status"] = type(exc).__name__
        env.move["seconds"] = time.time() - started
        env.move["done"] = True

    threading.Thread(target=call, daemon=True).start()


def faults(quick: bool) -> list[Fault]:
    s = 0.4 if quick else 1.0  # outages are shorter in quick mode
    return [
        Fault("none", lambda env: None),
        Fault("worker SIGKILL", _worker_signal(signal.SIGKILL)),
        Fault("worker SIGTERM", _worker_signal(signal.SIGTERM), repeats_allowed=0),
        Fault(
            "worker SIGSTOP 12s",
            _worker_signal(signal.SIGSTOP),
            12,
            _worker_signal(signal.SIGCONT),
        ),
        Fault("SMTP down", lambda env: env.sink.kill(), 60 * s, lambda env: env.sink.start()),
        Fault("SMTP 451", _set_mode(REJECT_451), 20 * s, _set_mode(OK)),
        Fault("SMTP 550 some", _set_mode(REJECT_SOME_550), before_post=True),
        Fault("SMTP slow", _set_mode(SLOW), 15 * s, _set_mode(OK), repeats_allowed=0),
        Fault("Redis FLUSHALL", lambda env: env.redis.command("FLUSHALL") and None),
        Fault("Redis restart", _restart_redis_later, 2.5, lambda env: env.redis.start()),
        Fault(
            "PG restart",
            lambda env: env.pg.stop("fast"),
            10 * s,
            lambda env: env.pg.start(),
            db_outage=True,
        ),
        Fault(
            "PG frozen",
            lambda env: env.pg.freeze(),
            10 * s,
            lambda env: env.pg.thaw(),
            db_outage=True,
        ),
        Fault("event move", _move, done_when=lambda env: bool(env.move.get("done"))),
        Fault("Redis, PG, SIGSTOP", _one_after_another, 2.5 + 3 + 10 + 3 + 12 + 0.5),
    ]


#: the quick run (and the CI test): the faults a deployment meets every month
QUICK = (
    "none",
    "worker SIGKILL",
    "worker SIGSTOP 12s",
    "SMTP 451",
    "Redis FLUSHALL",
    "Redis restart",
    "PG restart",
    "PG frozen",
    "event move",
)


# ---------------------------------------------------------------------------------------------
# One row
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    fault: str
    invited: int
    expected: int
    received: int
    lost: int
    repeated: int
    same_mid: int
    drain: float | None  #: seconds from the end of the fault to the last expected arrival
    total: float | None  #: seconds from the API call to the last expected arrival
    api: dict[str, int]
    api_max: float
    alive: str
    failures: list[str]
    note: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


def recipients(tag: str, n: int) -> list[dict[str, str]]:
    # every 10th address ends in "x": the ones the sink refuses with 550 in that fault
    return [
        {"email": f"{tag}p{i:05d}{'x' if i % 10 == 3 else ''}@assoc.example.org"} for i in range(n)
    ]


def run_fault(
    fault: Fault, env: Env, base_env: dict[str, str], ctx: Ctx, n: int, limit: float
) -> Row:
    tag = re.sub(r"[^a-z0-9]", "", fault.name.lower())[:12] or "f"
    db = ctx.fresh_database(tag)
    env.redis.command("FLUSHALL")  # the harness' reset between rows, on its own Redis
    env.sink.mode.value = OK
    env.sink.read()
    env.move = {}
    logs = ctx.root / "logs" / tag
    logs.mkdir(parents=True)
    service = Service({**base_env, "DATABASE_URL": env.pg.url(db)}, logs)
    env.service = service
    probe: Probe | None = None
    try:
        tz_start = (datetime.now(TZ) + timedelta(days=30)).replace(microsecond=0, tzinfo=None)
        event = http(
            "POST",
            f"{service.base}/events",
            ctx.key,
            {
                "kind": "forum",
                "title": f"第二届社会工作本色与本土论坛 ({fault.name})",
                "location": "广州市越秀区",
                "starts_at": tz_start.isoformat(),
                "ends_at": (tz_start + timedelta(hours=8)).isoformat(),
                "timezone": "Asia/Shanghai",
            },
        )
        new_start = tz_start + timedelta(days=1, hours=1)
        env.move = {
            "event": event["id"],
            "key": ctx.key,
            "new_start": new_start.isoformat(),
            "new_end": (new_start + timedelta(hours=8)).isoformat(),
        }
        people = recipients(tag, n)
        expected = {
            p["email"]
            for p in people
            if not (fault.name == "SMTP 550 some" and p["email"].split("@")[0].endswith("x"))
        }
        probe = Probe(f"{service.base}/events/{event['id']}", ctx.key)
        probe.start()
        fault_start = fault_end = None
        if fault.before_post:
            fault.begin(env)
            fault_start = fault_end = time.time()
        t0 = time.time()
        answer = http(
            "POST",
            f"{service.base}/events/{event['id']}/invitations",
            ctx.key,
            {"invitees": people},
        )
        if answer.get("invited") != n:
            raise RuntimeError(f"the API invited {answer.get('invited')} of {n}")
        copies: dict[tuple[str, str, str], list[str]] = collections.defaultdict(list)
        right: dict[str, float] = {}
        arrived: set[str] = set()  #: any message: what triggers the fault
        move_stamp = new_start.strftime("%Y%m%dT%H%M%S")
        deadline = t0 + limit
        trigger = max(1, len(expected) // 4)
        ended_at: float | None = None
        while time.time() < deadline:
            service.supervise()
            for r in env.sink.read():
                if not r["rcpt"].startswith(tag) or r["kind"] not in ("invitation", "update"):
                    continue
                copies[(r["rcpt"], r["kind"], r["seq"])].append(r["mid"])
                arrived.add(r["rcpt"])
                ok = move_stamp in r["start"] if fault.name == "event move" else True
                if ok and r["rcpt"] in expected:
                    right.setdefault(r["rcpt"], r["t"])
            now = time.time()
            if fault_start is None and (len(arrived) >= trigger or now > t0 + 30):
                fault_start = now
                fault.begin(env)
            if fault_start is not None and fault_end is None:
                if fault.done_when is not None:
                    if fault.done_when(env):
                        fault_end = time.time()
                elif now >= fault_start + fault.seconds:
                    fault.end(env)
                    fault_end = time.time()
            if fault_end is not None and len(right) >= len(expected):
                if ended_at is None:
                    ended_at = time.time()
                if time.time() > ended_at + 3:  # late repeats arrive just after
                    break
            time.sleep(0.05)
        if fault_start is not None and fault_end is None:  # the run ran out of time mid-fault
            fault.end(env)
            fault_end = time.time()
        probe.halt.set()
        alive, workers = service.alive()
        last = max(right.values()) if len(right) >= len(expected) and right else None
        repeated = sum(len(m) - 1 for m in copies.values())
        same_mid = sum(sum(1 for x in m[1:] if x == m[0]) for m in copies.values())
        start_w = fault_start if fault_start is not None else t0
        end_w = fault_end if fault_end is not None else t0
        api, api_max = probe.during(start_w, max(end_w, start_w + 0.2))
        note = ""
        if fault.name == "event move":
            note = f"PATCH {env.move.get('status', '?')} in {env.move.get('seconds', 0):.1f} s"
        if fault.name == "none" and last is not None:
            note = f"all {n} accepted {last - t0:.1f} s after the API call"
        if fault.name == "SMTP 550 some":
            note = f"{n - len(expected)} refused with 550 are not expected"
        return Row(
            fault=fault.name,
            invited=n,
            expected=len(expected),
            received=len(right),
            lost=len(expected) - len(right),
            repeated=repeated,
            same_mid=same_mid,
            drain=None if last is None else max(0.0, last - end_w),
            total=None if last is None else last - t0,
            api=api,
            api_max=api_max,
            alive=f"{alive}/{workers}"
            + (f" ({service.unexpected_exits} exited)" if service.unexpected_exits else ""),
            failures=[],
            note=note,
        )
    finally:
        if probe is not None:
            probe.halt.set()
        env.pg.thaw()
        if env.sink.process is None or not env.sink.process.is_alive():
            env.sink.start()
        if env.redis.process is None or env.redis.process.poll() is not None:
            env.redis.start()
        service.stop()
        env.service = None


def judge(row: Row, fault: Fault, baseline: float | None) -> None:
    f = row.failures
    if row.lost:
        f.append(f"lost {row.lost}")
    if row.repeated > fault.repeats_allowed:
        f.append(f"repeated > {fault.repeats_allowed}")
    alive, _, workers = row.alive.partition("/")
    if not workers or alive != workers.split()[0] or "exited" in row.alive:
        f.append("worker died")
    if row.drain is None:
        f.append("not drained")
    elif baseline is not None and row.drain > baseline + 10:
        f.append(f"drain > {baseline + 10:.0f} s")
    if fault.db_outage:
        bad = {code: c for code, c in row.api.items() if code not in ("200", "503")}
        if bad:
            f.append("API " + ",".join(bad))
        if row.api_max > 2:
            f.append("API slow")


# ---------------------------------------------------------------------------------------------
# Reminders: 500 due at once, one of two workers SIGKILLed at the due time
# ---------------------------------------------------------------------------------------------


def run_reminders(env: Env, base_env: dict[str, str], ctx: Ctx, n: int, lead: int) -> Row:
    db = ctx.fresh_database("reminders")
    env.redis.command("FLUSHALL")
    env.sink.mode.value = OK
    env.sink.read()
    logs = ctx.root / "logs" / "reminders"
    logs.mkdir(parents=True)
    service = Service({**base_env, "DATABASE_URL": env.pg.url(db)}, logs)
    env.service = service
    try:
        start = (datetime.now(TZ) + timedelta(seconds=lead + 60)).replace(microsecond=0)
        due = (start - timedelta(seconds=60)).timestamp()
        per_event = 100
        for e in range((n + per_event - 1) // per_event):
            event = http(
                "POST",
                f"{service.base}/events",
                ctx.key,
                {
                    "kind": "training",
                    "title": f"督导人才培养 第{e + 1}期",
                    "starts_at": start.replace(tzinfo=None).isoformat(),
                    "ends_at": (start + timedelta(hours=2)).replace(tzinfo=None).isoformat(),
                    "timezone": "Asia/Shanghai",
                    "reminders": [{"before": "PT60S"}],
                },
            )
            people = [
                {"email": f"rem{e:02d}p{p:03d}@assoc.example.org"}
                for p in range(min(per_event, n - e * per_event))
            ]
            http(
                "POST",
                f"{service.base}/events/{event['id']}/invitations",
                ctx.key,
                {"invitees": people},
            )
        arrivals: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
        killed = False
        deadline = due + 120
        done_at: float | None = None
        while time.time() < deadline:
            service.supervise()
            if not killed and time.time() >= due:
                service.signal_worker(0, signal.SIGKILL)
                killed = True
            for r in env.sink.read():
                if r["kind"] == "reminder":
                    arrivals[r["rcpt"]].append((r["t"], r["mid"]))
            if len(arrivals) >= n:
                done_at = done_at or time.time()
                if time.time() > done_at + 3:
                    break
            time.sleep(0.05)
        alive, workers = service.alive()
        lateness = sorted(min(t for t, _ in v) - due for v in arrivals.values())
        repeated = sum(len(v) - 1 for v in arrivals.values())
        same_mid = sum(sum(1 for _, m in v[1:] if m == v[0][1]) for v in arrivals.values())
        p50 = statistics.median(lateness) if lateness else float("nan")
        p99 = lateness[max(0, int(len(lateness) * 0.99) - 1)] if lateness else float("nan")
        row = Row(
            fault="reminders+SIGKILL",
            invited=n,
            expected=n,
            received=len(arrivals),
            lost=n - len(arrivals),
            repeated=repeated,
            same_mid=same_mid,
            drain=None,
            total=None,
            api={},
            api_max=0.0,
            alive=f"{alive}/{workers}"
            + (f" ({service.unexpected_exits} exited)" if service.unexpected_exits else ""),
            failures=[],
            note=f"lateness p50 {p50:.2f} s, p99 {p99:.2f} s, max "
            f"{lateness[-1] if lateness else float('nan'):.2f} s",
        )
        if row.lost:
            row.failures.append(f"lost {row.lost}")
        if repeated > CONNECTIONS:
            row.failures.append(f"repeated > {CONNECTIONS}")
        if not p99 <= 5:
            row.failures.append("p99 > 5 s")
        if alive != workers or service.unexpected_exits:
            row.failures.append("worker died")
        return row
    finally:
        service.stop()
        env.service = None


# ---------------------------------------------------------------------------------------------
# Setup, table, main
# ---------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    root: Path
    pg: Postgres
    key: str = ""
    count: int = 0

    def fresh_database(self, tag: str) -> str:
        """A copy of the migrated template (with its organization), made in a moment."""
        self.count += 1
        name = f"faults_{self.count:02d}_{tag}"

        async def create() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.pg.url(), timeout=30)
            try:
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE faults_template')
            finally:
                await conn.close()

        asyncio.run(create())
        return name


def prepare(pg: Postgres) -> str:
    """Migrate the template database and create the organization; its API key."""

    async def go() -> str:
        import asyncpg

        from events_svc.database import migrate
        from events_svc.orgs import service
        from events_svc.piccolo_conf import DB

        conn = await asyncpg.connect(pg.url(), timeout=30)
        await conn.execute("CREATE DATABASE faults_template")
        await conn.close()
        with contextlib.redirect_stdout(io.StringIO()):  # Piccolo narrates each migration
            await migrate(pg.url("faults_template"))
        DB.config["dsn"] = pg.url("faults_template")
        _org, key = await service.create_org(
            slug="faults", name="故障测试协会", email="f@faults.example.org"
        )
        return key

    return asyncio.run(go())


def fmt_row(row: Row) -> str:
    api = " ".join(f"{k}:{v}" for k, v in row.api.items()) or "-"
    drain = "-" if row.drain is None else f"{row.drain:.1f}"
    verdict = "PASS" if row.passed else "FAIL: " + "; ".join(row.failures)
    return (
        f"{row.fault:<18} {row.invited:>7} {row.received:>8} {row.lost:>5} "
        f"{row.repeated:>4} ({row.same_mid:>3}) {drain:>7} {api:<28} {row.api_max:>5.1f} "
        f"{row.alive:<6} {verdict}" + (f"  [{row.note}]" if row.note else "")
    )


HEADER = (
    f"{'fault':<18} {'invited':>7} {'received':>8} {'lost':>5} {'repeated':>10} {'drain s':>7} "
    f"{'API during fault (code:count)':<28} {'max s':>5} {'alive':<6} result\n" + "-" * 118
)


class RunTimeout(BaseException):
    """Not an Exception: a row's error handling must not swallow the run's own bound."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="400 invitations, a subset")
    parser.add_argument("--only", action="append", default=[], help="one fault (repeatable)")
    parser.add_argument("--invitations", type=int)
    parser.add_argument("--reminders", type=int, default=500)
    parser.add_argument("--no-reminders", action="store_true")
    parser.add_argument("--json", help="write the rows here too")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    n = args.invitations or (400 if args.quick else 2000)
    table = faults(args.quick)
    names = [f.name for f in table]
    chosen = args.only or (list(QUICK) if args.quick else names)
    for name in chosen:
        if name not in names:
            parser.error(f"unknown fault {name!r}; one of: {', '.join(names)}")
    if "none" not in chosen:
        chosen = ["none", *chosen]  # the drain target is relative to the no-fault run
    limit = 90.0 if args.quick else 300.0  # per row, from the API call
    budget = 60 + len(chosen) * (limit + 60) + (0 if args.no_reminders else 300)

    def on_alarm(signum: int, frame: Any) -> None:
        raise RunTimeout(f"the whole run passed its {budget:.0f} s bound")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    # a shell starts background jobs with SIGINT ignored; Ctrl-C / kill -INT must still clean up
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.alarm(int(budget))

    # the shared servers are named there; nothing in this process may reach them
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    root = Path(tempfile.mkdtemp(prefix="events-svc-faults-"))
    started = time.time()
    pg: Postgres | None = None
    redis: Redis | None = None
    sink: Sink | None = None
    rows: list[Row] = []
    try:
        pg = Postgres(root)
        pg.start()
        # Piccolo's engine connects to DATABASE_URL when imported: make that ours before then
        os.environ["DATABASE_URL"] = pg.url()
        redis = Redis(root)
        redis.start()
        sink = Sink(root)
        sink.start()
        assert pg.port not in SHARED_PORTS and redis.port not in SHARED_PORTS
        key = prepare(pg)
        ctx = Ctx(root=root, pg=pg, key=key)
        env = Env(pg=pg, redis=redis, sink=sink)
        base_env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "REDIS_URL": redis.url,
            "SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
            "SECRET_KEY": "faults-secret-" + "x" * 40,
            "PUBLIC_BASE_URL": "https://events.example.org",
            "MAIL_FROM": "events@events.example.org",
        }
        print(
            f"fault matrix: {n} invitations per row, 2 workers, PostgreSQL :{pg.port}, "
            f"Redis :{redis.port}, SMTP sink :{sink.port}, logs in {root}",
            flush=True,
        )
        print(HEADER, flush=True)
        baseline: float | None = None
        by_name = {f.name: f for f in table}
        for name in chosen:
            fault = by_name[name]
            try:
                row = run_fault(fault, env, base_env, ctx, n, limit)
            except Exception as exc:  # noqa: BLE001 - one broken row must not hide the others
                row = Row(name, n, n, 0, n, 0, 0, None, None, {}, 0.0, "?", [f"error: {exc}"])
            if name == "none" and row.total is not None:
                baseline = row.total
            judge(row, fault, baseline)
            rows.append(row)
            print(fmt_row(row), flush=True)
        if not args.no_reminders:
            row = run_reminders(env, base_env, ctx, args.reminders, lead=25 if args.quick else 40)
            rows.append(row)
            print(fmt_row(row), flush=True)
    finally:
        signal.alarm(0)
        if sink is not None:
            sink.kill()
        if redis is not None:
            redis.kill()
        if pg is not None:
            pg.stop("immediate")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.time() - started
    failed = [r.fault for r in rows if not r.passed]
    print(
        f"no-fault fan-out: {rows[0].total or float('nan'):.1f} s for {n} | "
        f"{len(rows) - len(failed)}/{len(rows)} rows PASS | the run took {elapsed:.0f} s"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"elapsed": elapsed, "rows": [r.__dict__ | {"passed": r.passed} for r in rows]},
                ensure_ascii=False,
                indent=1,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
