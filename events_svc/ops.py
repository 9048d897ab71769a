"""Operations from the command line: `events-svc outbox status|retry|show`, and setting up the
metrics of `serve` (several uvicorn processes) and `worker` (a port of its own)."""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc.settings import Settings, SettingsError, get_settings


def prepare_multiprocess_metrics(*, workers: int) -> None:
    """Several uvicorn processes share one metrics directory (PROMETHEUS_MULTIPROC_DIR, made
    here when unset); what a previous run left there is removed (its counters would add up
    with the new ones). Must run before the processes import prometheus_client."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not directory:
        if workers <= 1:
            return
        directory = tempfile.mkdtemp(prefix="events-svc-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def start_worker_metrics(settings: Settings) -> None:
    """A worker's counters on WORKER_METRICS_PORT (its own port: `--scale worker=N` gives each
    container its own address to scrape); none when it is 0."""
    from events_svc import telemetry

    telemetry.configure(on=settings.metrics)
    if settings.metrics and settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr="0.0.0.0")  # noqa: S104


# --- events-svc outbox ------------------------------------------------------------------------

_DURATION = re.compile(r"(\d{1,6})\s*([smhd])")


def parse_since(value: str, *, now: datetime) -> datetime:
    """`30m`, `2h`, `7d` (ago) or an ISO 8601 instant with its offset."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - timedelta(seconds=int(match.group(1)) * unit)
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since {value!r}: give a duration (30m, 2h, 7d) or an ISO 8601 instant"
        ) from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--since {value!r}: give the offset too (+08:00, Z)")
    return when


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an id") from None


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        print(f"events-svc: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


async def _with_database(settings: Settings, work: Any) -> Any:
    from events_svc.database import configure_database, start_database_pool
    from events_svc.piccolo_conf import DB

    configure_database(settings)
    await start_database_pool(max_size=2, connect_timeout=settings.db_timeout, command_timeout=300)
    try:
        return await work()
    finally:
        await DB.close_connection_pool()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _cmd_status(args: argparse.Namespace) -> int:
    from events_svc.notifications import deliveries as progress

    settings = _settings()
    rows = asyncio.run(
        _with_database(settings, lambda: progress.outbox_status(now=datetime.now(UTC)))
    )
    print(_json({"statuses": [dict(r) for r in rows]}))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from events_svc.notifications import deliveries as progress

    settings = _settings()
    row = asyncio.run(_with_database(settings, lambda: progress.outbox_row(args.id)))
    if row is None:
        print(f"events-svc: no notification {args.id}", file=sys.stderr)
        return 1
    print(_json(row))
    return 0


def _cmd_retry(args: argparse.Namespace) -> int:
    from events_svc.jobs import enqueue_notifications, redis_pool
    from events_svc.notifications import deliveries as progress

    if not args.failed:
        print("events-svc: say which rows: --failed", file=sys.stderr)
        return 2
    settings = _settings()
    now = datetime.now(UTC)
    since = args.since

    async def work() -> int:
        rows = await progress.retry_failed(now=now, event_id=args.event, since=since)
        try:
            queue = await redis_pool(settings.redis_url, command_timeout=settings.redis_timeout)
        except Exception as exc:  # noqa: BLE001 - the rows are queued: the sweep sends them
            print(
                f"events-svc: Redis unavailable ({exc}); the sweep will send them", file=sys.stderr
            )
            return len(rows)
        try:
            slot = int(time.time() * 1000)
            await enqueue_notifications(queue, rows, sweep_slot=slot, batch=True)
        finally:
            await queue.aclose()
        return len(rows)

    count = asyncio.run(_with_database(settings, work))
    print(_json({"retried": count}))
    return 0


def add_outbox_commands(sub: Any) -> None:
    outbox = sub.add_parser("outbox", help="look at and repair the outbox of messages")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True)
    p = outbox_sub.add_parser("status", help="rows by status and age (JSON)")
    p.set_defaults(func=_cmd_status)
    p = outbox_sub.add_parser("show", help="one notification in full (JSON)")
    p.add_argument("id", type=_uuid)
    p.set_defaults(func=_cmd_show)
    p = outbox_sub.add_parser("retry", help="queue failed messages again, due now")
    p.add_argument("--failed", action="store_true", help="the rows that failed (required)")
    p.add_argument("--event", type=_uuid, default=None, help="only this event's")
    p.add_argument(
        "--since",
        default=None,
        type=lambda value: parse_since(value, now=datetime.now(UTC)),
        help="only rows whose last attempt was due since (2h, 7d, or an ISO 8601 instant)",
    )
    p.set_defaults(func=_cmd_retry)
