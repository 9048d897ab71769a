"""Benchmark: invite people through the API and time until an SMTP sink has them all.

The baseline is a bare aiosmtplib loop sending the same pre-rendered messages to the same
out-of-process aiosmtpd sink over one connection, in the same run. Prints messages/s for both,
the ratio service/bare (target >= 0.8 per worker), the cost per message of each size against
the smallest (target <= 1.2x), the worker's peak memory (target < 300 MB), and per message the
worker's PostgreSQL statements and Redis round trips (counted in the worker process: a figure
that does not depend on how busy the machine is); medians over the rounds.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/fanout.py [--people 500,5000,50000] [--rounds 3] [--workers 2] \
        [--chunk 10000] [--profile DIR] [--observability]

Invitations go in requests of at most --chunk people (the API's own limit is 10,000). With
--workers N each round also sends through N workers, and measures the sink's own ceiling with
N bare loops in parallel processes: prints N workers against one worker (target >= 1.6x for
2 unless the sink is the limit) and against that ceiling, and how many messages each worker
sent and when each finished (work spread evenly, no worker idle while another has a backlog).
With --profile DIR the single worker of the last round is recorded with py-spy (raw stacks,
`bench/profile_top.py` summarizes them).

With --observability each round sends twice, through an API and a worker started with metrics
and JSON log lines off, then on (their lines written to a file), and prints both and on/off.

Without DATABASE_URL / REDIS_URL it starts the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT, http, services

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


#: the bare loop cycles through this many distinct pre-rendered messages (50,000 would take
#: a minute to render, and the sink does not tell them apart)
DISTINCT = 5000


async def bare_loop(port: int, messages: list[tuple[str, bytes]], sender: str, count: int) -> None:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    for i in range(count):
        recipient, data = messages[i % len(messages)]
        await client.sendmail(sender, [recipient], data)
    await client.quit()


def _bare_process(port: int, messages: list[tuple[str, bytes]], sender: str, count: int) -> None:
    asyncio.run(bare_loop(port, messages, sender, count))


def bare_round(
    port: int,
    counter: Any,
    messages: list[tuple[str, bytes]],
    sender: str,
    *,
    people: int,
    loops: int,
) -> float:
    """`people` pre-rendered messages through `loops` bare loops, each in its own process
    (as each worker is), side by side; messages/s until the sink has them all."""
    start_count = counter.value
    shares = [people // loops + (1 if i < people % loops else 0) for i in range(loops)]
    procs = [
        mp.Process(target=_bare_process, args=(port, messages, sender, n), daemon=True)
        for n in shares
    ]
    sink_before = _others_cpu(0)["sink"]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    done = wait_count(counter, start_count + people)
    for proc in procs:
        proc.join(30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    BARE_CPU.append(
        (
            (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
            * 1000
            / people,
            (_others_cpu(0)["sink"] - sink_before) * 1000 / people,
        )
    )
    return people / (done - started)


#: per bare round: (the loops' CPU ms a message, the sink's)
BARE_CPU: list[tuple[float, float]] = []


#: --observability: the same rounds with metrics and JSON log lines off, then on
OBSERVABILITY = (
    ("off", {"METRICS": "off", "LOG_FORMAT": "text"}),
    ("on", {"METRICS": "on", "LOG_FORMAT": "json"}),
)


@dataclass
class Round:
    rate: float  #: messages/s from the first API call to the last message accepted
    peak_mb: float  #: the highest worker RSS seen
    trips: dict[str, int]  #: PostgreSQL statements and Redis round trips of all its workers
    #: the same less what idle workers do in as much time (polls, heartbeats, sweeps)
    busy_trips: dict[str, float]
    per_worker: list[tuple[int, float]]  #: (messages sent, seconds from start to its last)
    api_seconds: float = 0.0  #: how long the API calls that queue the send took
    #: the workers' CPU time (user + system) per message, less what idle workers use
    cpu_ms: float = 0.0
    #: the same for PostgreSQL, Redis, the sink and the API (not less their idle use)
    others_ms: dict[str, float] = field(default_factory=dict)


def verdict(ok: bool) -> str:
    return "[MET]    " if ok else "[NOT MET]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", default="5000", help="one size or several: 500,5000,50000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=10_000, help="invitees per API request")
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        help="before each timed send, this many invitations to another event (not timed):"
        " the workers as a long-running deployment has them",
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the last round's worker")
    parser.add_argument(
        "--observability",
        action="store_true",
        help="each round twice: metrics and JSON logs off (METRICS=off LOG_FORMAT=text), then "
        "on (their lines written to a file, as in production); printed side by side",
    )
    args = parser.parse_args()
    sizes = [int(p) for p in args.people.split(",")]

    from events_svc.dev.embedded import free_port

    svc = services(BENCH_DB)
    database_url, redis_url, key = svc.database_url, svc.redis_url, svc.api_key

    smtp_port = free_port()
    counter = mp.Value("q", 0)
    ready = mp.Event()
    sink = mp.Process(target=_sink, args=(smtp_port, counter, ready), daemon=True)
    sink.start()
    ready.wait(30)
    global SINK_PID
    SINK_PID = sink.pid or 0

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
    results: dict[int, dict[str, list[Round]]] = {}
    bare_rates: dict[int, list[float]] = {}
    ceilings: dict[int, list[float]] = {}
    try:
        messages = asyncio.run(prerender(min(max(sizes), DISTINCT), settings))
        for people in sizes:
            results[people] = {label: [] for label, _ in configs}
            if args.workers > 1:
                results[people][f"{args.workers} workers"] = []
            bare_rates[people], ceilings[people] = [], []
            for round_no in range(args.rounds):
                bare_rates[people].append(
                    bare_round(
                        smtp_port, counter, messages, settings.mail_from, people=people, loops=1
                    )
                )
                line = [
                    f"  {people}, round {round_no + 1}: bare {bare_rates[people][-1]:.0f} msg/s"
                    f" (CPU ms a message: loop {BARE_CPU[-1][0]:.2f}, sink {BARE_CPU[-1][1]:.2f})"
                ]
                if args.workers > 1:
                    ceilings[people].append(
                        bare_round(
                            smtp_port,
                            counter,
                            messages,
                            settings.mail_from,
                            people=people,
                            loops=args.workers,
                        )
                    )
                    line.append(f"{args.workers} bare loops {ceilings[people][-1]:.0f} msg/s")
                runs: list[tuple[str, dict[str, str], int]] = [(lb, ex, 1) for lb, ex in configs]
                if args.workers > 1:
                    runs.append((f"{args.workers} workers", configs[0][1], args.workers))
                # alternate which goes first, so neither always meets the warmer machine
                order = runs if round_no % 2 == 0 else list(reversed(runs))
                last = people == sizes[-1] and round_no == args.rounds - 1
                for label, extra, workers in order:
                    result = service_round(
                        {**env, **extra},
                        free_port(),
                        key,
                        counter,
                        database_url=database_url,
                        people=people,
                        workers=workers,
                        chunk=args.chunk,
                        tag=f"{people}r{round_no}{label.replace(' ', '')}",
                        log=logs / f"{label.replace(' ', '')}.log",
                        profile=args.profile if last and workers == 1 else None,
                        warm=args.warm,
                    )
                    results[people][label].append(result)
                    line.append(
                        f"{label} {result.rate:.0f} msg/s (API calls {result.api_seconds:.2f} s,"
                        f" CPU ms a message: workers {result.cpu_ms:.2f}, "
                        + ", ".join(f"{k} {v:.2f}" for k, v in result.others_ms.items())
                        + ")"
                    )
                    if workers > 1:
                        line.append(
                            "per worker "
                            + ", ".join(
                                f"{n} sent, last at {t:.2f} s" for n, t in result.per_worker
                            )
                        )
                print(", ".join(line), flush=True)
    finally:
        sink.terminate()
        svc.close()
    report(args, sizes, configs, results, bare_rates, ceilings)


def report(
    args: argparse.Namespace,
    sizes: list[int],
    configs: tuple[tuple[str, dict[str, str]], ...],
    results: dict[int, dict[str, list[Round]]],
    bare_rates: dict[int, list[float]],
    ceilings: dict[int, list[float]],
) -> None:
    single = configs[0][0]
    targets: list[str] = []
    peak = 0.0
    for people in sizes:
        bare = statistics.median(bare_rates[people])
        parts = []
        for label, rounds in results[people].items():
            rate = statistics.median(r.rate for r in rounds)
            peak = max([peak, *(r.peak_mb for r in rounds)])
            sent = people * len(rounds)
            trips = {k: sum(r.trips.get(k, 0) for r in rounds) / sent for k in TRIPS}
            busy = {k: sum(r.busy_trips.get(k, 0) for r in rounds) / sent for k in TRIPS}
            parts.append(
                f"{label} {rate:.0f} msg/s ({people / rate:.1f} s from the first API call to the"
                f" last accepted, {label}/bare {rate / bare:.3f}; per message"
                f" {trips['pg_statements']:.3f} PostgreSQL statements,"
                f" {trips['redis_round_trips']:.3f} Redis round trips"
                f" ({trips['redis_commands']:.3f} commands); less what idle workers do in as"
                f" long: {busy['pg_statements']:.3f} statements,"
                f" {busy['redis_round_trips']:.3f} round trips; worker CPU"
                f" {statistics.median(r.cpu_ms for r in rounds):.2f} ms a message)"
            )
        print(
            f"fanout {people} invitations, median of {args.rounds}: {' | '.join(parts)}"
            f" | bare aiosmtplib loop {bare:.0f} msg/s"
        )
        detail: dict[str, float] = {}
        for r in results[people][single]:
            for k, v in r.busy_trips.items():
                if k.startswith("redis "):
                    detail[k[6:]] = detail.get(k[6:], 0) + v / (
                        people * len(results[people][single])
                    )
        print(
            f"  {people}, {single}: Redis commands per message (less idle): "
            + ", ".join(
                f"{k} {v:.3f}"
                for k, v in sorted(detail.items(), key=lambda kv: -kv[1])
                if abs(v) >= 0.0005
            )
        )
        one = statistics.median(r.rate for r in results[people][single])
        targets.append(
            f"{verdict(one >= 0.8 * bare)} {people}: 1 worker / bare {one / bare:.3f} >= 0.8"
        )
        if args.workers > 1:
            label = f"{args.workers} workers"
            many = statistics.median(r.rate for r in results[people][label])
            ceiling = statistics.median(ceilings[people])
            sink_bound = ceiling < 1.6 * one
            ok = many >= 1.6 * one or (sink_bound and many >= 0.8 * ceiling)
            print(
                f"  {people}: {label} {many:.0f} msg/s = {many / one:.2f}x one worker;"
                f" the sink's ceiling ({args.workers} bare loops in parallel) {ceiling:.0f} msg/s ="
                f" {ceiling / bare:.2f}x one bare loop; {label} / ceiling {many / ceiling:.3f}"
            )
            targets.append(
                f"{verdict(ok)} {people}: {label} / 1 worker {many / one:.2f} >= 1.6"
                + (
                    f" (the sink is the limit: {ceiling / one:.2f}x one worker; judged as"
                    f" {label} / ceiling {many / ceiling:.2f} >= 0.8)"
                    if sink_bound
                    else ""
                )
            )
            for i, r in enumerate(results[people][label]):
                counts = [n for n, _ in r.per_worker]
                lasts = [t for _, t in r.per_worker]
                even = (
                    len(counts) == args.workers
                    and min(counts) >= 0.6 * people / args.workers
                    and max(lasts) - min(lasts) <= max(0.25, 0.1 * max(lasts))
                )
                targets.append(
                    f"{verdict(even)} {people}, round {i + 1}: per-worker sent {counts}, each"
                    f" worker's last message at {', '.join(f'{t:.2f}' for t in lasts)} s (each"
                    " >= 60% of an even share; the last ones within 10% of the send)"
                )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        cost = statistics.median(r.rate for r in results[small][single]) / statistics.median(
            r.rate for r in results[large][single]
        )
        targets.append(
            f"{verdict(cost <= 1.2)} cost per message at {large} / at {small}: {cost:.2f} <= 1.2"
        )
    targets.append(f"{verdict(peak < 300)} worker peak RSS {peak:.0f} MB < 300")
    if args.observability:
        on = statistics.median(r.rate for p in sizes for r in results[p]["on"])
        off = statistics.median(r.rate for p in sizes for r in results[p]["off"])
        print(f"observability on/off {on / off:.3f}")
    print("targets:")
    for line in targets:
        print("  " + line)


TRIPS = ("pg_statements", "redis_round_trips", "redis_commands")
#: seconds of idle workers counted before each send
IDLE_SECONDS = 2.0


def _trips(path: Path) -> dict[str, int]:
    for _ in range(100):
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            time.sleep(0.02)
    return {}


#: the sink's process id (set by main): its CPU is counted per message too
SINK_PID = 0


def _others_cpu(api_pid: int) -> dict[str, float]:
    """CPU seconds used so far by what shares the machine with the workers: the PostgreSQL
    server's processes, Redis, the SMTP sink and the API."""
    found = {"PostgreSQL": 0, "Redis": 0, "sink": 0, "API": 0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm, fields = raw[raw.index("(") + 1 : raw.rindex(")")], raw.rsplit(")", 1)[1].split()
        pid = int(entry.name)
        name = (
            "PostgreSQL"
            if comm.startswith("postgres")
            else "Redis"
            if comm.startswith("redis-server")
            else "sink"
            if pid == SINK_PID
            else "API"
            if pid == api_pid
            else None
        )
        if name is not None:
            found[name] += int(fields[11]) + int(fields[12])
    return {k: v / os.sysconf("SC_CLK_TCK") for k, v in found.items()}


def _cpu_seconds(workers: list[subprocess.Popen[bytes]]) -> float:
    """User + system CPU time the worker processes have used so far."""
    total = 0
    for proc in workers:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _snapshot(workers: list[subprocess.Popen[bytes]], files: list[Path]) -> dict[str, int]:
    """The workers' counts so far (each writes its file on SIGUSR2)."""
    for path in files:
        path.unlink(missing_ok=True)
    for proc in workers:
        proc.send_signal(signal.SIGUSR2)
    total = dict.fromkeys(TRIPS, 0)
    for path in files:
        for k, v in _trips(path).items():
            total[k] = total.get(k, 0) + v
    return total


def _warm_up(base: str, key: str, counter: Any, tag: str, people: int) -> None:
    other = http(
        "POST",
        f"{base}/events",
        key,
        {
            "kind": "meeting",
            "title": f"预热 #{tag}",
            "starts_at": "2027-06-11T09:30:00",
            "ends_at": "2027-06-11T10:00:00",
            "timezone": "Asia/Shanghai",
        },
    )
    target = counter.value + people
    http(
        "POST",
        f"{base}/events/{other['id']}/invitations",
        key,
        {"invitees": [{"email": f"w{tag}m{i}@assoc.example.org"} for i in range(people)]},
    )
    wait_count(counter, target)


def service_round(
    env: dict[str, str],
    api_port: int,
    key: str,
    counter: Any,
    *,
    database_url: str,
    people: int,
    workers: int,
    chunk: int,
    tag: str,
    log: Path,
    profile: Path | None,
    warm: int = 0,
) -> Round:
    """Start an API and `workers` workers with `env`, invite `people` (in requests of `chunk`),
    time until the sink has them all; stop them."""
    cmd = [sys.executable, "-m", "events_svc.cli"]
    files = [log.parent / f"trips-{tag}-{i}.json" for i in range(workers)]
    with log.open("ab") as out:
        api = subprocess.Popen([*cmd, "serve", "--port", str(api_port)], env=env, stderr=out)  # noqa: S603
        procs = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, str(ROOT / "bench" / "tripcount.py"), str(f), "worker"],
                env=env,
                stderr=out,
            )
            for f in files
        ]
    base = f"http://127.0.0.1:{api_port}"
    spy = None
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.5)  # the workers' start-up (pools, first sweep) is not part of the send
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
        if warm:
            # a long-running worker's state: connections open, statements prepared, code
            # paths run once; this small send to another event is not timed
            _warm_up(base, key, counter, tag, warm)
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(procs[0].pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "-o",
                    str(profile / f"worker-{tag}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        # what the idle workers do anyway (polls, heartbeats, sweeps), per second: taken off
        # the counts, so that per message they do not depend on how long the send took
        idle = _snapshot(procs, files)
        idle_cpu = _cpu_seconds(procs)
        time.sleep(IDLE_SECONDS)
        before = _snapshot(procs, files)
        before_cpu = _cpu_seconds(procs)
        idle_cpu_rate = (before_cpu - idle_cpu) / IDLE_SECONDS
        others_before = _others_cpu(api.pid)
        idle_rate = {k: (before.get(k, 0) - idle.get(k, 0)) / IDLE_SECONDS for k in before}
        start_count = counter.value
        peak = max(rss_mb(p.pid) for p in procs)
        started = time.perf_counter()
        for start in range(0, people, chunk):
            answer = http(
                "POST",
                f"{base}/events/{event['id']}/invitations",
                key,
                {"invitees": invitees[start : start + chunk]},
            )
            assert answer["invited"] == len(invitees[start : start + chunk]), answer
            peak = max([peak, *(rss_mb(p.pid) for p in procs)])
        api_seconds = time.perf_counter() - started
        target = start_count + people
        while counter.value < target:
            peak = max([peak, *(rss_mb(p.pid) for p in procs)])
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"only {counter.value - start_count} arrived")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        peak = max([peak, *(rss_mb(p.pid) for p in procs)])
        after = _snapshot(procs, files)
        busy_cpu = _cpu_seconds(procs) - before_cpu - idle_cpu_rate * elapsed
        others = {
            k: (v - others_before[k]) * 1000 / people for k, v in _others_cpu(api.pid).items()
        }
        per_worker = asyncio.run(
            _per_worker(database_url, event["id"], people, started_wall=time.time() - elapsed)
        )
        return Round(
            rate=people / elapsed,
            peak_mb=peak,
            trips={k: after.get(k, 0) - before.get(k, 0) for k in after},
            busy_trips={
                k: after.get(k, 0) - before.get(k, 0) - idle_rate.get(k, 0) * elapsed for k in after
            },
            per_worker=per_worker,
            api_seconds=api_seconds,
            cpu_ms=busy_cpu * 1000 / people,
            others_ms=others,
        )
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        for proc in (api, *procs):
            proc.terminate()
        for proc in (api, *procs):
            proc.wait(60)


async def _per_worker(
    database_url: str, event_id: str, people: int, *, started_wall: float
) -> list[tuple[int, float]]:
    """Messages each worker sent and when its last one was recorded (seconds from the start);
    also checks that every invitation was recorded sent once."""
    import asyncpg

    for attempt in range(60):  # a shared server may be full for a moment
        try:
            conn = await asyncpg.connect(database_url)
            break
        except asyncpg.TooManyConnectionsError:
            if attempt == 59:
                raise
            await asyncio.sleep(0.5)
    try:
        for _ in range(250):
            rows = await conn.fetch(
                "SELECT claimed_by, count(*) AS n, extract(epoch FROM max(sent_at)) AS last"
                " FROM notification WHERE event = $1::uuid AND status = 'sent'"
                " GROUP BY claimed_by ORDER BY claimed_by",
                event_id,
            )
            if sum(r["n"] for r in rows) >= people:
                break
            await asyncio.sleep(0.02)
        assert sum(r["n"] for r in rows) == people, rows
        return [(r["n"], float(r["last"]) - started_wall) for r in rows]
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
