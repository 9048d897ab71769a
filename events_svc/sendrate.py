"""The send rate the SMTP relay allows: a token bucket in Redis shared by every worker, split
fairly between the organizations that have mail waiting (SEND_RATE_PER_SECOND, _BURST,
_PER_HOUR, _PER_DAY).

Design, and why:

* **One atomic Lua script per take** (`take`): refill, fair share, the hour/day counters and
  the grant happen in one round trip, with Redis' own clock (`TIME`), so any number of
  workers on any machines count every token once.
* **Fair share: per-organization buckets at the global rate divided by the organizations
  active in the last `ACTIVE_WINDOW` seconds**, beside the global bucket (a token must come
  out of both). An organization is active while its jobs ask for tokens; a 400,000-person
  send and a 20-person send of another organization each get half the rate, so the small one
  finishes in seconds whatever the big one's backlog. Chosen over deficit round robin, which
  needs one queue per organization that every worker reads in turn (a scheduler beside arq's
  queue); here the arq queue stays as it is and fairness is one more hash per organization.
  The price: a share is reserved for an organization for up to `ACTIVE_WINDOW` after its
  last take, so for that long the others may get a little less than the whole rate.
* **Who waits does not spin**: a job that gets fewer tokens than it has rows claims only the
  granted ones and gives the rest back as a job deferred to a slot the script reserves
  (`wait`). Each organization keeps a pointer, its next free slot, advanced by the deferred
  rows at the global rate: its deferred jobs come back spread out, at the pace the bucket
  could serve them alone, instead of all at once. When the rate is shared, what comes back
  while the share is used up is deferred again behind the pointer (at most about the rate in
  jobs per second, never a loop); when it stops being shared nothing was scheduled too late.
* **Hour and day caps** are counters per clock hour / UTC day in the same script; what they
  refuse waits for the next window (with a per-second cap too, spread out at that rate; with
  only an hour or day cap, every waiting job comes back at the window's start and what the
  window cannot take waits again: one wake-up per job and window).
* **Nothing is claimed ahead of tokens**, so no claimed row waits past its lease, and a job
  of one organization never blocks another's.
* **Redis away** is what it is everywhere else in the workers: a job already in hand goes on
  as without a cap (logged; at most the few jobs a worker holds, as arq takes no new job
  while Redis is away), and a Redis restart loses the buckets, which start full again: the
  rows themselves are in PostgreSQL and the recovery that re-enqueues them goes through the
  bucket like any job.

With no cap set nothing here is called: the sender asks Redis nothing more than before.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from events_svc.settings import Settings

log = logging.getLogger("events_svc.sendrate")

PREFIX = "events-svc:send-rate:"
GLOBAL_KEY = PREFIX + "global"
#: sorted set: organization id -> Redis time of its last take
ACTIVE_KEY = PREFIX + "active"
#: an organization counts for the fair share this long after it last asked for tokens
ACTIVE_WINDOW = 3.0

# KEYS: global hash, org hash, active zset, hour counter, day counter
# ARGV: org, wanted, rate/s (0: none), burst, window, hour cap, seconds to the hour's end,
#       day cap, seconds to the day's end
# Returns {granted, wait (s, as a string), active organizations}.
_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local org = ARGV[1]
local want = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local hour_cap = tonumber(ARGV[6])
local hour_left = tonumber(ARGV[7])
local day_cap = tonumber(ARGV[8])
local day_left = tonumber(ARGV[9])

redis.call('ZADD', KEYS[3], now, org)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('EXPIRE', KEYS[3], math.ceil(window) + 1)
local active = redis.call('ZCARD', KEYS[3])

local grant = want
local ready = now
local share = rate
local g_tokens, o_tokens
if rate > 0 then
  share = rate / active
  local share_burst = math.max(1, burst / active)
  local g = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
  g_tokens = tonumber(g[1]) or burst
  local g_ts = tonumber(g[2]) or now
  g_tokens = math.min(burst, g_tokens + math.max(0, now - g_ts) * rate)
  local o = redis.call('HMGET', KEYS[2], 'tokens', 'ts')
  o_tokens = tonumber(o[1]) or share_burst
  local o_ts = tonumber(o[2]) or now
  o_tokens = math.min(share_burst, o_tokens + math.max(0, now - o_ts) * share)
  grant = math.max(0, math.min(grant, math.floor(g_tokens), math.floor(o_tokens)))
end
if hour_cap > 0 then
  local used = tonumber(redis.call('GET', KEYS[4]) or '0')
  if used + grant > hour_cap then
    grant = math.max(0, hour_cap - used)
    ready = math.max(ready, now + hour_left)
  end
end
if day_cap > 0 then
  local used = tonumber(redis.call('GET', KEYS[5]) or '0')
  if used + grant > day_cap then
    grant = math.max(0, day_cap - used)
    ready = math.max(ready, now + day_left)
  end
end
local rest = want - grant
if rate > 0 then
  g_tokens = g_tokens - grant
  o_tokens = o_tokens - grant
  if rest > 0 then
    -- when the bucket (and this organization's share) will have tokens for all the rest
    ready = math.max(ready, now + math.max(0, (rest - g_tokens) / rate, (rest - o_tokens) / share))
  end
  redis.call('HSET', KEYS[1], 'tokens', g_tokens, 'ts', now)
  redis.call('EXPIRE', KEYS[1], 3600)
  redis.call('HSET', KEYS[2], 'tokens', o_tokens, 'ts', now)
end
local wait = 0
if rest > 0 then
  -- the rest comes back behind the rows already sent away to wait: each organization's
  -- waiting jobs are spread out at the whole rate (what it would get alone)
  local after = tonumber(redis.call('HGET', KEYS[2], 'next') or '0') or 0
  local slot = math.max(ready, after)
  if rate > 0 then slot = math.max(ready, after + rest / rate) end
  redis.call('HSET', KEYS[2], 'next', slot)
  wait = slot - now
end
redis.call('EXPIRE', KEYS[2], math.ceil(math.max(60, wait + 60 + rest / math.max(rate, 1))))
if grant > 0 then
  if hour_cap > 0 then
    redis.call('INCRBY', KEYS[4], grant)
    redis.call('EXPIRE', KEYS[4], math.ceil(hour_left) + 60)
  end
  if day_cap > 0 then
    redis.call('INCRBY', KEYS[5], grant)
    redis.call('EXPIRE', KEYS[5], math.ceil(day_left) + 60)
  end
end
return {grant, tostring(wait), active}
"""


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int  #: rows that may be claimed and sent now
    wait: float  #: seconds until the slot reserved for the rest (0 when all were granted)
    active: int  #: organizations sharing the rate now (this one included)


