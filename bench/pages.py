"""Benchmark: the console's pages against the JSON API for the same data, in one run.

An event with 10,000 invitees (their invitations queued, as right after sending); then, for
each pair, many sequential requests through the app (in process, over ASGI, real PostgreSQL
and Redis), alternating page and API, and the p50 of each:

    event page        /console/events/<id>              vs /events/<id>
    invitations page  /console/events/<id>/invitations  vs /events/<id>/invitations?limit=50
    home page         /console                          vs /events?from=<now>&limit=10

    public event page /e/<id>                           vs /events/<id>
    org page          /o/<slug>                         vs /events/<id>

The API is the baseline; the target is a ratio of at most 2.

Then self-registration under load: 200 people register for an event of capacity 150 and
confirm, all at once (each its own browser: the page, the form, the confirmation link);
exactly 150 must hold a place and 50 wait, and the run prints the throughput.

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
    import dataclasses

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

    # the registration burst comes from one address: its per-address limits would stop it
    settings = dataclasses.replace(
        Settings.from_env(),
        rate_limit_registration_address=None,
        rate_limit_registration_email=None,
    )
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
                    "public event page": (f"/e/{e}", f"/events/{e}"),
                    "org page": (f"/o/{org['slug']}", f"/events/{e}"),
                },
                (await _key(org["id"])),
                requests,
            )
        await _registrations(app, settings, org, people=200, capacity=150)


async def _registrations(
    app: Any, settings: Any, org: dict[str, Any], *, people: int, capacity: int
) -> None:
    """`people` register and confirm at once for `capacity` places, through the pages."""
    import re

    import httpx

    from events_svc.events import service as events
    from events_svc.events.schemas import EventCreate
    from events_svc.registration.service import confirm_token
    from events_svc.registration.tables import Registration

    event = await events.create_event(
        org_id=org["id"],
        org_slug=org["slug"],
        data=EventCreate(
            kind="training",
            title="督导实务公开课",
            starts_at=datetime(2027, 7, 1, 9),
            ends_at=datetime(2027, 7, 1, 17),
            timezone="Asia/Shanghai",
            capacity=capacity,
            registration="open",
        ),
        uid_host="bench.example.org",
    )
    e = event.id
    transport = httpx.ASGITransport(app=app)
    csrf_re = re.compile(r'name="_csrf" value="([^"]+)"')

    async def one(i: int) -> str:
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url) as c:
            page = await c.get(f"/e/{e}")
            csrf = csrf_re.search(page.text).group(1)  # type: ignore[union-attr]
            email = f"r{i}@agency.example.org"
            done = await c.post(
                f"/e/{e}/register", data={"_csrf": csrf, "email": email, "name": f"社工{i}"}
            )
            assert 'data-outcome="sent"' in done.text, done.text[:300]
            rows = await Registration.raw(
                "SELECT r.id FROM registration r JOIN person p ON p.id = r.person"
                " WHERE r.event = {} AND p.email = {}",
                uuid.UUID(e),
                email,
            )
            token = confirm_token(settings.secret_key, rows[0]["id"])
            answer = await c.post(f"/register/confirm/{token}")
            return re.search(r'data-outcome="(\w+)"', answer.text).group(1)  # type: ignore[union-attr]

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(i) for i in range(people)))
    took = time.perf_counter() - started
    held = await Registration.raw(
        "SELECT count(*) FILTER (WHERE waitlisted_at IS NULL) AS held,"
        " count(*) FILTER (WHERE waitlisted_at IS NOT NULL) AS waiting"
        " FROM invitation WHERE event = {} AND rsvp = 'accepted' AND source = 'registration'",
        uuid.UUID(e),
    )
    confirmed, waitlisted = outcomes.count("confirmed"), outcomes.count("waitlisted")
    print(
        f"registrations: {people} registered and confirmed at once for {capacity} places in"
        f" {took:.2f} s ({people / took:.0f} people/s, {2 * people / took:.0f} requests/s"
        f" besides the pages); {confirmed} confirmed, {waitlisted} waitlisted; in the table:"
        f" {held[0]['held']} holding a place, {held[0]['waiting']} waiting",
        flush=True,
    )
    assert (confirmed, waitlisted) == (capacity, people - capacity), outcomes
    assert (held[0]["held"], held[0]["waiting"]) == (capacity, people - capacity)


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
