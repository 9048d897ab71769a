"""Benchmark: an organization's public calendar feed with 10,000 events (500 weekly series, each
with one moved and one cancelled occurrence) served over HTTP by the real app.

Times a full GET after one event changed (the server restitches the feed from its per-event
block cache and renders only that event), a conditional GET answered 304, the first (cold) GET
and a gzip GET; samples the API process' RSS all along. The baseline in the same run: building
the same 10,000 events (series with RRULE + EXDATE and their override VEVENT) directly with
icalendar and serializing them (median of 3). Prints p50 latencies, the ratio full/bare
(target <= 0.5), how much faster the 304 is (target >= 50x) and the peak RSS (target < 300 MB).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/feed.py [--events 10000] [--series 500] [--full 15] [--not-modified 200]

Without DATABASE_URL / REDIS_URL it starts the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from common import ROOT, services

BENCH_DB = "events_svc_bench_feed"
BASE_URL = "https://events.example.org"
MAIL_FROM = "events@events.example.org"
CONCURRENCY = 16

KINDS = ("exchange_visit", "forum", "training", "meeting", "ceremony")
CITIES = ("北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉", "西安", "重庆", "长沙")
TOPICS = (
    "社会工作",
    "社区治理",
    "青少年服务",
    "长者照护",
    "志愿服务",
    "公益创投",
    "心理健康",
    "乡村振兴",
    "残障融合",
    "家庭教育",
    "儿童保护",
    "医务社工",
    "学校社工",
    "社工督导",
)
FORMATS = ("论坛", "研讨会", "培训班", "交流会", "工作坊", "座谈会", "年会", "沙龙", "分享会")
SENTENCES = (
    "本次活动邀请高校学者与一线社工共同探讨本土化实践中的难点与经验。",
    "活动分为主旨演讲、圆桌对话和分组讨论三个环节，欢迎会员单位报名参加。",
    "请参会人员提前十五分钟到场签到，并携带单位介绍信或会员证。",
    "会议将围绕服务项目的设计、实施、评估与督导展开深入交流。",
    "现场提供同声传译，会后将整理发言纪要并发送给全体参会者。",
    "为保证交流质量，每个单位限报两人，报名截止时间为活动前一周。",
    "活动期间将安排参访当地优秀社会服务机构，了解其运营模式。",
    "本期培训结束后颁发继续教育学时证明，可用于社工职业水平登记。",
    "请关注协会公众号获取最新议程，如有变动将另行通知。",
    "诚挚欢迎关心社会工作发展的各界朋友莅临指导、共襄盛举。",
    "午餐由主办方统一安排，有特殊饮食需求的请在报名表中注明。",
    "会场交通便利，可乘坐地铁到达，周边停车位有限，建议绿色出行。",
    "与会嘉宾将分享在社区营造、个案管理和资源链接方面的实务经验。",
    "活动由协会专业委员会承办，得到了多家基金会和企业的大力支持。",
)
DISTRICTS = ("越秀区", "海淀区", "浦东新区", "南山区", "武侯区", "西湖区", "鼓楼区", "江汉区")
ROADS = ("中山", "人民", "解放", "建设", "文化", "和平", "东风", "滨江")
BERLIN_PLACES = (
    "Berlin, Friedrichstraße 43, 3. OG",
    "Berlin-Mitte, Alexanderplatz 1, Saal B",
    "Haus der Kulturen der Welt, John-Foster-Dulles-Allee 10",
    "Berlin, Invalidenstraße 112, Raum 204",
)


# --- data ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Spec:
    """One event as the bench creates it; the series also carry their two occurrence changes."""

    body: dict[str, Any]
    moved: tuple[str, str, str] | None = None  # original start, new start, new end (local ISO)
    cancelled: str | None = None  # original start (local ISO)
    id: str = ""
    moved_sequence: int = 0
    out: dict[str, Any] = field(default_factory=dict)


def _description(rng: random.Random) -> str:
    target, parts = rng.randint(180, 230), []
    while sum(map(len, parts)) < target:
        parts.append(rng.choice(SENTENCES))
    return "".join(parts)


def make_specs(events: int, series: int, seed: int = 20270610) -> list[Spec]:
    rng = random.Random(seed)
    first_day = date.today() + timedelta(days=1)
    series_at = set(rng.sample(range(events), series))
    specs = []
    for i in range(events):
        berlin = rng.random() < 0.15
        city = rng.choice(CITIES)
        start = datetime.combine(
            first_day + timedelta(days=rng.randrange(365)), datetime.min.time()
        ).replace(hour=rng.randint(8, 18), minute=rng.choice((0, 30)))
        end = start + timedelta(minutes=rng.choice((60, 90, 120, 180, 240)))
        n = rng.randint(1, 30)
        title = f"{'中德' if berlin else city}{rng.choice(TOPICS)}{rng.choice(FORMATS)}（第{n}期）"
        if len(title) < 18:
            title = f"{start.year}年{title}"
        location = (
            rng.choice(BERLIN_PLACES)
            if berlin
            else f"{city}市{rng.choice(DISTRICTS)}{rng.choice(ROADS)}路{rng.randint(1, 400)}号"
            f"{rng.randint(1, 30)}楼{rng.randint(1, 20)}0{rng.randint(1, 9)}室"
        )
        body: dict[str, Any] = {
            "kind": rng.choice(KINDS),
            "title": title,
            "description": _description(rng),
            "location": location,
            "starts_at": start.isoformat(),
            "ends_at": end.isoformat(),
            "timezone": "Europe/Berlin" if berlin else "Asia/Shanghai",
        }
        roll = rng.random()
        if roll < 0.25:
            body["reminders"] = [{"before": "PT1H"}]
        elif roll < 0.35:
            body["reminders"] = [{"before": "P1D"}, {"before": "PT30M"}]
        spec = Spec(body)
        if i in series_at:
            count = rng.randint(10, 20)
            body["recurrence"] = f"FREQ=WEEKLY;COUNT={count}"
            moved_n, cancelled_n = rng.sample(range(1, count), 2)
            original = start + timedelta(weeks=moved_n)
            new_start = original + timedelta(days=1, hours=rng.choice((-2, 0, 1)))
            spec.moved = (
                original.isoformat(),
                new_start.isoformat(),
                (new_start + (end - start)).isoformat(),
            )
            spec.cancelled = (start + timedelta(weeks=cancelled_n)).isoformat()
        specs.append(spec)
    return specs


async def create_all(base: str, key: str, specs: list[Spec]) -> None:
    """POST every event (and PATCH the series' occurrences), CONCURRENCY requests in flight."""
    import httpx

    todo: asyncio.Queue[Spec] = asyncio.Queue()
    for spec in specs:
        todo.put_nowait(spec)
    done = 0
    started = time.perf_counter()

    async def check(resp: httpx.Response, what: str) -> dict[str, Any]:
        if resp.status_code >= 300:
            raise RuntimeError(f"{what}: {resp.status_code} {resp.text[:500]}")
        answer: dict[str, Any] = resp.json()
        return answer

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal done
        while not todo.empty():
            spec = todo.get_nowait()
            spec.out = await check(await http.post("/events", json=spec.body), "POST /events")
            spec.id = spec.out["id"]
            if spec.moved:
                original, new_start, new_end = spec.moved
                moved = await check(
                    await http.patch(
                        f"/events/{spec.id}/occurrences/{original}",
                        json={"starts_at": new_start, "ends_at": new_end},
                    ),
                    "PATCH occurrence (move)",
                )
                spec.moved_sequence = moved["sequence"]
            if spec.cancelled:
                await check(
                    await http.patch(
                        f"/events/{spec.id}/occurrences/{spec.cancelled}",
                        json={"status": "cancelled"},
                    ),
                    "PATCH occurrence (cancel)",
                )
            done += 1
            if done % 2000 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  {done} events created ({rate:.0f}/s)", flush=True)

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        limits=limits,
        timeout=120,
    ) as http:
        await asyncio.gather(*(client(http) for _ in range(CONCURRENCY)))


