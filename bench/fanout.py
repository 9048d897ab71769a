"""Benchmark: invite 5,000 people through the API and time until an SMTP sink has them all.

The baseline is a bare aiosmtplib loop sending the same 5,000 pre-rendered messages to the same
sink over one connection, in the same run. Prints messages/s for both, the ratio service/bare
(target >= 0.5) and the worker's peak memory (target < 300 MB); medians over the rounds.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/fanout.py [--people 5000] [--rounds 3] [--observability]

With --observability each round sends twice, through an API and a worker started with metrics
and JSON log lines off, then on (their lines written to a file), and prints both and on/off.

Without DATABASE_URL / REDIS_URL it starts the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import http, services

BENCH_DB = "events_svc_bench_fanout"


def _sink(port: int, counter: Any, ready: Any) -> None:
    """A separate process: an aiosmtpd server that only counts accepted messages."""
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def wait_count(counter: Any, target: int, within: float = 600) -> float:
    deadline = time.monotonic() + within
    while counter.value < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {counter.value} of {target} messages arrived")
        time.sleep(0.005)
    return time.perf_counter()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def prerender(people: int, settings: Any) -> list[tuple[str, bytes]]:
    """The same kind of message the worker sends, rendered up front for the bare loop."""
    from datetime import UTC, datetime

    from events_svc.calendar.ics import EventData, Party, itip
    from events_svc.mail.render import Links, MailContext, render_message

    now = datetime.now(UTC)
    event = EventData(
        uid="bench@events.example.org",
        sequence=0,
        title="第二届社会工作本色与本土论坛",
        description="京粤社工交流",
        location="广州市越秀区",
        online_url="",
        url="https://events.example.org/events/x.ics",
        starts_at=datetime(2027, 6, 10, 9, 30),
        ends_at=datetime(2027, 6, 10, 17, 0),
        timezone="Asia/Shanghai",
        recurrence=None,
        status="scheduled",
        created_at=now,
        updated_at=now,
    )
    out = []
    for i in range(people):
        email = f"bare{i:05d}@assoc.example.org"
        attendee = Party(email=email, name=f"会员{i}")
        ics = itip("REQUEST", event, organizer=Party(settings.mail_from, "基准"), attendee=attendee)
        ctx = MailContext(
            kind="invitation",
            uninvited=False,
            locale="zh-CN",
            event=event,
            org_name="基准测试协会",
            org_email="b@bench.example.org",
            mail_from=settings.mail_from,
            recipient_email=email,
            recipient_name=f"会员{i}",
            role="required",
            note="",
            links=Links(ics=event.url),
            method="REQUEST",
            ics=ics,
            message_id_domain="events.example.org",
        )
        out.append((email, render_message(ctx, now=now)[0]))
    return out


async def bare_loop(port: int, messages: list[tuple[str, bytes]], sender: str) -> None:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    for recipient, data in messages:
        await client.sendmail(sender, [recipient], data)
    await client.quit()


#: --observability: the same rounds with metrics and JSON log lines off, then on
OBSERVABILITY = (
    ("off", {"METRICS": "off", "LOG_FORMAT": "text"}),
    ("on", {"METRICS": "on", "LOG_FORMAT": "json"}),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--observability",
        action="store_true",
        help="each round twice: metrics and JSON logs off (METRICS=off LOG_FORMAT=text), then "
        "on (their lines written to a file, as in production); printed side by side",
    )
    args = parser.parse_args()

    from events_svc.dev.embedded import free_port

    svc = services(BENCH_DB)
    database_url, redis_url, key = svc.database_url, svc.redis_url, svc.api_key

    smtp_port = free_port()
    counter = mp.Value("q", 0)
    ready = mp.Event()
    sink = mp.Process(target=_sink, args=(smtp_port, counter, ready), daemon=True)
    sink.start()
    ready.wait(30)

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "PUBLIC_BASE_URL": "https://events.example.org",
        "MAIL_FROM": "events@events.example.org",
    }
    from events_svc.settings import Settings

    settings = Settings.from_env(env)
    configs: tuple[tuple[str, dict[str, str]], ...] = (
        OBSERVABILITY if args.observability else (("service", {}),)
    )
    logs = Path(tempfile.mkdtemp(prefix="events-svc-bench-fanout-"))
    rates: dict[str, list[float]] = {label: [] for label, _ in configs}
    bare_rates: list[float] = []
    peaks: list[float] = []
    try:
        messages = asyncio.run(prerender(args.people, settings))
        for round_no in range(args.rounds):
            start_count = counter.value
            started = time.perf_counter()
            asyncio.run(bare_loop(smtp_port, messages, settings.mail_from))
            done = wait_count(counter, start_count + args.people)
            bare_rates.append(args.people / (done - started))
            line = [f"  round {round_no + 1}: bare {bare_rates[-1]:.0f} msg/s"]
            # alternate which goes first, so neither always meets the warmer machine
            order = configs if round_no % 2 == 0 else tuple(reversed(configs))
            for label, extra in order:
                rate, peak = service_round(
                    {**env, **extra},
                    free_port(),
                    key,
                    counter,
                    people=args.people,
                    tag=f"{round_no}{label}",
                    log=logs / f"{label}.log",
                )
                rates[label].append(rate)
                peaks.append(peak)
                line.append(f"{label} {rate:.0f} msg/s")
            print(", ".join(line), flush=True)
    finally:
        sink.terminate()
        svc.close()

    bare = statistics.median(bare_rates)
    medians = {label: statistics.median(r) for label, r in rates.items()}
    parts = [
        f"{label} {rate:.0f} msg/s ({args.people / rate:.1f} s from API call to last accepted, "
        f"ratio {label}/bare {rate / bare:.3f})"
        for label, rate in medians.items()
    ]
    summary = (
        f"fanout {args.people} invitations, median of {args.rounds}: {' | '.join(parts)} | "
        f"bare aiosmtplib loop {bare:.0f} msg/s | worker peak RSS {max(peaks):.0f} MB"
    )
    if args.observability:
        paired = statistics.median(o / f for o, f in zip(rates["on"], rates["off"], strict=True))
        summary += (
            f" | on/off {medians['on'] / medians['off']:.3f} (median of the rounds' on/off "
            f"{paired:.3f})"
        )
    print(summary)


def service_round(
    env: dict[str, str],
    api_port: int,
    key: str,
    counter: Any,
    *,
    people: int,
    tag: str,
    log: Path,
) -> tuple[float, float]:
    """Start an API and a worker with `env`, invite `people` in one call, time until the
    sink has them all; stop both. Returns (messages/s, worker peak RSS in MB)."""
    cmd = [sys.executable, "-m", "events_svc.cli"]
    with log.open("ab") as out:
        api = subprocess.Popen([*cmd, "serve", "--port", str(api_port)], env=env, stderr=out)  # noqa: S603
        worker = subprocess.Popen([*cmd, "worker"], env=env, stderr=out)  # noqa: S603
    base = f"http://127.0.0.1:{api_port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)  # the worker's start-up (pools, first sweep) is not part of the send
        event = http(
            "POST",
            f"{base}/events",
            key,
            {
                "kind": "forum",
                "title": f"第二届社会工作本色与本土论坛 #{tag}",
                "location": "广州市越秀区",
                "starts_at": "2027-06-10T09:30:00",
                "ends_at": "2027-06-10T17:00:00",
                "timezone": "Asia/Shanghai",
            },
        )
        invitees = [
            {"email": f"r{tag}m{i:05d}@assoc.example.org", "name": f"会员{i}"}
            for i in range(people)
        ]
        start_count = counter.value
        peak = rss_mb(worker.pid)
        started = time.perf_counter()
        answer = http(
            "POST", f"{base}/events/{event['id']}/invitations", key, {"invitees": invitees}
        )
        assert answer["invited"] == people, answer
        target = start_count + people
        while counter.value < target:
            peak = max(peak, rss_mb(worker.pid))
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"only {counter.value - start_count} arrived")
            time.sleep(0.02)
        return people / (time.perf_counter() - started), max(peak, rss_mb(worker.pid))
    finally:
        for proc in (api, worker):
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
