"""Benchmark: 10,000 reminders (100 events x 100 invitees) due in the same instant.

For each reminder, the lateness from its due time to its acceptance by a local SMTP sink; prints
p50, p99 and max, and the counts sent, duplicated and missing, with one worker. `--kill` stops the
worker two seconds after the due time and starts a new one at once: `--kill term` as a deploy or
Ctrl-C does (SIGTERM: running jobs finish), `--kill kill` as a crash does (SIGKILL). A duplicate
is counted per copy; the line also says how many of them carried the first copy's Message-ID.
The baseline in the same run: how long the sink takes to accept the same number of messages from
a bare aiosmtplib loop, i.e. the least time any sender needs to get them all through.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/reminders.py [--events 100] [--people 100] [--kill]
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
from typing import Any
from zoneinfo import ZoneInfo

from common import http, services

KIND = b"X-Notification-Kind: reminder"


def _sink(port: int, out: Any, ready: Any) -> None:
    """A separate process: accepts everything, reports (recipient, time) of each reminder."""
    from aiosmtpd.controller import Controller

    class Record:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            content = envelope.original_content
            if KIND in content:
                start = content.index(b"Message-ID: ") + 12
                message_id = content[start : content.index(b"\r\n", start)].decode()
                out.put((envelope.rcpt_tos[0], time.time(), message_id))
            return "250 OK"

    controller = Controller(Record(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


async def bare(port: int, count: int) -> float:
    """Seconds for a bare aiosmtplib loop to get `count` small messages accepted."""
    import aiosmtplib

    message = b"Subject: bare\r\nX-Notification-Kind: bare\r\n\r\nx\r\n"
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    started = time.perf_counter()
    for i in range(count):
        await client.sendmail("a@x.example.org", [f"b{i}@x.example.org"], message)
    elapsed = time.perf_counter() - started
    await client.quit()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument(
        "--kill",
        choices=("term", "kill"),
        help="stop the worker at due + 2 s with SIGTERM or SIGKILL, and start another",
    )
    parser.add_argument("--lead", type=int, default=90, help="seconds from setup to due time")
    args = parser.parse_args()
    total = args.events * args.people

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
    cmd = [sys.executable, "-m", "events_svc.cli"]
    api = subprocess.Popen(  # noqa: S603
        [*cmd, "serve", "--port", str(api_port)], env=env, stderr=subprocess.DEVNULL
    )
    worker = subprocess.Popen([*cmd, "worker"], env=env, stderr=subprocess.DEVNULL)  # noqa: S603
    base = f"http://127.0.0.1:{api_port}"
    arrivals: dict[str, list[float]] = collections.defaultdict(list)
    message_ids: dict[str, set[str]] = collections.defaultdict(set)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        bare_seconds = asyncio.run(bare(smtp_port, total))
        tz = ZoneInfo("Asia/Shanghai")
        start = (datetime.now(tz) + timedelta(seconds=args.lead + 60)).replace(microsecond=0)
        due = (start - timedelta(seconds=60)).timestamp()
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
                    "reminders": [{"before": "PT60S"}],
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
        print(
            f"  {total} reminders planned, due in {due - time.time():.0f} s "
            f"(the {total} invitations go out first)",
            flush=True,
        )
        killed = False
        deadline = due + 600
        while time.time() < deadline and len(arrivals) < total:
            if args.kill and not killed and time.time() >= due + 2:
                worker.send_signal(signal.SIGKILL if args.kill == "kill" else signal.SIGTERM)
                worker.wait()
                worker = subprocess.Popen([*cmd, "worker"], env=env, stderr=subprocess.DEVNULL)  # noqa: S603
                killed = True
                print(
                    f"  worker stopped ({args.kill}) at due + 2 s with {len(arrivals)} in",
                    flush=True,
                )
            try:
                rcpt, at, message_id = received.get(timeout=0.2)
                arrivals[rcpt].append(at)
                message_ids[rcpt].add(message_id)
            except queue.Empty:
                pass
        time.sleep(3)  # duplicates that arrive just after the last first-arrival
        while True:
            try:
                rcpt, at, message_id = received.get_nowait()
                arrivals[rcpt].append(at)
                message_ids[rcpt].add(message_id)
            except queue.Empty:
                break
    finally:
        for proc in (api, worker):
            proc.terminate()
            proc.wait(30)
        sink.terminate()
        svc.close()

    lateness = sorted(min(times) - due for times in arrivals.values())
    duplicated = sum(len(times) - 1 for times in arrivals.values())
    new_ids = sum(len(ids) - 1 for ids in message_ids.values())
    missing = total - len(arrivals)
    p50 = statistics.median(lateness) if lateness else float("nan")
    p99 = lateness[int(len(lateness) * 0.99) - 1] if lateness else float("nan")
    print(
        f"reminders {total} due at once"
        f"{f' (worker stopped by SIG{args.kill.upper()} at due+2s)' if args.kill else ''}: "
        f"lateness p50 {p50:.2f} s, p99 {p99:.2f} s, max {lateness[-1]:.2f} s | sent "
        f"{len(arrivals)}, duplicated {duplicated} ({duplicated - new_ids} with the same "
        f"Message-ID), missing {missing} | bare aiosmtplib loop "
        f"needs {bare_seconds:.2f} s for {total} messages (ratio p99/bare "
        f"{p99 / bare_seconds:.2f})"
    )


if __name__ == "__main__":
    main()
