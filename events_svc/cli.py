"""The `events-svc` command: migrate, serve, worker, inbound-smtp, org create, demo, dev."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import sys
from collections.abc import Sequence
from typing import get_args

from events_svc.database import migrate
from events_svc.settings import Settings, SettingsError, get_settings


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        print(f"events-svc: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _database_url_or_exit() -> str:
    """Only DATABASE_URL is needed by the database commands."""
    import os

    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        print("events-svc: configuration error: DATABASE_URL: is not set", file=sys.stderr)
        raise SystemExit(2)
    if not url.startswith(("postgres://", "postgresql://")):
        print(
            "events-svc: configuration error: DATABASE_URL: must be a postgresql:// URL",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return url


async def _org_create(database_url: str, args: argparse.Namespace) -> dict[str, object]:
    from events_svc.orgs import service
    from events_svc.piccolo_conf import DB

    DB.config["dsn"] = database_url
    org, key = await service.create_org(
        slug=args.slug,
        name=args.name,
        email=args.email,
        name_en=args.name_en,
        kind=args.kind,
        region=args.region,
    )
    fields = dataclasses.asdict(org)
    return {"organization": {**fields, "created_at": org.created_at.isoformat()}, "api_key": key}


def _cmd_migrate(args: argparse.Namespace) -> int:
    asyncio.run(migrate(_database_url_or_exit()))
    print("events-svc: migrations applied", file=sys.stderr)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from events_svc import logctx
    from events_svc.ops import prepare_multiprocess_metrics

    settings = _settings_or_exit()
    prepare_multiprocess_metrics(workers=args.workers)
    uvicorn.run(
        "events_svc.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
        log_config=logctx.uvicorn_log_config(settings.log_format),
        # JSON: the app writes one line per request itself (route template, request id)
        access_log=settings.log_format == "text",
    )
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from events_svc.ops import start_worker_metrics

    # Named, as `serve` names the app for uvicorn: `workers` sits above `events_svc` (it wires
    # the sender and the job functions), so no module of `events_svc` imports it.
    run = importlib.import_module("workers.main").run

    settings = _settings_or_exit()
    start_worker_metrics(settings)
    _use_uvloop()
    asyncio.run(run(settings))
    return 0


def _use_uvloop() -> None:
    """uvloop (installed with uvicorn[standard]) makes the worker's socket-heavy loop faster."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - optional speed-up
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _cmd_org_create(args: argparse.Namespace) -> int:
    from events_svc.errors import ServiceError

    try:
        out = asyncio.run(_org_create(_database_url_or_exit(), args))
    except ServiceError as exc:
        print(f"events-svc: {exc.detail}", file=sys.stderr)
        return 1
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _cmd_inbound_smtp(args: argparse.Namespace) -> int:
    from events_svc.inbound.smtp import serve

    settings = _settings_or_exit()
    asyncio.run(serve(settings=settings, host=args.host, port=args.port))
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    import os

    from events_svc.dev.embedded import run_dev

    os.environ.setdefault("LOG_FORMAT", "text")  # for the API and worker it starts too

    try:
        return run_dev(port=args.port, var_dir=args.var, demo=args.demo)
    except RuntimeError as exc:  # a child or an embedded server that would not start
        print(f"events-svc dev: {exc}", file=sys.stderr)
        return 1


async def _demo(settings: Settings) -> dict[str, object]:
    from arq import create_pool
    from arq.connections import RedisSettings

    from events_svc.database import configure_database, start_database_pool
    from events_svc.demo import load_demo
    from events_svc.piccolo_conf import DB

    configure_database(settings)
    # loading the demo writes many rows at once: no API-sized statement timeout
    await start_database_pool(max_size=4, connect_timeout=settings.db_timeout, command_timeout=300)
    queue = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        result = await load_demo(settings=settings, queue=queue)
    finally:
        await queue.aclose()
        await DB.close_connection_pool()
    base = settings.public_base_url
    return {
        "organizations": result.organizations,
        "events": result.events,
        "partnership": result.partnership,
        "feeds": {
            "gdswa": f"{base}/feeds/orgs/gdswa.ics",
            "bjswa": f"{base}/feeds/orgs/bjswa.ics",
            "partnership": f"{base}/feeds/partnerships/{result.partnership}.ics",
            "forum sessions": f"{base}/feeds/orgs/gdswa.ics?detail=sessions",
        },
        "notes": result.notes,
    }


def _cmd_demo(args: argparse.Namespace) -> int:
    from events_svc.errors import ServiceError

    settings = _settings_or_exit()
    try:
        out = asyncio.run(_demo(settings))
    except ServiceError as exc:
        print(f"events-svc demo: cannot load beside the data there: {exc.detail}", file=sys.stderr)
        return 1
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from events_svc.orgs.schemas import OrgKind

    parser = argparse.ArgumentParser(prog="events-svc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="apply the database migrations to DATABASE_URL")
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("worker", help="run an arq worker (sending, sweeps)")
    p.set_defaults(func=_cmd_worker)

    org = sub.add_parser("org", help="manage organizations")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    p = org_sub.add_parser("create", help="create an organization and print its API key once")
    p.add_argument("--slug", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name-en", default=None)
    p.add_argument("--kind", default=None, choices=get_args(OrgKind))
    p.add_argument("--region", default=None, help="e.g. 广东省, 北京市")
    p.set_defaults(func=_cmd_org_create)

    p = sub.add_parser(
        "inbound-smtp", help="receive calendar replies by SMTP and apply them (aiosmtpd)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8025)
    p.set_defaults(func=_cmd_inbound_smtp)

    p = sub.add_parser(
        "demo", help="load the seed's story (organizations, visit, agreement, forum, training)"
    )
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("dev", help="run everything embedded: PostgreSQL, Redis, mail catcher")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--var", default="var", help="where data persists (default ./var)")
    p.add_argument("--demo", action="store_true", help="load `events-svc demo` once it runs")
    p.set_defaults(func=_cmd_dev)

    from events_svc.ops import add_outbox_commands

    add_outbox_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import os

    from events_svc import logctx

    args = build_parser().parse_args(argv)
    if args.command != "dev":
        from events_svc.dev import envfile

        # beside a running `events-svc dev`, every command works on dev's database and Redis
        envfile.load_if_unconfigured()
    if args.command == "dev":
        os.environ.setdefault("LOG_FORMAT", "text")
    fmt = os.environ.get("LOG_FORMAT", "").strip().lower()
    # JSON lines by default (LOG_FORMAT=text for people reading a terminal); with the
    # redaction filter on every handler: the worker's and the commands' lines too
    logctx.configure("text" if fmt == "text" else "json")
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