def fetch_all(conn: Client, key: str) -> list[dict[str, Any]]:
    """Every event of the org as the API lists it (GET /events, 200 a page)."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        path = "/events?limit=200" + (f"&cursor={quote(cursor)}" if cursor else "")
        status, _h, body, _t = conn.request("GET", path, {"Authorization": f"Bearer {key}"})
        if status != 200:
            raise RuntimeError(f"GET /events: {status} {body[:300]!r}")
        page = json.loads(body)
        out.extend(page["items"])
        cursor = page["next"]
        if not cursor:
            return out


# --- the bare baseline -----------------------------------------------------------------------


def _local(value: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=tz)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def bare_feed(events: Sequence[dict[str, Any]], specs: dict[str, Spec], org_name: str) -> bytes:
    """The same events as one VCALENDAR, built and serialized directly with icalendar."""
    from icalendar import Alarm, Calendar, Event, vCalAddress, vRecur, vText

    from events_svc.calendar.vtimezone import vtimezone

    zones = {name: ZoneInfo(name) for name in sorted({e["timezone"] for e in events})}
    cal = Calendar()
    cal.add("prodid", "-//events-svc bench//bare icalendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", org_name)
    for name in zones:
        cal.add_component(vtimezone(name))

    def vevent(e: dict[str, Any], tz: ZoneInfo) -> Event:
        ev = Event()
        ev.add("uid", e["uid"])
        ev.add("sequence", e["sequence"])
        ev.add("dtstamp", _instant(e["updated_at"]))
        ev.add("dtstart", _local(e["starts_at"], tz))
        ev.add("dtend", _local(e["ends_at"], tz))
        ev.add("summary", e["title"])
        ev.add("description", e["description"])
        ev.add("location", e["location"])
        ev.add("url", f"{BASE_URL}/events/{e['id']}.ics")
        ev.add("status", "CONFIRMED")
        ev.add("transp", "OPAQUE")
        ev.add("created", _instant(e["created_at"]))
        ev.add("last-modified", _instant(e["updated_at"]))
        organizer = vCalAddress(f"mailto:{MAIL_FROM}")
        organizer.params["CN"] = vText(org_name)
        ev.add("organizer", organizer)
        for rule in e["reminders"] or ():
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", e["title"])
            alarm.add("trigger", -_duration(rule["before"]))
            ev.add_component(alarm)
        return ev

    for e in events:
        tz = zones[e["timezone"]]
        master = vevent(e, tz)
        spec = specs[e["id"]]
        if e["recurrence"]:
            master.add("rrule", vRecur.from_ical(e["recurrence"]))
            if spec.cancelled:
                master.add("exdate", [_local(spec.cancelled, tz)])
        cal.add_component(master)
        if spec.moved:
            original, new_start, new_end = spec.moved
            moved = vevent(
                {
                    **e,
                    "starts_at": new_start,
                    "ends_at": new_end,
                    "sequence": max(spec.moved_sequence, e["sequence"]),
                },
                tz,
            )
            moved.add("recurrence-id", _local(original, tz))
            cal.add_component(moved)
    data: bytes = cal.to_ical()
    return data


def _duration(text: str) -> timedelta:
    if text.startswith("PT") and text.endswith("H"):
        return timedelta(hours=int(text[2:-1]))
    if text.startswith("PT") and text.endswith("M"):
        return timedelta(minutes=int(text[2:-1]))
    if text.startswith("P") and text.endswith("D"):
        return timedelta(days=int(text[1:-1]))
    raise ValueError(text)


# --- measuring -------------------------------------------------------------------------------


class Client:
    """A keep-alive HTTP/1.1 connection (http.client): little overhead on the client side."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.used = 0.0

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes, float]:
        """(status, headers in lower case, body, seconds from sending to the last byte)."""
        if time.monotonic() - self.used > 3:
            # uvicorn closes a connection idle for 5 s: connect anew, outside the timing
            self.conn.close()
            self.conn.connect()
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - started
        self.used = time.monotonic()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, elapsed

    def close(self) -> None:
        self.conn.close()


