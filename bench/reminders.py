"""Benchmark: 10,000 reminders (100 events x 100 invitees) due in the same instant.

Setup creates the events and invites everyone, and waits until the invitations are all
through; then each round gives the events a reminder rule (PATCH, as an organizer would) that
makes all of their reminders due at one instant `--lead` seconds later. For each reminder, the
lateness from its due time to its acceptance by a local SMTP sink (another process); prints
p50, p99 and max (the drain time), and the counts sent, duplicated, missing and early, with
`--workers` workers. `--kill` stops a worker two seconds after the first round's due time and
starts a new one at once: `--kill term` as a deploy or Ctrl-C does (SIGTERM: running jobs
finish), `--kill kill` as a crash does (SIGKILL). A duplicate is counted per copy; the line
also says how many of them carried the first copy's Message-ID.

The baseline in the same run, before each round: how long the sink takes to accept the same
number of messages from a bare aiosmtplib loop on one connection, i.e. the least time one
sender needs to get them all through: with tiny messages (the target's baseline), and with
the bytes of a real reminder (from the round before; none in the first). Target: the drain
(max lateness) within 1.25x the tiny bare loop, 0 duplicates, 0 missing, none early.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/reminders.py [--events 100] [--people 100] [--workers 1] [--rounds 1] \
        [--kill term|kill] [--py-spy DIR] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing as mp
import os
import queue
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import http, services

KIND = b"X-Notification-Kind: reminder"
INVITATION = b"X-Notification-Kind: invitation"
TARGET = 1.25  #: the drain within this many times the bare loop's time


def _sink(port: int, out: Any, ready: Any) -> None:
    """A separate process: accepts everything, reports (recipient, time) of each reminder."""
    from aiosmtpd.controller import Controller

    sample: list[bytes] = []

    class Record:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            content = envelope.original_content
            if KIND in content:
                start = content.index(b"Message-ID: ") + 12
                message_id = content[start : content.index(b"\r\n", start)].decode()
                out.put((envelope.rcpt_tos[0], time.time(), message_id))
                if not sample:
                    sample.append(content)
                    out.put(("sample", 0.0, content))
            elif INVITATION in content:
                out.put(("invitation", time.time(), ""))
            return "250 OK"

    controller = Controller(Record(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


async def bare(port: int, count: int, message: bytes | None = None) -> float:
    """Seconds for a bare aiosmtplib loop to get `count` messages accepted (small ones, or
    `message`)."""
    import aiosmtplib

    if message is None:
        message = b"Subject: bare\r\nX-Notification-Kind: bare\r\n\r\nx\r\n"
    else:  # not counted as a reminder by the sink
        message = message.replace(KIND, b"X-Notification-Kind: bare")
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    started = time.perf_counter()
    for i in range(count):
        await client.sendmail("a@x.example.org", [f"b{i}@x.example.org"], message)
    elapsed = time.perf_counter() - started
    await client.quit()
    return elapsed


class Run:
    """The processes of one benchmark run: the API, the workers, the sink's queue."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], received: Any) -> None:
        self.args, self.env, self.received = args, env, received
        self.cmd = [sys.executable, "-m", "events_svc.cli"]
        self.workers: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.invitations = 0
        self.sample: bytes | None = None
        #: the events' start: far enough ahead for every round
        self.starts_at = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=6)
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self.message_ids: dict[str, set[str]] = collections.defaultdict(set)

    def start_worker(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log: Any = subprocess.DEVNULL
        if self.args.logs:
            log = open(Path(self.args.logs) / f"worker{self.started}.log", "ab")  # noqa: SIM115
        worker = subprocess.Popen([*self.cmd, "worker"], env=self.env, stderr=log)  # noqa: S603
        self.workers.append(worker)
        return worker

    def take(self, timeout: float) -> bool:
        """Read one report of the sink; False when none came within `timeout`."""
        try:
            rcpt, at, message_id = self.received.get(timeout=timeout)
        except queue.Empty:
            return False
        if rcpt == "invitation":
            self.invitations += 1
        elif rcpt == "sample":
            self.sample = message_id
            if os.environ.get("BENCH_SAMPLE"):  # a reminder as sent, to look at
                Path(os.environ["BENCH_SAMPLE"]).write_bytes(message_id)
        else:
            self.arrivals[rcpt].append(at)
            self.message_ids[rcpt].add(message_id)
        return True


def _idle(redis_url: str, wait: float = 900) -> None:
    """Wait until no job is due in the workers' queue (the invitations' jobs, and the copies
    a sweep made of them on a loaded machine, have all run): the round measures reminders."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.time() + wait
    while time.time() < deadline:
        if not client.zcount("arq:queue", "-inf", int(time.time() * 1000)):
            break
        time.sleep(1)
    client.close()


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the virtualenv
    return str(beside) if beside.exists() else "py-spy"


def _round(run: Run, *, base: str, key: str, events: list[str], smtp_port: int, n: int) -> dict:
    """One round: bare loops, then every reminder due at one instant; its figures."""
    args = run.args
    total = len(events) * args.people
    _idle(run.env["REDIS_URL"])
    bare_seconds = asyncio.run(bare(smtp_port, total))
    bare_real = asyncio.run(bare(smtp_port, total, run.sample)) if run.sample else None
    while run.take(0.5):  # what the bare loops left in the queue
        pass
    run.arrivals.clear()
    run.message_ids.clear()
    starts_at = run.starts_at
    due_dt = (datetime.now(starts_at.tzinfo) + timedelta(seconds=args.lead)).replace(microsecond=0)
    before = int((starts_at - due_dt).total_seconds())
    due = (starts_at - timedelta(seconds=before)).timestamp()
    for event_id in events:
        http("PATCH", f"{base}/events/{event_id}", key, {"reminders": [{"before": f"PT{before}S"}]})
    print(f"  round {n}: {total} reminders due in {due - time.time():.0f} s", flush=True)
    spies: list[subprocess.Popen[bytes]] = []
    killed = False
    deadline = due + 600
    while time.time() < deadline and len(run.arrivals) < total:
        if args.py_spy and not spies and time.time() >= due - 1:
            for i, worker in enumerate(w for w in run.workers if w.poll() is None):
                out = Path(args.py_spy) / f"round{n}-worker{i + 1}.txt"
                spies.append(
                    subprocess.Popen(  # noqa: S603
                        [
                            _py_spy(),
                            "record",
                            "-p",
                            str(worker.pid),
                            "-o",
                            str(out),
                            "-f",
                            "raw",
                            "-r",
                            "200",
                            "--nonblocking",
                        ],  # fmt: skip
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        if args.kill and n == 1 and not killed and time.time() >= due + 2:
            victim = run.workers[0]
            victim.send_signal(signal.SIGKILL if args.kill == "kill" else signal.SIGTERM)
            victim.wait()
            run.workers.remove(victim)
            run.start_worker()
            killed = True
            print(
                f"  worker stopped ({args.kill}) at due + 2 s with {len(run.arrivals)} in",
                flush=True,
            )
        run.take(0.2)
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    time.sleep(3)  # duplicates that arrive just after the last first-arrival
    while run.take(0.01):
        pass
    lateness = sorted(min(times) - due for times in run.arrivals.values())
    duplicated = sum(len(times) - 1 for times in run.arrivals.values())
    new_ids = sum(len(ids) - 1 for ids in run.message_ids.values())
    early = sum(1 for times in run.arrivals.values() for at in times if at < due)
    missing = total - len(run.arrivals)
    nan = float("nan")
    p50 = statistics.median(lateness) if lateness else nan
    p99 = lateness[max(int(len(lateness) * 0.99) - 1, 0)] if lateness else nan
    drain = lateness[-1] if lateness else nan
    met = drain <= TARGET * bare_seconds and duplicated == 0 and missing == 0 and early == 0
    real = f", {bare_real:.2f} s with a real reminder's bytes" if bare_real else ""
    print(
        f"round {n}: reminders {total} due at once, {args.workers} worker(s)"
        f"{f' (one stopped by SIG{args.kill.upper()} at due+2s)' if args.kill and n == 1 else ''}"
        f": lateness p50 {p50:.2f} s, p99 {p99:.2f} s, max (drain) {drain:.2f} s | sent "
        f"{len(run.arrivals)}, duplicated {duplicated} ({duplicated - new_ids} with the same "
        f"Message-ID), missing {missing}, early {early} | bare aiosmtplib loop {bare_seconds:.2f}"
        f" s for {total} small messages{real} | drain/bare {drain / bare_seconds:.2f}, "
        f"p99/bare {p99 / bare_seconds:.2f} | target (drain <= {TARGET} x bare, 0 duplicated,"
        f" 0 missing, 0 early) {'MET' if met else 'NOT met'}",
        flush=True,
    )
    return {"drain": drain, "p50": p50, "p99": p99, "bare": bare_seconds, "met": met,
            "duplicated": duplicated, "missing": missing, "early": early}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--rounds", type=int, default=1, help="measured rounds in one run")
    parser.add_argument(
        "--kill",
        choices=("term", "kill"),
        help="stop a worker at the first round's due + 2 s with SIGTERM or SIGKILL, and start"
        " another",
    )
    parser.add_argument(
        "--lead", type=int, default=60, help="seconds from a round's planning to its due time"
    )
    parser.add_argument("--py-spy", help="directory: py-spy records each worker in each round")
    parser.add_argument("--logs", help="directory for the workers' logs")
    args = parser.parse_args()
    for directory in (args.py_spy, args.logs):
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)

    from events_svc.dev.embedded import free_port

    svc = services("events_svc_bench_reminders")
    smtp_port, api_port = free_port(), free_port()
    received: Any = mp.Queue()
    ready = mp.Event()
    sink = mp.Process(target=_sink, args=(smtp_port, received, ready), daemon=True)
    sink.start()
    ready.wait(30)
    env = {
        **os.environ,
        "DATABASE_URL": svc.database_url,
        "REDIS_URL": svc.redis_url,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "PUBLIC_BASE_URL": "https://events.example.org",
        "MAIL_FROM": "events@events.example.org",
        # a worker killed mid-send leaves rows claimed; they are retried after the lease
        "SEND_LEASE_SECONDS": os.environ.get("SEND_LEASE_SECONDS", "60"),
    }
    run = Run(args, env, received)
    api = subprocess.Popen(  # noqa: S603
        [*run.cmd, "serve", "--port", str(api_port)], env=env, stderr=subprocess.DEVNULL
    )
    for _ in range(args.workers):
        run.start_worker()
    base = f"http://127.0.0.1:{api_port}"
    results = []
    try:
        for _ in range(1200):  # a loaded machine takes a while
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        # each round's rule makes the reminders due soon
        start = run.starts_at = run.starts_at.replace(microsecond=0)
        events = []
        for e in range(args.events):
            event = http(
                "POST",
                f"{base}/events",
                svc.api_key,
                {
                    "kind": "training",
                    "title": f"督导人才培养 第{e + 1}期",
                    "starts_at": start.replace(tzinfo=None).isoformat(),
                    "ends_at": (start + timedelta(hours=2)).replace(tzinfo=None).isoformat(),
                    "timezone": "Asia/Shanghai",
                    "reminders": [],
                },
            )
            invitees = [
                {"email": f"e{e:03d}p{p:03d}@assoc.example.org"} for p in range(args.people)
            ]
            http(
                "POST",
                f"{base}/events/{event['id']}/invitations",
                svc.api_key,
                {"invitees": invitees},
            )
            events.append(event["id"])
        total = args.events * args.people
        waited = time.time() + 900
        while run.invitations < total and time.time() < waited:
            run.take(0.5)
        print(f"  {run.invitations} invitations through", flush=True)
        for n in range(1, args.rounds + 1):
            results.append(
                _round(run, base=base, key=svc.api_key, events=events, smtp_port=smtp_port, n=n)
            )
    finally:
        for proc in (api, *run.workers):
            proc.terminate()
            proc.wait(30)
        sink.terminate()
        svc.close()
    if len(results) > 1:
        med = {k: statistics.median(r[k] for r in results) for k in ("drain", "p50", "p99", "bare")}
        print(
            f"median of {len(results)} rounds, {args.workers} worker(s): lateness p50 "
            f"{med['p50']:.2f} s, p99 {med['p99']:.2f} s, drain {med['drain']:.2f} s, bare "
            f"{med['bare']:.2f} s, drain/bare {med['drain'] / med['bare']:.2f}; rounds meeting the"
            f" target: {sum(r['met'] for r in results)}/{len(results)}"
        )


if __name__ == "__main__":
    main()
