"""Which failures mean "PostgreSQL or Redis is away for now" (answer 503, retry, keep the
outcome) rather than a bug; one list for the API and the workers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import redis.exceptions

log = logging.getLogger("events_svc.outages")

T = TypeVar("T")

#: what asyncpg raises when the server is down, restarting, frozen past the command timeout
#: or has dropped the connection (OSError: refused or reset while connecting)
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08: connection exceptions
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P03 starting up
    OSError,
    TimeoutError,
)
#: what redis-py raises while Redis restarts, fails over or is frozen
_REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    OSError,
    TimeoutError,
)


#: every class an outage can show up as (each is still checked with `unavailable`)
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    *_DATABASE_ERRORS,
    *_REDIS_ERRORS,
    asyncpg.InterfaceError,
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says PostgreSQL cannot be reached now (not that a query was wrong)."""
    if isinstance(exc, _DATABASE_ERRORS):
        return True
    # asyncpg's client-side errors are mostly misuse (a bug); these few mean a lost connection
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def redis_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, _REDIS_ERRORS)


def unavailable(exc: BaseException) -> bool:
    """PostgreSQL or Redis is away: a 503 for the API, a wait for a worker."""
    return database_unavailable(exc) or redis_unavailable(exc)


async def while_unavailable(
    call: Callable[[], Awaitable[T]], *, give_up_after: float, what: str
) -> T:
    """Run `call`, and again with backoff (0.2 s doubling to 2 s) while the database or Redis
    is away, for at most `give_up_after` seconds; then the last error is raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    delay = 0.2
    while True:
        try:
            return await call()
        except Exception as exc:
            if not unavailable(exc) or loop.time() + delay > deadline:
                raise
            log.warning("%s: %s unavailable (%s); again in %.1f s", what, _name(exc), exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def _name(exc: BaseException) -> str:
    return "Redis" if isinstance(exc, redis.exceptions.RedisError) else "the database"
