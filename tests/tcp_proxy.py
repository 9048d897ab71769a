"""A TCP proxy in front of a real server, to give a process under test the faults a network
and a server have: frozen (bytes stop flowing, connections stay open) and down (every
connection cut, new ones refused)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit


def database_target(url: str) -> tuple[str, int | str]:
    """(host, port) of a postgresql:// URL, or ("unix", socket path) when it names a socket
    directory (`?host=/dir`), as the suite's embedded PostgreSQL does."""
    parts = urlsplit(url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    port = parts.port or 5432
    if socket_dir.startswith("/"):
        return ("unix", f"{socket_dir}/.s.PGSQL.{port}")
    return (parts.hostname or "127.0.0.1", port)


def through(proxy: TcpProxy, url: str) -> str:
    """`url` with the proxy (on 127.0.0.1) as its server; a socket directory is dropped."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    host = f"127.0.0.1:{proxy.port}"
    query = "&".join(
        f"{k}={v}" for k, values in parse_qs(parts.query).items() if k != "host" for v in values
    )
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host, query=query))


class TcpProxy:
    def __init__(self, target_host: str, target_port: int | str) -> None:
        """Relays to target_host:target_port, or to the Unix socket target_port when
        target_host is "unix"."""
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = self.target
            if host == "unix":
                up_reader, up_writer = await asyncio.open_unix_connection(str(port))
            else:
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await self._flowing.wait()  # frozen: hold the bytes, as a stopped server would
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def down(self) -> None:
        """Cut every connection and refuse new ones (the server stopped)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._writers):
            w.close()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def up(self) -> None:
        await self.start(self.port)

    async def close(self) -> None:
        self.thaw()
        await self.down()
