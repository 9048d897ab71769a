"""Rate limits: failed credentials, RSVP links, inbound e-mail and certificate look-ups per
client address (kept in Redis, so they hold across API processes), and the per-organization
hourly cap on queued messages (which defers, never drops)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from events_svc.dev.embedded import free_port
from events_svc.invitations.tables import Invitation
from events_svc.notifications.tables import Notification
from events_svc.rsvp.tokens import make_token
from events_svc.settings import RateLimit, get_settings
from tests.conftest import ADMIN_TOKEN, INBOUND_TOKEN
from tests.helpers import auth, event_body
from tests.inbound_messages import apple_reply

BAD_KEY = "evs_0000000000_notarealkeynotarealkeynotarealkey"
RFC822 = {"Content-Type": "message/rfc822"}


def assert_429(resp: httpx.Response, window: int) -> None:
    assert resp.status_code == 429, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["type"] == "https://events-svc.dev/problems/too-many-requests"
    assert problem["status"] == 429
    assert 1 <= int(resp.headers["retry-after"]) <= window


@asynccontextmanager
async def api(
    app: Any,
    *,
    redis: ArqRedis | None = None,
    peer: str = "127.0.0.1",
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process with its own settings, on the suite's database (one engine per
    process) and on `redis` (by default the suite app's pool); requests come from `peer`."""
    from events_svc.app import create_app

    other = create_app(replace(app.state.settings, **settings))
    other.state.arq = redis if redis is not None else app.state.arq
    transport = httpx.ASGITransport(app=other, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://events.example.org") as c:
        yield c


async def _event(client: Any, key: str) -> dict[str, Any]:
    resp = await client.post("/events", json=event_body(), headers=auth(key))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


# --- failed credentials ------------------------------------------------------------------


async def test_default_limit_stops_a_burst_of_bad_api_keys(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    default = get_settings().rate_limit_auth_failures
    assert default is not None
    answers = [
        (await client.get("/orgs/me", headers=auth(BAD_KEY))).status_code
        for _ in range(default.count + 5)
    ]
    assert answers == [401] * default.count + [429] * 5
    # while blocked, even the right key is not looked at from this address: guessing stops
    resp = await client.get("/orgs/me", headers=auth(key))
    assert_429(resp, default.seconds)


async def test_below_the_limit_nothing_changes(app: Any, make_org: Any) -> None:
    _org, key = await make_org()
    async with api(app, rate_limit_auth_failures=RateLimit(5, 60)) as c:
        for _ in range(4):
            assert (await c.get("/orgs/me", headers=auth(BAD_KEY))).status_code == 401
        assert (await c.get("/orgs/me", headers=auth(key))).status_code == 200
        # a missing header is a failure too, and the fifth one is still a plain 401
        assert (await c.get("/orgs/me")).status_code == 401
        assert_429(await c.get("/orgs/me", headers=auth(BAD_KEY)), 60)
    # another address is not affected
    async with api(app, peer="192.0.2.9", rate_limit_auth_failures=RateLimit(5, 60)) as c:
        assert (await c.get("/orgs/me", headers=auth(key))).status_code == 200


async def test_admin_token_failures_are_limited(app: Any) -> None:
    body = {"slug": "gdswa", "name": "广东省社会工作师联合会", "email": "office@gdswa.example.org"}
    async with api(app, rate_limit_auth_failures=RateLimit(3, 60)) as c:
        for _ in range(3):
            resp = await c.post("/orgs", json=body, headers=auth("wrong-admin-token-000000"))
            assert resp.status_code == 401
        assert_429(await c.post("/orgs", json=body, headers=auth(ADMIN_TOKEN)), 60)
    async with api(app, peer="192.0.2.10", rate_limit_auth_failures=RateLimit(3, 60)) as c:
        assert (await c.post("/orgs", json=body, headers=auth(ADMIN_TOKEN))).status_code == 201


async def test_the_count_holds_across_two_api_processes(app: Any, settings: Any) -> None:
    """Two app instances with their own Redis pools: failures at either count together."""
    limit = RateLimit(4, 60)
    pool_b = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        async with (
            api(app, rate_limit_auth_failures=limit) as a,
            api(app, redis=pool_b, rate_limit_auth_failures=limit) as b,
        ):
            for c in (a, b, a, b):
                assert (await c.get("/orgs/me", headers=auth(BAD_KEY))).status_code == 401
            assert_429(await a.get("/orgs/me", headers=auth(BAD_KEY)), 60)
            assert_429(await b.get("/orgs/me", headers=auth(BAD_KEY)), 60)
    finally:
        await pool_b.aclose()


async def test_authenticated_bulk_traffic_never_meets_a_429(app: Any, make_org: Any) -> None:
    _org, key = await make_org()
    tight = RateLimit(1, 3600)
    async with api(
        app,
        rate_limit_auth_failures=tight,
        rate_limit_rsvp_address=tight,
        rate_limit_inbound=tight,
        rate_limit_certificates=tight,
    ) as c:
        for _ in range(100):
            resp = await c.post("/events", json=event_body(), headers=auth(key))
            assert resp.status_code == 201, resp.text
        event_id = resp.json()["id"]
        invitees = [{"email": f"member{i}@assoc.example.org"} for i in range(2000)]
        resp = await c.post(
            f"/events/{event_id}/invitations", json={"invitees": invitees}, headers=auth(key)
        )
        assert resp.status_code == 202 and resp.json() == {"invited": 2000, "already_invited": 0}
        for _ in range(100):
            assert (await c.get("/events", headers=auth(key))).status_code == 200


# --- trusted proxies ---------------------------------------------------------------------


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(app: Any) -> None:
    limit = RateLimit(2, 60)
    proxied = {"trusted_proxies": ("10.0.0.0/8",), "rate_limit_auth_failures": limit}
    async with api(app, peer="10.1.2.3", **proxied) as c:

        async def bad(forwarded: str) -> int:
            headers = {**auth(BAD_KEY), "X-Forwarded-For": forwarded}
            return (await c.get("/orgs/me", headers=headers)).status_code

        # the client wrote the left-most hop; the proxies appended the real addresses
        assert [await bad(f"198.51.100.{i}, 203.0.113.7, 10.0.0.1") for i in range(3)] == [
            401,
            401,
            429,
        ]
        assert await bad("203.0.113.8") == 401  # another client behind the same proxy
    # an untrusted peer's X-Forwarded-For is ignored: inventing addresses gains nothing
    async with api(app, peer="192.0.2.50", rate_limit_auth_failures=limit) as c:
        codes = [
            (
                await c.get(
                    "/orgs/me", headers={**auth(BAD_KEY), "X-Forwarded-For": f"203.0.113.{i}"}
                )
            ).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 429]


async def test_ipv6_clients_count_per_64(app: Any) -> None:
    limit = RateLimit(2, 60)
    for i, peer in enumerate(("2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:abcd::9")):
        async with api(app, peer=peer, rate_limit_auth_failures=limit) as c:
            resp = await c.get("/orgs/me", headers=auth(BAD_KEY))
            assert resp.status_code == (401 if i < 2 else 429)
    async with api(app, peer="2001:db8:1:3::1", rate_limit_auth_failures=limit) as c:
        assert (await c.get("/orgs/me", headers=auth(BAD_KEY))).status_code == 401


# --- anonymous routes --------------------------------------------------------------------


async def test_rsvp_posts_are_limited_per_link(app: Any, client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    event = await _event(client, key)
    emails = ["zhang.san@example.org", "li.si@example.org"]
    resp = await client.post(
        f"/events/{event['id']}/invitations",
        json={"invitees": [{"email": e} for e in emails]},
        headers=auth(key),
    )
    assert resp.status_code == 202
    secret = app.state.settings.secret_key
    tokens = [
        make_token(secret, row["id"], row["generation"])
        for row in await Invitation.select(Invitation.id, Invitation.generation)
    ]
    async with api(app, rate_limit_rsvp_token=RateLimit(3, 3600)) as c:
        for answer in ("accepted", "declined", "tentative"):
            resp = await c.post(f"/rsvp/{tokens[0]}", json={"response": answer})
            assert resp.status_code == 200, resp.text
        assert_429(await c.post(f"/rsvp/{tokens[0]}", json={"response": "accepted"}), 3600)
        # the page still opens, and the other link is untouched
        assert (await c.get(f"/rsvp/{tokens[0]}")).status_code == 200
        resp = await c.post(f"/rsvp/{tokens[1]}", json={"response": "accepted"})
        assert resp.status_code == 200
    answers = await Invitation.select(Invitation.rsvp).where(Invitation.rsvp == "tentative")
    assert len(answers) == 1  # the refused answer changed nothing


async def test_bad_rsvp_links_are_limited_per_address(app: Any) -> None:
    forged = "A" * 48
    async with api(app, rate_limit_rsvp_address=RateLimit(4, 600)) as c:
        codes = [(await c.get(f"/rsvp/{forged}{i}")).status_code for i in range(2)]
        codes += [
            (await c.post(f"/rsvp/{forged}{i}", json={"response": "accepted"})).status_code
            for i in range(2)
        ]
        assert codes == [404] * 4
        assert_429(await c.get(f"/rsvp/{forged}x"), 600)
        assert_429(await c.post(f"/rsvp/{forged}x", json={"response": "accepted"}), 600)
    async with api(app, peer="192.0.2.77", rate_limit_rsvp_address=RateLimit(4, 600)) as c:
        assert (await c.get(f"/rsvp/{forged}")).status_code == 404


async def test_certificate_lookups_are_limited_per_address(app: Any) -> None:
    async with api(app, rate_limit_certificates=RateLimit(3, 60)) as c:
        for i in range(3):
            assert (await c.get(f"/certificates/nosuchcode{i}")).status_code == 404
        assert_429(await c.get("/certificates/nosuchcode9"), 60)
    async with api(app, peer="192.0.2.78", rate_limit_certificates=RateLimit(3, 60)) as c:
        assert (await c.get("/certificates/nosuchcode9")).status_code == 404


async def test_inbound_is_limited_per_address_and_bad_tokens_count_as_failures(
    app: Any,
) -> None:
    raw = apple_reply(uid="no-such-event@example.org", attendee="wang.wu@example.org")
    good = {"Authorization": f"Bearer {INBOUND_TOKEN}", **RFC822}
    bad = {"Authorization": "Bearer not-the-inbound-token-at-all", **RFC822}
    async with api(app, rate_limit_inbound=RateLimit(3, 60)) as c:
        for _ in range(3):
            resp = await c.post("/inbound/email", content=raw, headers=good)
            assert resp.status_code == 200, resp.text
        assert_429(await c.post("/inbound/email", content=raw, headers=good), 60)
    async with api(app, peer="192.0.2.79", rate_limit_auth_failures=RateLimit(2, 60)) as c:
        for _ in range(2):
            assert (await c.post("/inbound/email", content=raw, headers=bad)).status_code == 401
        assert_429(await c.post("/inbound/email", content=raw, headers=bad), 60)
        assert_429(await c.post("/inbound/email", content=raw, headers=good), 60)


# --- Redis down --------------------------------------------------------------------------


async def test_redis_down_lets_requests_through(
    app: Any, client: Any, make_org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _org, key = await make_org()
    dead = ArqRedis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    started = time.monotonic()
    try:
        async with api(app, redis=dead, rate_limit_auth_failures=RateLimit(1, 60)) as c:
            # making an app configures logging afresh, taking caplog's handler off the root
            logging.getLogger("events_svc.ratelimit").addHandler(caplog.handler)
            with caplog.at_level(logging.WARNING, logger="events_svc.ratelimit"):
                for _ in range(3):
                    assert (await c.get("/orgs/me", headers=auth(BAD_KEY))).status_code == 401
                assert (await c.get("/orgs/me", headers=auth(key))).status_code == 200
                assert (await c.get("/certificates/nosuchcode")).status_code == 404
                assert (await c.get(f"/rsvp/{'A' * 48}")).status_code == 404
                resp = await c.post(f"/rsvp/{'A' * 48}", json={"response": "accepted"})
                assert resp.status_code == 404
                resp = await c.post("/events", json=event_body(), headers=auth(key))
                assert resp.status_code == 201
    finally:
        logging.getLogger("events_svc.ratelimit").removeHandler(caplog.handler)
        await dead.aclose()
    assert time.monotonic() - started < 10
    # logged once for the outage, not once per request
    # (one record may reach caplog's handler twice: here and, propagated, on the root logger,
    # which the app's logging config leaves alone since LOG_FORMAT)
    warnings = {id(r) for r in caplog.records if "Redis is unreachable" in r.getMessage()}
    assert len(warnings) == 1


# --- the hourly cap per organization -----------------------------------------------------


@pytest.fixture
def cap_of_five(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RATE_LIMIT_ORG_MESSAGES_PER_HOUR", "5")
    get_settings.cache_clear()
    yield 5
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_hourly_cap_defers_the_rest_and_drops_nothing(
    client: Any, make_org: Any, smtp: Any, worker: Any, cap_of_five: int
) -> None:
    _org, key = await make_org()
    event = await _event(client, key)
    emails = [f"member{i}@assoc.example.org" for i in range(12)]
    resp = await client.post(
        f"/events/{event['id']}/invitations",
        json={"invitees": [{"email": e} for e in emails]},
        headers=auth(key),
    )
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["invited"], body["already_invited"], body["deferred"]) == (12, 0, 7)

    rows = await Notification.select(Notification.next_attempt_at).where(
        Notification.kind == "invitation"
    )
    assert len(rows) == 12  # every invitation is a row: nothing dropped
    times = sorted(r["next_attempt_at"] for r in rows)
    hour = times[0].replace(minute=0, second=0, microsecond=0)
    later = [hour + timedelta(hours=1)] * 5 + [hour + timedelta(hours=2)] * 2
    assert times[5:] == later
    assert datetime.fromisoformat(body["deferred_until"]) == later[-1]

    await worker.drain()
    assert len(smtp.received) == 5  # this hour's share went out, the rest waits

    # a change to the event queues updates for all twelve: none in an hour already full
    resp = await client.patch(
        f"/events/{event['id']}", json={"location": "深圳市福田区"}, headers=auth(key)
    )
    assert resp.status_code == 200, resp.text
    rows = await Notification.select(Notification.kind, Notification.next_attempt_at).where(
        Notification.kind != "reminder"
    )
    assert sorted(r["kind"] for r in rows) == ["invitation"] * 12 + ["update"] * 12
    per_hour: dict[datetime, int] = {}
    for r in rows:
        slot = r["next_attempt_at"].replace(minute=0, second=0, microsecond=0)
        per_hour[slot] = per_hour.get(slot, 0) + 1
    assert max(per_hour.values()) <= 5, per_hour

    # when their hour comes, the deferred rows are sent like any other
    now = datetime.now(UTC)
    await Notification.update({Notification.next_attempt_at: now - timedelta(minutes=5)}).where(
        Notification.kind == "invitation", Notification.status == "queued"
    )
    await worker.drain()  # what is due now runs first (the sweep waits while the queue has work)
    await worker.sweep()
    await worker.drain()
    assert sorted(a for m in smtp.received for a in m.recipients) == sorted(emails)


async def test_reminders_do_not_count_toward_the_cap(
    client: Any, make_org: Any, cap_of_five: int
) -> None:
    _org, key = await make_org()
    resp = await client.post(
        "/events", json=event_body(reminders=[{"before": "P1D"}]), headers=auth(key)
    )
    event = resp.json()
    resp = await client.post(
        f"/events/{event['id']}/invitations",
        json={"invitees": [{"email": f"p{i}@example.org"} for i in range(5)]},
        headers=auth(key),
    )
    assert resp.json() == {"invited": 5, "already_invited": 0}
    assert await Notification.count().where(Notification.kind == "reminder") == 5
