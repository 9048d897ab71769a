"""Run an `events-svc` command counting its PostgreSQL statements and Redis round trips.

    python bench/tripcount.py OUT.json worker

counts every statement asyncpg sends (BEGIN/COMMIT included) and every Redis round trip
(a pipeline is one) and command, and writes the totals so far to OUT.json on SIGUSR2 (and
when the process exits). bench/fanout.py --trips divides them by the messages sent: a figure that
does not depend on how busy the machine is.
"""

from __future__ import annotations

import atexit
import json
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COUNTS: dict[str, int] = {"pg_statements": 0, "redis_round_trips": 0, "redis_commands": 0}


def _patch() -> None:
    import asyncpg.connection
    from redis.asyncio.connection import AbstractConnection

    conn = asyncpg.connection.Connection
    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval"):
        original = getattr(conn, name)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            COUNTS["pg_statements"] += 1
            return _original(*args, **kwargs)

        setattr(conn, name, counted)

    send = AbstractConnection.send_packed_command

    async def send_counted(self: Any, command: Any, check_health: bool = True) -> None:
        COUNTS["redis_round_trips"] += 1
        await send(self, command, check_health)

    AbstractConnection.send_packed_command = send_counted  # type: ignore[method-assign]
    read = AbstractConnection.read_response

    async def read_counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        COUNTS["redis_commands"] += 1
        return await read(self, *args, **kwargs)

    AbstractConnection.read_response = read_counted  # type: ignore[method-assign]
    pack = AbstractConnection.pack_command

    def pack_counted(self: Any, *args: Any) -> Any:
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        name = f"redis {name.split()[0].upper()}"
        COUNTS[name] = COUNTS.get(name, 0) + 1
        return pack(self, *args)

    AbstractConnection.pack_command = pack_counted  # type: ignore[method-assign]


def main() -> int:
    out = Path(sys.argv[1])
    _patch()

    def write() -> None:
        out.write_text(json.dumps(COUNTS))

    atexit.register(write)
    signal.signal(signal.SIGUSR2, lambda _signum, _frame: write())
    from events_svc.cli import main as cli

    return cli(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
