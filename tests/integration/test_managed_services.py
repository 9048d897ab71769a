"""Managed services as users run them, on this machine: PostgreSQL that only takes TLS
(`DATABASE_URL` with `sslmode=verify-full&sslrootcert=`), Redis behind TLS (`rediss://` with
`ssl_ca_certs=`). The service works through both, and refuses at start, saying why, what
cannot work (a wrong CA, no TLS where the server demands it). Redis Sentinel is refused by
the settings (tests/integration/test_operations.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import trustme


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _postgres_bin() -> Path | None:
    """A PostgreSQL build with TLS: the distribution's (the embedded one has none)."""
    found = shutil.which("postgres")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for path in candidates:
        if (path / "postgres").exists() and (path / "initdb").exists():
            return path
    return None


@pytest.fixture(scope="module")
def tls_postgres(ca: trustme.CA) -> Iterator[str]:
    """A PostgreSQL of its own that accepts TLS connections only, with a certificate for
    localhost; yields its admin URL without sslmode."""
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries with TLS on this machine")
    base = Path(tempfile.mkdtemp(prefix="events-svc-tlspg-"))
    data = base / "data"
    user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(  # noqa: S603
        [*user, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(data / "server.crt"))
    cert.private_key_pem.write_to_path(str(data / "server.key"))
    (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust\n")
    if user:
        for name in ("server.crt", "server.key", "pg_hba.conf"):
            os.chown(data / name, owner.pw_uid, owner.pw_gid)
    (data / "server.key").chmod(0o600)
    port = _free_port()
    log = base / "postgres.log"
    proc = subprocess.Popen(  # noqa: S603
        [
            *user,
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(base),
            "-c",
            "ssl=on",
            "-c",
            "ssl_cert_file=server.crt",
            "-c",
            "ssl_key_file=server.key",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        yield f"postgresql://postgres@localhost:{port}/postgres"
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(base, ignore_errors=True)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_postgresql_with_verify_full(
    tls_postgres: str, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    admin = await asyncpg.connect(f"{tls_postgres}?sslmode=verify-full&sslrootcert={ca_file}")
    try:
        await admin.execute("DROP DATABASE IF EXISTS events_tls")
        await admin.execute("CREATE DATABASE events_tls")
    finally:
        await admin.close()
    url = tls_postgres.rsplit("/", 1)[0] + f"/events_tls?sslmode=verify-full&sslrootcert={ca_file}"
    env = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "text"}
    migrated = _cli(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr

    # the API serves over it; its connections are encrypted
    port = _free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - a server for the test's lifetime
        [sys.executable, "-m", "events_svc.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 30
            status = None
            while time.monotonic() < deadline and status != 200:
                with contextlib.suppress(httpx.TransportError):
                    status = (await client.get("/readyz")).status_code
                await asyncio.sleep(0.2)
            assert status == 200
    finally:
        proc.terminate()
        proc.wait(30)
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert await conn.fetchval("SELECT to_regclass('notification') IS NOT NULL")
    finally:
        await conn.close()

    # a CA that did not sign the server's certificate: refused at start, saying so
    wrong = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(wrong))
    bad = _cli(["migrate"], {**env, "DATABASE_URL": url.replace(str(ca_file), str(wrong))})
    assert bad.returncode != 0 and "certificate verify failed" in bad.stderr
    # no TLS where the server demands it: refused, saying so
    plain = _cli(["migrate"], {**env, "DATABASE_URL": url.split("?")[0] + "?sslmode=disable"})
    assert plain.returncode != 0 and "no encryption" in plain.stderr


@contextlib.asynccontextmanager
async def _tls_proxy(ca: trustme.CA, target: tuple[str, int]) -> AsyncIterator[int]:
    """TLS in front of the test's Redis, as a managed Redis's endpoint is (certificate for
    localhost)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*target)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_redis_over_tls(ca: trustme.CA, tmp_path: Path, settings: Any) -> None:
    from urllib.parse import urlsplit

    from events_svc.jobs import redis_pool
    from events_svc.settings import Settings, SettingsError

    plain = urlsplit(settings.redis_url)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with _tls_proxy(ca, (plain.hostname or "127.0.0.1", plain.port or 6379)) as port:
        url = f"rediss://localhost:{port}{plain.path}?ssl_ca_certs={ca_file}"
        env = {**os.environ, "REDIS_URL": url}
        assert Settings.from_env(env).redis_url == url
        pool = await redis_pool(url, command_timeout=2)
        try:
            assert await pool.ping()
            await pool.set("events-svc:tls-check", "1")
            assert await pool.get("events-svc:tls-check") == b"1"
        finally:
            await pool.aclose()
        # the name is checked, not only the chain: 127.0.0.1 is not on the certificate
        with pytest.raises(Exception, match="certificate is not valid for '127.0.0.1'"):
            await redis_pool(
                f"rediss://127.0.0.1:{port}{plain.path}?ssl_ca_certs={ca_file}", command_timeout=2
            )
    with pytest.raises(SettingsError, match="ssl_ca_certs"):
        Settings.from_env({**os.environ, "REDIS_URL": url.replace(str(ca_file), "/nope.pem")})
