"""Benchmark: the outbox queries' plans with 500,000 rows in `notification`.

Creates its own database (`events_svc_bench_plans` plus EVENTS_SVC_BENCH_SUFFIX) on
DATABASE_URL's server, migrates it, and fills it with generate_series: organizations, events,
people, invitations and `--rows` notifications (default 500,000) in a realistic mix: most
sent long ago, some skipped, a few thousand queued (due now, and reminders due later),
sending and failed, spread over many events and organizations, one large send under way.

Then it calls the service's own functions (the sender's claim, the sweep, orphaned claims,
the reminders' due query, the progress and deliveries queries, the retention cron's delete
and `events-svc outbox status`) with Piccolo's engine wrapped so that each statement they run
is first run as EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled back, and prints
each plan's node types, the tables each node reads and the time. It fails (exit 1) when a
plan reads `notification` with a sequential scan, or when the claim reads the index of every
queued row (`notification_due`) to find the few it was given by id.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/outbox_plans.py
        [--rows 500000] [--keep]  (--keep: reuse the filled database of an earlier run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from common import ROOT  # noqa: F401 - puts the checkout on sys.path

BENCH_DB = "events_svc_bench_plans"
#: statements that count every row by design: `events-svc outbox status` is a census of the
#: whole table (totals of sent rows included), an operator's command run by hand; its plan is
#: printed, not held to the rule
CENSUS = ("outbox status (CLI)",)

ORGS = 300
EVENTS = 3_000
PEOPLE = 200_000


def fill_sql(rows: int) -> list[str]:
    """Statements that fill the tables; `i` decides each row's kind and status."""
    return [
        "INSERT INTO organization (id, slug, name, email)"
        " SELECT md5('org' || g)::uuid, 'org-' || g, '协会 ' || g, 'office' || g || '@example.org'"
        f" FROM generate_series(1, {ORGS}) g",
        "INSERT INTO event (id, org, uid, kind, title, timezone, starts_at, ends_at,"
        " starts_at_utc, ends_at_utc, created_at, updated_at)"
        " SELECT md5('event' || g)::uuid, md5('org' || (g % " + str(ORGS) + " + 1))::uuid,"
        " 'e' || g || '@bench', 'forum', '论坛 ' || g, 'Asia/Shanghai',"
        " timestamp '2026-01-01' + g * interval '3 hours',"
        " timestamp '2026-01-01' + g * interval '3 hours' + interval '2 hours',"
        " timestamptz '2026-01-01' + g * interval '3 hours',"
        " timestamptz '2026-01-01' + g * interval '3 hours' + interval '2 hours',"
        " now() - interval '400 days', now()"
        f" FROM generate_series(1, {EVENTS}) g",
        "INSERT INTO person (id, email, email_key, name)"
        " SELECT md5('person' || g)::uuid, 'p' || g || '@example.org', 'p' || g || '@example.org',"
        f" '人 ' || g FROM generate_series(1, {PEOPLE}) g",
        # one notification row per (event, person) pair below, kinds and statuses by i % 1000:
        #   0-859 sent, 860-899 skipped, 900-929 reminders queued for later, 930-949 queued and
        #   due, 950-959 sending, 960-989 failed, 990-999 sent a minute ago (a send under way)
        "CREATE TEMP TABLE fill AS SELECT i,"
        f" md5('event' || (i % {EVENTS} + 1))::uuid AS event,"
        f" md5('person' || ((i::bigint * 7919) % {PEOPLE} + 1))::uuid AS person,"
        " i % 1000 AS r FROM generate_series(1, " + str(rows) + ") i",
        "INSERT INTO notification (id, key, kind, event, person, status, attempts,"
        " next_attempt_at, claimed_at, claimed_by, sent_at, last_error, created_at)"
        " SELECT md5('n' || i)::uuid, 'bench:' || i,"
        " CASE WHEN r BETWEEN 900 AND 929 OR i % 10 = 3 THEN 'reminder'"
        "  WHEN i % 10 = 4 THEN 'update' ELSE 'invitation' END,"
        " event, person,"
        " CASE WHEN r < 860 OR r >= 990 THEN 'sent' WHEN r < 900 THEN 'skipped'"
        "  WHEN r < 950 THEN 'queued' WHEN r < 960 THEN 'sending' ELSE 'failed' END,"
        " CASE WHEN r BETWEEN 950 AND 989 THEN 3 ELSE 1 END,"
        " CASE WHEN r BETWEEN 900 AND 929 THEN now() + (i % 86400) * interval '1 second'"
        "  WHEN r BETWEEN 930 AND 949 THEN now() - (i % 600) * interval '1 second'"
        "  WHEN r >= 990 THEN now() - interval '1 minute'"
        "  ELSE now() - (i % 400) * interval '1 day' END,"
        " CASE WHEN r BETWEEN 950 AND 959 THEN now() - (i % 900) * interval '1 second' END,"
        " CASE WHEN r BETWEEN 950 AND 959 THEN 'worker-' || (i % 3) ELSE '' END,"
        " CASE WHEN r < 860 THEN now() - (i % 400) * interval '1 day'"
        "  WHEN r >= 990 THEN now() - interval '1 minute' END,"
        " CASE WHEN r BETWEEN 960 AND 989 THEN '550 mailbox unavailable' ELSE '' END,"
        " CASE WHEN r >= 930 THEN now() - (i % 600) * interval '1 second'"
        "  ELSE now() - (i % 400) * interval '1 day' END"
        " FROM fill",
        "INSERT INTO invitation (id, event, person)"
        " SELECT DISTINCT ON (event, person) md5('inv' || i)::uuid, event, person"
        " FROM fill WHERE r >= 900 ORDER BY event, person, i",
        "ANALYZE",
    ]


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a JSON plan, depth first."""
    nodes = [plan]
    for child in plan.get("Plans", ()):
        nodes += plan_nodes(child)
    return nodes


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--keep", action="store_true", help="reuse a filled database")
    args = parser.parse_args()

    from events_svc.database import migrate, start_database_pool
    from events_svc.dev.embedded import recreate_database
    from events_svc.piccolo_conf import DB

    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = BENCH_DB + os.environ.get("EVENTS_SVC_BENCH_SUFFIX", "")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    conn = None
    if args.keep:
        try:
            conn = await asyncpg.connect(url)
            if not await conn.fetchval("SELECT count(*) FROM notification"):
                raise RuntimeError("empty")
        except Exception:  # noqa: BLE001 - nothing to keep: fill anew
            conn = None
    if conn is None:
        url = await recreate_database(admin_url, name)
        await migrate(url)
        conn = await asyncpg.connect(url)
        started = time.perf_counter()
        for sql in fill_sql(args.rows):
            await conn.execute(sql)
        print(f"filled {args.rows:,} notifications in {time.perf_counter() - started:.1f} s")
    else:
        await migrate(url)  # indexes added since the fill
        await conn.execute("ANALYZE")
    counts = await conn.fetch("SELECT status, count(*) FROM notification GROUP BY 1 ORDER BY 1")
    print("rows: " + ", ".join(f"{r['status']} {r['count']:,}" for r in counts))

    DB.config["dsn"] = url
    await start_database_pool(max_size=4, connect_timeout=10, command_timeout=600)
    assert DB.pool is not None
    plans: list[tuple[str, str, dict[str, Any]]] = []
    label = ""
    engine_class = type(DB)
    real = engine_class.run_querystring

    async def explaining(engine: Any, querystring: Any, in_pool: bool = True) -> Any:
        sql, values = querystring.compile_string(engine_type=DB.engine_type)
        c = DB.current_transaction.get().connection  # each call runs in a transaction (below)
        savepoint = c.transaction()  # nested: a savepoint, rolled back after the EXPLAIN
        await savepoint.start()
        try:
            raw = await c.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *values)
        finally:
            await savepoint.rollback()
        plans.append((label, sql, json.loads(raw)[0]))
        return await real(engine, querystring, in_pool)

    engine_class.run_querystring = explaining  # type: ignore[method-assign]

    from events_svc import retention
    from events_svc.notifications import deliveries, progress
    from events_svc.reminders import service as reminders
    from events_svc.sender import claims

    now = datetime.now(UTC)
    busy_event = await conn.fetchval(
        "SELECT event FROM notification WHERE status = 'queued' GROUP BY 1 ORDER BY count(*) DESC"
        " LIMIT 1"
    )
    busy_org = await conn.fetchval("SELECT org FROM event WHERE id = $1", busy_event)
    due_ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM notification WHERE status = 'queued' AND next_attempt_at <= now()"
            " LIMIT 100"
        )
    ]
    live = ["worker-0", "worker-1"]
    calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        (
            "claim (sender/claims.claim_many, 100 rows)",
            lambda: claims.claim_many(
                notification_ids=due_ids, now=now, lease=300, worker="bench", live=live
            ),
        ),
        (
            "sweep (sender/claims.due_for_sweep)",
            lambda: claims.due_for_sweep(now=now, grace=30, lease=300, live=live),
        ),
        ("orphaned claims", lambda: claims.orphaned_claims(now=now, live=live)),
        ("due queued (outbox retry)", lambda: claims.due_queued(now=now)),
        ("reminders due (reminders.due_soon)", lambda: reminders.due_soon(now=now, within=60)),
        (
            "progress: org's sends",
            lambda: progress._sends_in_progress(org_id=busy_org, now=now),
        ),
        ("progress: event's send", lambda: progress._event_progress(event_id=busy_event, now=now)),
        ("progress: failures", lambda: progress._failures(org_id=busy_org, now=now, limit=20)),
        (
            "deliveries: event",
            lambda: deliveries.event_deliveries(
                org_id=busy_org, event_id=busy_event, now=now, after=None, limit=50
            ),
        ),
        (
            "deliveries: organization",
            lambda: deliveries.org_deliveries(org_id=busy_org, now=now, after=None, limit=50),
        ),
        ("outbox status (CLI)", lambda: deliveries.outbox_status(now=now)),
        (
            "retention delete (1 batch)",
            lambda: retention.purge(
                now=now,
                notifications_days=180,
                webhook_deliveries_days=0,
                held_replies_days=0,
                limit=retention.BATCH,
            ),
        ),
    ]
    for label, call in calls:  # noqa: B007 - `label` names the plans `explaining` collects
        async with DB.transaction() as tx:  # every change the call makes is undone
            await call()
            await tx.rollback()
    engine_class.run_querystring = real  # type: ignore[method-assign]

    failed = []
    for name, sql, plan in plans:
        nodes = plan_nodes(plan["Plan"])
        kinds = []
        for node in nodes:
            kind = node["Node Type"]
            where = node.get("Index Name") or node.get("Relation Name")
            kinds.append(f"{kind}({where})" if where else kind)
            if kind == "Seq Scan" and node.get("Relation Name") == "notification":
                if name not in CENSUS:
                    failed.append(name)
            if name.startswith("claim") and node.get("Index Name") == "notification_due":
                failed.append(name)  # reads every queued row to find a few by id
        top = plan["Plan"]
        print(
            f"{name}: {plan['Execution Time']:.2f} ms, rows {top.get('Actual Rows')}, "
            f"shared buffers hit {top.get('Shared Hit Blocks', 0)} read "
            f"{top.get('Shared Read Blocks', 0)}\n    {' > '.join(kinds)}\n    {sql[:160]}"
        )
    await conn.close()
    await DB.close_connection_pool()
    if failed:
        print(
            "FAIL: a sequential scan on notification, or a claim reading notification_due, in: "
            + ", ".join(sorted(set(failed)))
        )
        return 1
    print(
        f"OK: no sequential scan on notification in {len(plans)} statements"
        f" (census by design, not held to it: {', '.join(CENSUS)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
