"""The send-rate token bucket's Lua script on real Redis: refill, burst, fair share, the
hour cap, the slots it reserves for what waits, and concurrent takers counting each token
once."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

from events_svc import sendrate


def capped(settings: Any, **kwargs: Any) -> Any:
    return dataclasses.replace(settings, **{"send_rate_per_second": 20.0, **kwargs})


async def test_burst_then_refill(app: Any, settings: Any) -> None:
    redis, s = app.state.arq, capped(settings, send_rate_burst=10)
    org = uuid.uuid4()
    first = await sendrate.take(redis, s, org, 25)
    assert first.granted == 10, "a full bucket gives its burst at once"
    assert first.active == 1
    # the other 15 are given a slot when 15 tokens will have accrued: 0.75 s at 20/s
    assert 0.6 <= first.wait <= 0.9
    empty = await sendrate.take(redis, s, org, 5)
    assert empty.granted == 0
    # ... and behind the 15 already waiting (another 0.25 s for these 5)
    assert empty.wait >= first.wait + 0.2
    await asyncio.sleep(0.3)
    refilled = await sendrate.take(redis, s, org, 100)
    assert 5 <= refilled.granted <= 8, "about 0.3 s x 20/s came back"


async def test_burst_defaults_to_one_second(app: Any, settings: Any) -> None:
    s = capped(settings, send_rate_per_second=7.5)
    assert sendrate.burst(s) == 8
    grant = await sendrate.take(app.state.arq, s, uuid.uuid4(), 50)
    assert grant.granted == 8


async def test_two_organizations_share_the_rate(app: Any, settings: Any) -> None:
    redis, s = app.state.arq, capped(settings, send_rate_burst=20)
    big, small = uuid.uuid4(), uuid.uuid4()
    assert (await sendrate.take(redis, s, big, 1000)).granted == 20  # alone: the whole burst
    await asyncio.sleep(0.5)  # 10 tokens come back
    grant = await sendrate.take(redis, s, small, 10)
    assert grant.active == 2
    # the small organization's own bucket holds half the burst, the global one the 10 tokens
    assert grant.granted == 10
    again = await sendrate.take(redis, s, big, 1000)
    assert again.granted == 0, "the global bucket is empty; the big one waits its turn"


async def test_concurrent_takers_never_exceed_the_bucket(app: Any, settings: Any) -> None:
    """Many takers at once (separate connections, as separate workers are): over one second
    they get the burst plus one second's refill, never more."""
    from redis.asyncio import Redis

    s = capped(settings, send_rate_per_second=50.0, send_rate_burst=50)
    clients = [Redis.from_url(settings.redis_url) for _ in range(8)]
    org = uuid.uuid4()
    granted = 0
    start = time.monotonic()
    try:
        while time.monotonic() - start < 1.0:
            grants = await asyncio.gather(*(sendrate.take(c, s, org, 3) for c in clients))
            granted += sum(g.granted for g in grants)
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - start
    finally:
        for c in clients:
            await c.aclose()
    assert granted <= 50 + 50 * elapsed + 1
    assert granted >= 50 + 50 * 0.8  # and the bucket is not stingy either


async def test_hour_cap(app: Any, settings: Any) -> None:
    s = dataclasses.replace(settings, send_rate_per_hour=30)
    assert s.send_capped
    org = uuid.uuid4()
    first = await sendrate.take(app.state.arq, s, org, 25)
    assert first.granted == 25 and first.wait == 0
    second = await sendrate.take(app.state.arq, s, org, 10)
    assert second.granted == 5
    assert 0 < second.wait <= 3600, "the rest waits for the next clock hour"


def test_eta_follows_the_cap(settings: Any) -> None:
    s = capped(settings)
    # 300 left at a share of 10/s: 30 s, whatever a burst made the last minute look like
    assert sendrate.eta_seconds(s, remaining=300, share=10.0, measured=40.0) == 30.0
    assert sendrate.eta_seconds(s, remaining=0, share=10.0, measured=0) == 0.0
    assert sendrate.eta_seconds(s, remaining=300, share=10.0, measured=0) == 30.0
    uncapped = dataclasses.replace(s, send_rate_per_second=0.0)
    assert sendrate.eta_seconds(uncapped, remaining=300, share=None, measured=0) is None
    hourly = dataclasses.replace(s, send_rate_per_hour=100)
    # 300 at 20/s would take 15 s, but 100 an hour makes it two more hours
    assert sendrate.eta_seconds(hourly, remaining=300, share=20.0, measured=0) == 7200.0
    assert sendrate.share_per_second(s, active=1, sharing=True) == 20.0
    assert sendrate.share_per_second(s, active=1, sharing=False) == 10.0
