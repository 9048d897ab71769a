"""The database connection: Piccolo's engine settings, its pool, and applying migrations."""

from __future__ import annotations

from typing import Any

import asyncpg

from events_svc.piccolo_conf import DB
from events_svc.settings import Settings


def configure_database(settings: Settings) -> None:
    """Point Piccolo's engine at DATABASE_URL (settings are the one source of truth)."""
    DB.config["dsn"] = settings.database_url


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Run on each release to the pool instead of asyncpg's default reset.

    The default sends `RESET ALL; UNLISTEN *; ...` on every release, a round trip per query;
    the service keeps no session state, so only an unfinished transaction needs undoing.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def start_database_pool(
    *, max_size: int, connect_timeout: float, command_timeout: float
) -> None:
    """Piccolo's pool, with a connect timeout (asyncpg waits 60 s by default) and a statement
    timeout (a frozen server would hang a query for ever)."""
    await DB.start_connection_pool(
        min_size=1,
        max_size=max_size,
        reset=_reset_connection,
        timeout=connect_timeout,
        command_timeout=command_timeout,
    )


async def migrate(database_url: str) -> None:
    """Apply every Piccolo migration not applied yet."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    DB.config["dsn"] = database_url
    result = await run_forwards(app_name="events_svc", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    """One statement with `$n` placeholders, on the current Piccolo transaction's connection
    or else the pool (or a connection of its own when no pool runs), as asyncpg Records.

    For the per-request hot paths: the same as `Table.raw` without its query-string parsing
    and its conversion of each row to a dict, which cost more CPU than the round trip."""
    transaction = DB.current_transaction.get()
    if transaction is not None:
        rows: list[asyncpg.Record] = await transaction.connection.fetch(sql, *args)
        return rows
    if DB.pool is not None:
        async with DB.pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
            return rows
    conn = await DB.get_new_connection()
    try:
        rows = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()
