"""Benchmark: the console's pages against the JSON API for the same data, in one run.

An event with 10,000 invitees (their invitations queued, as right after sending); then, for
each pair, many sequential requests through the app (in process, over ASGI, real PostgreSQL
and Redis), alternating page and API, and the p50 of each:

    event page        /console/events/<id>              vs /events/<id>
    invitations page  /console/events/<id>/invitations  vs /events/<id>/invitations?limit=50
    home page         /console                          vs /events?from=<now>&limit=10

The API is the baseline; the target is a ratio of at most 2.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/pages.py [--invitees 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from common import services

BENCH_DB = "events_svc_bench_pages"


async def _measure(client: Any, pairs: dict[str, tuple[str, str]], key: str, n: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for name, (page, api) in pairs.items():
        for _ in range(10):  # warm-up: templates compiled, statements prepared
            await client.get(page)
            await client.get(api, headers=headers)
        for _ in range(n):
            start = time.perf_counter()
            resp = await client.get(page)
            times[name][0].append(time.perf_counter() - start)
            assert resp.status_code == 200, (page, resp.status_code, resp.text[:300])
            start = time.perf_counter()
            resp = await client.get(api, headers=headers)
            times[name][1].append(time.perf_counter() - start)
            assert resp.status_code == 200, (api, resp.status_code, resp.text[:300])
    print(f"{'':18}{'console p50':>14}{'API p50':>12}{'ratio':>8}")
    for name, (page_times, api_times) in times.items():
        p, a = statistics.median(page_times) * 1000, statistics.median(api_times) * 1000
        print(f"{name:18}{p:11.2f} ms{a:9.2f} ms{p / a:8.2f}", flush=True)


async def run(invitees: int, requests: int) -> None:
    import httpx

    from events_svc.app import create_app
    from events_svc.events import service as events
    from events_svc.events.schemas import EventCreate
    from events_svc.invitations import service as invitations
    from events_svc.invitations.schemas import InviteeIn
    from events_svc.organizers import service as organizers
    from events_svc.organizers import sessions
    from events_svc.orgs.tables import Organization
    from events_svc.settings import Settings

    settings = Settings.from_env()
    app = create_app(settings)
    async with app.lifespan():
        # counters another run left in this Redis database would refuse the bench's key
        stale = [k async for k in app.state.arq.scan_iter(match="events-svc:rl:*")]
        if stale:
            await app.state.arq.delete(*stale)
        org = await Organization.select(Organization.id, Organization.slug).first()
        assert org is not None
        event = await events.create_event(
            org_id=org["id"],
            org_slug=org["slug"],
            data=EventCreate(
                kind="forum",
                title="第二届社会工作本色与本土论坛",
                starts_at=datetime(2027, 6, 10, 14),
                ends_at=datetime(2027, 6, 10, 17),
                timezone="Asia/Shanghai",
                location="广州市越秀区",
            ),
            uid_host="bench.example.org",
        )
        started = time.perf_counter()
        await invitations.invite(
            org_id=org["id"],
            event_id=uuid.UUID(event.id),
            invitees=[
                InviteeIn(email=f"p{i}@invitee.example.org", name=f"参会者{i}")
                for i in range(invitees)
            ],
            message="",
            queue=None,  # no worker: the sends stay in progress, as the home page shows them
        )
        print(f"{invitees} invitees in {time.perf_counter() - started:.1f} s", flush=True)
        (admin,) = [
            o for o in await organizers.list_organizers(org_id=org["id"]) if o.role == "admin"
        ]
        cookie = await sessions.start(
            app.state.arq,
            organizer_id=admin.id,
            org_id=org["id"],
            idle=settings.console_session_idle,
            absolute=settings.console_session_absolute,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url=settings.public_base_url,
            cookies={"console_session": cookie},
        ) as client:
            e = event.id
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            await _measure(
                client,
                {
                    "event page": (f"/console/events/{e}", f"/events/{e}"),
                    "invitations page": (
                        f"/console/events/{e}/invitations",
                        f"/events/{e}/invitations?limit=50",
                    ),
                    "home page": ("/console", f"/events?from={now}&limit=10"),
                },
                (await _key(org["id"])),
                requests,
            )


async def _key(org_id: Any) -> str:
    from events_svc.orgs import service

    _row, key = await service.create_api_key(org_id=org_id, label="bench")
    return key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invitees", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    svc = services(BENCH_DB)
    try:
        os.environ.update(
            {
                "DATABASE_URL": svc.database_url,
                "REDIS_URL": svc.redis_url,
                "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-" + "x" * 40,
                "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            }
        )
        asyncio.run(run(args.invitees, args.requests))
    finally:
        svc.close()


if __name__ == "__main__":
    sys.exit(main())
