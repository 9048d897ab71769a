"""Rate limits kept in Redis (so they hold across API processes), and the client address.

One fixed-window counter per (limit, subject): INCR and the window's expiry happen in one Lua
script, so concurrent requests in any process count exactly once each. Subjects (addresses,
RSVP tokens) are stored hashed: a capability never lands in Redis in the clear. When Redis
cannot be reached the limiter lets requests through for a few seconds (and logs it) instead
of failing the request: the limits protect the service, they are not what it is for.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, TypeVar

from litestar import Litestar, Request
from redis.asyncio import Redis

from events_svc.errors import TooManyRequests, Unauthorized
from events_svc.settings import RateLimit, Settings

log = logging.getLogger("events_svc.ratelimit")

#: after a Redis error, the limiter lets everything through this long before trying again
FAIL_OPEN_SECONDS = 5.0
#: a limiter call taking longer than this counts as Redis being unreachable
REDIS_TIMEOUT = 1.0
KEY_PREFIX = "events-svc:rl:"
#: the limit on failed credential checks, shared by API keys, ADMIN_TOKEN and INBOUND_TOKEN
AUTH = "auth-failures"

T = TypeVar("T")

# INCR, and start the window on the first hit (or when a key lost its expiry somehow):
# returns the count in this window and the milliseconds left in it.
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


#: how long an address seen with no hits is not asked about again (seconds), and how many
#: such addresses one process remembers
CLEAN_FOR = 1.0
CLEAN_KEYS = 10_000


class RateLimiter:
    """Counts hits per (limit name, subject) in Redis; raises TooManyRequests over a limit."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._hit = redis.register_script(_HIT_LUA)
        self._open_until = 0.0  # monotonic instant until which Redis is not asked
        #: key -> monotonic instant until which it is known to have no hits at all: an
        #: organization's ordinary traffic asks Redis once a second per address, not per
        #: request (failures elsewhere show here within CLEAN_FOR seconds)
        self._clean: dict[str, float] = {}
        self._refreshing: set[str] = set()  #: keys being asked about beside a request
        self._tasks: set[asyncio.Task[None]] = set()  #: those asks (held: not collected)

    @staticmethod
    @lru_cache(maxsize=4096)  # the same few addresses ask on every request
    def _key(name: str, subject: str) -> str:
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{KEY_PREFIX}{name}:{digest}"

    def _refuse(self, name: str, limit: RateLimit, ttl_ms: int) -> TooManyRequests:
        retry_after = -(-max(ttl_ms, 0) // 1000) or 1  # whole seconds, rounded up
        return TooManyRequests(
            f"too many requests ({name}): at most {limit.count} per {limit.seconds} s;"
            f" try again in {retry_after} s",
            retry_after=retry_after,
        )

    async def hit(self, name: str, subject: str, limit: RateLimit | None) -> None:
        """Count one request; raise TooManyRequests when it goes over the limit."""
        if limit is None or self._skipping():
            return
        key = self._key(name, subject)
        self._clean.pop(key, None)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                count, ttl = await self._hit(keys=[key], args=[limit.seconds * 1000])
        except Exception as exc:  # noqa: BLE001 - redis' own errors, OSError, timeouts
            self._fail_open(exc)
            return
        if int(count) > limit.count:
            raise self._refuse(name, limit, int(ttl))

    async def check(self, name: str, subject: str, limit: RateLimit | None) -> None:
        """Raise TooManyRequests when the limit is already used up; counts nothing."""
        if limit is None:
            return
        now = time.monotonic()
        if now < self._open_until:
            return  # Redis failed a moment ago: not asked for a while
        key = self._key(name, subject)
        clean_until = self._clean.get(key, 0.0)
        if clean_until > now:
            return
        if now - clean_until < CLEAN_FOR:
            # clean a moment ago: answer from memory and ask Redis beside the request, so
            # that a slow Redis (or one ask per second) never holds up a busy client's
            # requests; a count that shows up is obeyed from the answer on
            if key not in self._refreshing:
                self._refreshing.add(key)
                task = asyncio.create_task(self._refresh(key, limit))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return
        count, ttl = await self._read(key)
        if count is not None and int(count) >= limit.count:
            raise self._refuse(name, limit, int(ttl))

    async def _read(self, key: str) -> tuple[Any, Any]:
        """The key's count and milliseconds left (None, None when Redis is away); notes a key
        without hits as clean for CLEAN_FOR seconds."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(key)
                    pipe.pttl(key)
                    count, ttl = await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - redis' own errors, OSError, timeouts
            self._fail_open(exc)
            return None, None
        if count is None:
            if len(self._clean) > CLEAN_KEYS:
                self._clean.clear()
            self._clean[key] = time.monotonic() + CLEAN_FOR
        else:
            self._clean.pop(key, None)  # hits counted: every request asks until they expire
        return count, ttl

    async def _refresh(self, key: str, limit: RateLimit) -> None:
        try:
            await self._read(key)
        finally:
            self._refreshing.discard(key)

    def _skipping(self) -> bool:
        return time.monotonic() < self._open_until

    def _fail_open(self, exc: BaseException) -> None:
        self._open_until = time.monotonic() + FAIL_OPEN_SECONDS
        log.warning(
            "rate limits off for %.0f s: Redis is unreachable (%s: %s)",
            FAIL_OPEN_SECONDS,
            type(exc).__name__,
            exc,
        )


def limiter_of(app: Litestar) -> RateLimiter | None:
    """The app's limiter on its arq pool (`app.state.arq`), made on first use; None before
    the lifespan made the pool (nothing to count in)."""
    redis = app.state.get("arq")
    if redis is None:
        return None
    limiter: RateLimiter | None = app.state.get("rate_limiter")
    if limiter is None or limiter._redis is not redis:
        limiter = app.state.rate_limiter = RateLimiter(redis)
    return limiter


@lru_cache(maxsize=8)
def _networks(
    trusted: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net) for net in trusted)


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's address: the connection's peer, or, when that peer is a trusted proxy,
    the right-most X-Forwarded-For hop that is not one (hops further left are whatever the
    client wrote). IPv6 clients count per /64, the block one subscriber usually holds."""
    settings: Settings = request.app.state.settings
    client = request.scope.get("client")
    address = client[0] if client else ""
    if settings.trusted_proxies and _trusted(address, settings.trusted_proxies):
        hops = [
            hop.strip()
            for value in request.headers.getall("x-forwarded-for", [])
            for hop in value.split(",")
        ]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # garbage where a proxy should have written an address: stop here
            address = hop
            if not _trusted(hop, settings.trusted_proxies):
                break
    return _subject(address)


@lru_cache(maxsize=4096)  # parsed once per address, not on every request
def _subject(address: str) -> str:
    """What a client address counts as: the address itself, an IPv6 one by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


async def hit(
    request: Request[Any, Any, Any], name: str, limit: RateLimit | None, subject: str | None = None
) -> None:
    """Count one request of this client address (or of `subject`) against `limit`."""
    limiter = limiter_of(request.app)
    if limiter is not None:
        await limiter.hit(name, client_address(request) if subject is None else subject, limit)


async def check(request: Request[Any, Any, Any], name: str, limit: RateLimit | None) -> None:
    """Refuse this client address when `limit` is used up, counting nothing."""
    limiter = limiter_of(request.app)
    if limiter is not None:
        await limiter.check(name, client_address(request), limit)


async def guard_credentials(
    request: Request[Any, Any, Any], verify: Callable[[], Awaitable[T]]
) -> T:
    """Run a credential check unless this address has failed too often (then 429, without
    looking at the credential, so guessing stops paying); count it when it fails."""
    limit = request.app.state.settings.rate_limit_auth_failures
    await check(request, AUTH, limit)
    try:
        return await verify()
    except Unauthorized:
        await hit(request, AUTH, limit)  # the failure that goes over the limit is a 429
        raise