class RssSampler(threading.Thread):
    """The peak RSS of a process and its children, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stopping = threading.Event()

    def sample(self) -> int:
        import psutil

        total = 0
        for p in (self.proc, *self.proc.children(recursive=True)):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak = max(self.peak, self.sample())
            self.stopping.wait(0.05)

    def stop(self) -> float:
        self.stopping.set()
        self.join()
        self.peak = max(self.peak, self.sample())
        return self.peak / 2**20


def unfolded(body: bytes) -> bytes:
    return body.replace(b"\r\n ", b"")


def quantile_ms(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`, in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def check_feed(body: bytes, events: Sequence[dict[str, Any]], series: int) -> str:
    """Parse the feed with icalendar and check what it holds; a short summary."""
    from icalendar import Calendar

    cal = Calendar.from_ical(body)
    masters, overrides = {}, {}
    for component in cal.walk("VEVENT"):
        uid = str(component["UID"])
        if "RECURRENCE-ID" in component:
            overrides[uid] = component
        else:
            if uid in masters:
                raise AssertionError(f"two masters for {uid}")
            masters[uid] = component
    zones = len(cal.walk("VTIMEZONE"))
    uids = {e["uid"] for e in events}
    series_uids = {e["uid"] for e in events if e["recurrence"]}
    assert set(masters) == uids, f"{len(masters)} masters, {len(set(masters) ^ uids)} differ"
    assert set(overrides) == series_uids, f"{len(overrides)} overrides"
    assert len(overrides) == series, len(overrides)
    with_exdate = sum(1 for uid in series_uids if "EXDATE" in masters[uid])
    assert with_exdate == series, f"{with_exdate} series have an EXDATE"
    assert zones == len({e["timezone"] for e in events}), f"{zones} VTIMEZONEs"
    return (
        f"{len(masters)} masters ({len(series_uids)} with RRULE, {with_exdate} with EXDATE), "
        f"{len(overrides)} overrides, {zones} VTIMEZONEs"
    )


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the API server exited")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the API server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--full", type=int, default=15, help="full GETs after a change")
    parser.add_argument("--not-modified", type=int, default=200, help="conditional GETs")
    parser.add_argument(
        "--not-modified-db",
        type=int,
        default=10,
        help="conditional GETs after the server's validator cache expired",
    )
    parser.add_argument("--gzip", type=int, default=5, help="gzip GETs after a change")
    args = parser.parse_args()

    from events_svc.dev.embedded import free_port

    bench_started = time.perf_counter()
    svc = services(BENCH_DB)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": svc.database_url,
        "REDIS_URL": svc.redis_url,
        "SMTP_URL": "smtp://127.0.0.1:1025",
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "PUBLIC_BASE_URL": BASE_URL,
        "MAIL_FROM": MAIL_FROM,
    }
    log_path = Path(tempfile.mkdtemp(prefix="events-svc-bench-feed-")) / "api.log"
    log = log_path.open("wb")
    api = subprocess.Popen(
        [sys.executable, "-m", "events_svc.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    key = svc.api_key
    auth = {"Authorization": f"Bearer {key}"}
    plain = {"Accept-Encoding": "identity"}
    sampler: RssSampler | None = None
    conn = patcher = None
    try:
        wait_healthy(base, api)
        conn, patcher = Client(port), Client(port)
        status, _h, org_body, _t = conn.request("GET", "/orgs/me", auth)
        assert status == 200, (status, org_body[:300])
        org = json.loads(org_body)
        org = org.get("organization", org)
        slug, org_name = org["slug"], org["name"]
        feed_path = f"/feeds/orgs/{slug}.ics"

        # --- setup ------------------------------------------------------------------------
        specs = make_specs(args.events, args.series)
        started = time.perf_counter()
        asyncio.run(create_all(base, key, specs))
        setup_seconds = time.perf_counter() - started
        print(
            f"  {args.events} events ({args.series} series with a moved and a cancelled "
            f"occurrence) created in {setup_seconds:.0f} s",
            flush=True,
        )
        events = fetch_all(conn, key)
        assert len(events) == args.events, len(events)
        by_id = {spec.id: spec for spec in specs}

        # --- the bare baseline --------------------------------------------------------------
        bare_runs, bare_size = [], 0
        for _ in range(3):
            started = time.perf_counter()
            bare_size = len(bare_feed(events, by_id, org_name))
            bare_runs.append(time.perf_counter() - started)
        bare = statistics.median(bare_runs)
        print(
            f"  bare icalendar build+serialize: {', '.join(f'{t:.2f}' for t in bare_runs)} s "
            f"({bare_size / 2**20:.1f} MB)",
            flush=True,
        )

        # --- the feed over HTTP -------------------------------------------------------------
        sampler = RssSampler(api.pid)
        rss_before = sampler.sample() / 2**20
        sampler.start()
        status, headers, body, cold = conn.request("GET", feed_path, plain)
        assert status == 200, (status, body[:300])
        assert "content-encoding" not in headers, headers
        etag = headers["etag"]
        print(
            f"  cold GET {cold * 1000:.0f} ms, {len(body) / 2**20:.1f} MB, ETag {etag} "
            f"(API RSS before {rss_before:.0f} MB)",
            flush=True,
        )

        rng = random.Random(7)
        revision = 0

        def change() -> tuple[dict[str, Any], str]:
            """PATCH one random event's description; the event and its new description."""
            nonlocal revision
            revision += 1
            event = rng.choice(events)
            text = f"{by_id[event['id']].body['description']}（修订{revision:03d}号）"
            status, _h, answer, _t = patcher.request(
                "PATCH",
                f"/events/{event['id']}",
                {**auth, "Content-Type": "application/json"},
                json.dumps({"description": text}, ensure_ascii=False).encode(),
            )
            assert status == 200, (status, answer[:300])
            return event, text

        def changed_get(headers_in: dict[str, str]) -> tuple[dict[str, str], bytes, float]:
            nonlocal etag
            event, text = change()
            status, headers, body, elapsed = conn.request("GET", feed_path, headers_in)
            assert status == 200, (status, body[:300])
            assert headers["etag"] not in (etag, etag[:-1] + '-gz"'), "ETag did not change"
            etag = headers["etag"].replace('-gz"', '"')
            data = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
            assert text.encode() in unfolded(data), f"new description of {event['id']} missing"
            return headers, body, elapsed

        full_times = []
        for _ in range(args.full):
            _headers, body, elapsed = changed_get(plain)
            full_times.append(elapsed)
        full = statistics.median(full_times)
        print(
            f"  full GET after a change: p50 {full * 1000:.1f} ms, p90 "
            f"{quantile_ms(full_times, 0.9):.1f} ms, max {max(full_times) * 1000:.1f} ms",
            flush=True,
        )

        same_times = []
        for _ in range(args.full):
            status, _h, same, elapsed = conn.request("GET", feed_path, plain)
            assert status == 200 and same == body, status
            same_times.append(elapsed)
        print(
            f"  full GET, nothing changed (no If-None-Match): p50 "
            f"{statistics.median(same_times) * 1000:.1f} ms",
            flush=True,
        )

        nm_times = []
        for _ in range(args.not_modified):
            status, headers, empty, elapsed = conn.request(
                "GET", feed_path, {**plain, "If-None-Match": etag}
            )
            assert status == 304 and not empty and headers["etag"] == etag, (status, headers)
            nm_times.append(elapsed)
        not_modified = statistics.median(nm_times)
        print(
            f"  304: p50 {not_modified * 1000:.2f} ms, p90 {quantile_ms(nm_times, 0.9):.2f} ms",
            flush=True,
        )
        # The server reuses a feed's validators for STAMP_TTL seconds; past it, a 304 costs the
        # aggregate query over the organization's events. Wait out the TTL before each one.
        from events_svc.feeds.service import STAMP_TTL

        db_times = []
        for _ in range(args.not_modified_db):
            time.sleep(STAMP_TTL + 0.1)
            status, headers, empty, elapsed = conn.request(
                "GET", feed_path, {**plain, "If-None-Match": etag}
            )
            assert status == 304 and not empty, (status, headers)
            db_times.append(elapsed)
        not_modified_db = statistics.median(db_times) if db_times else float("nan")
        print(
            f"  304 with validators read from the database: p50 {not_modified_db * 1000:.2f} ms",
            flush=True,
        )

        gz_times, gz_size = [], 0
        for _ in range(args.gzip):
            headers, gz_body, elapsed = changed_get({"Accept-Encoding": "gzip"})
            assert headers.get("content-encoding") == "gzip", headers
            gz_times.append(elapsed)
            gz_size = len(gz_body)
        status, _h, body, _t = conn.request("GET", feed_path, plain)
        assert status == 200 and gzip.decompress(gz_body) == body, "gzip body differs"
        gz = statistics.median(gz_times)
        rss_peak = sampler.stop()
        sampler = None
        print(f"  gzip GET after a change: p50 {gz * 1000:.1f} ms", flush=True)

        # a change to one occurrence must reach the feed too (the series' block re-renders)
        spec = next(s for s in specs if s.moved)
        first = datetime.fromisoformat(spec.body["starts_at"])
        count = int(spec.body["recurrence"].rsplit("=", 1)[1])
        taken = {spec.cancelled, spec.moved[0] if spec.moved else None}
        extra = next(
            first + timedelta(weeks=k)
            for k in range(1, count)
            if (first + timedelta(weeks=k)).isoformat() not in taken
        )
        status, _h, answer, _t = patcher.request(
            "PATCH",
            f"/events/{spec.id}/occurrences/{extra.isoformat()}",
            {**auth, "Content-Type": "application/json"},
            b'{"status": "cancelled"}',
        )
        assert status == 200, (status, answer[:300])
        status, _h, body, _t = conn.request("GET", feed_path, plain)
        assert status == 200, status
        flat = unfolded(body)
        at = flat.index(f"UID:{spec.out['uid']}".encode())
        master = flat[flat.rindex(b"BEGIN:VEVENT", 0, at) : flat.index(b"END:VEVENT", at)]
        exdates = [line for line in master.split(b"\r\n") if line.startswith(b"EXDATE")]
        assert f"{extra:%Y%m%dT%H%M%S}".encode() in b"".join(exdates), exdates

        started = time.perf_counter()
        summary = check_feed(body, events, args.series)
        print(f"  feed parsed in {time.perf_counter() - started:.1f} s: {summary}", flush=True)
    finally:
        if sampler is not None:
            sampler.stop()
        for client in (conn, patcher):
            if client is not None:
                client.close()
        api.terminate()
        try:
            api.wait(30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()
        log.close()
        svc.close()

    problems = [
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if "Traceback" in line or "ERROR" in line or '" 5' in line
    ]
    if problems:
        print(f"  API log ({log_path}) has {len(problems)} error lines, e.g. {problems[0]}")
    print(f"  bench took {time.perf_counter() - bench_started:.0f} s", flush=True)

    ratio = full / bare
    print(
        f"feed {args.events} events ({args.series} series): full p50 {full * 1000:.1f} ms "
        f"(cold {cold * 1000:.0f} ms) vs bare icalendar {bare * 1000:.0f} ms -> ratio "
        f"{ratio:.3f} (target <= 0.5) | 304 p50 {not_modified * 1000:.2f} ms -> "
        f"{full / not_modified:.1f} x faster (target >= 50; {full / not_modified_db:.1f} x when "
        f"the validators come from the database) | gzip p50 {gz * 1000:.1f} ms, "
        f"{len(body) / 2**20:.1f} MB -> {gz_size / 2**20:.2f} MB | API RSS peak "
        f"{rss_peak:.0f} MB (target < 300)"
    )


if __name__ == "__main__":
    main()