def burst(settings: Settings) -> int:
    """The bucket's size: SEND_RATE_BURST, or one second's worth (at least one message)."""
    return settings.send_rate_burst or max(1, math.ceil(settings.send_rate_per_second))


def _windows(now: float) -> tuple[str, float, str, float]:
    hour = int(now // 3600)
    day = int(now // 86400)
    return (
        f"{PREFIX}hour:{hour}",
        (hour + 1) * 3600 - now,
        f"{PREFIX}day:{day}",
        (day + 1) * 86400 - now,
    )


async def take(redis: Any, settings: Settings, org: uuid.UUID | str, want: int) -> Grant:
    """Take up to `want` tokens for one organization's rows; raises what Redis raises."""
    hour_key, hour_left, day_key, day_left = _windows(time.time())
    raw = await redis.eval(
        _TAKE_LUA,
        5,
        GLOBAL_KEY,
        f"{PREFIX}org:{org}",
        ACTIVE_KEY,
        hour_key,
        day_key,
        str(org),
        want,
        repr(float(settings.send_rate_per_second)),
        burst(settings),
        repr(ACTIVE_WINDOW),
        settings.send_rate_per_hour,
        repr(hour_left),
        settings.send_rate_per_day,
        repr(day_left),
    )
    granted, wait, active = raw
    return Grant(granted=int(granted), wait=float(wait), active=int(active))


async def org_share(redis: Any, settings: Settings, org: uuid.UUID | str) -> float | None:
    """The per-second rate one organization's mail goes out at now under the cap (the
    global rate over the organizations sharing it, this one counted); None without a
    per-second cap. For progress: Redis away, or no Redis, counts this one alone."""
    if settings.send_rate_per_second <= 0:
        return None
    names: set[str] = set()
    if redis is not None:
        try:
            raw = await redis.zrangebyscore(ACTIVE_KEY, time.time() - ACTIVE_WINDOW, "+inf")
            names = {n.decode() if isinstance(n, bytes) else str(n) for n in raw}
        except Exception:  # noqa: BLE001 - an estimate: Redis away means "alone"
            names = set()
    return share_per_second(settings, active=len(names), sharing=str(org) in names)


def share_per_second(settings: Settings, *, active: int, sharing: bool) -> float | None:
    """The rate one organization's mail goes out at under the cap: the global rate divided
    by the organizations sharing it (`active`; plus this one when `sharing` says it is not
    counted yet); None without a per-second cap."""
    if settings.send_rate_per_second <= 0:
        return None
    return settings.send_rate_per_second / max(1, active + (0 if sharing else 1))


def eta_seconds(
    settings: Settings, *, remaining: int, share: float | None, measured: float
) -> float | None:
    """Seconds until `remaining` messages are out: at the cap's share when capped (never
    faster than the cap allows, whatever the last minute's pace), else at the measured rate;
    with hour/day caps, whole windows are added for what they cannot take."""
    if remaining <= 0:
        return 0.0
    # Under a per-second cap the share is the pace: the last minute's measure lags (a send
    # that began 10 s ago looks six times slower than it is) and a burst looks faster.
    rate = share if share is not None else (measured if measured > 0 else None)
    if rate is None:
        if settings.send_rate_per_hour:
            rate = settings.send_rate_per_hour / 3600
        elif settings.send_rate_per_day:
            rate = settings.send_rate_per_day / 86400
        else:
            return None
    seconds = remaining / rate
    if settings.send_rate_per_hour:
        seconds = max(seconds, (math.ceil(remaining / settings.send_rate_per_hour) - 1) * 3600.0)
    if settings.send_rate_per_day:
        seconds = max(seconds, (math.ceil(remaining / settings.send_rate_per_day) - 1) * 86400.0)
    return round(seconds, 1)
