"""The settings a running `events-svc dev` uses, in a file the other commands read.

`events-svc dev` writes them to `<var>/dev.env` (shell syntax: `set -a; . var/dev.env` works
too) and removes the file when it stops. Every other command, run where no DATABASE_URL is
set, takes what the file has for each variable not set, so `events-svc org create`,
`migrate`, `demo` or `worker` work beside a running dev without copying URLs around.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

#: the variables dev shares (its mail directory is left out: only dev's API serves the catcher)
SHARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "PUBLIC_BASE_URL",
    "SECRET_KEY",
    "ADMIN_TOKEN",
    "INBOUND_TOKEN",
    "MAIL_FROM",
    "WEBHOOK_ALLOW_PRIVATE",
)

#: names the file to read instead of ./var/dev.env (for `events-svc dev --var elsewhere`)
ENV_FILE_VARIABLE = "EVENTS_SVC_DEV_ENV"


def default_path() -> Path:
    return Path(os.environ.get(ENV_FILE_VARIABLE) or Path("var") / "dev.env")


def write(path: Path, env: Mapping[str, str]) -> None:
    """Write the shared variables of `env`, readable by the owner only (it holds secrets)."""
    lines = ["# written by `events-svc dev` while it runs; removed when it stops"]
    lines += [f"{name}={shlex.quote(env[name])}" for name in SHARED if env.get(name)]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.rename(path)


def read(path: Path) -> dict[str, str]:
    """The NAME=value lines of a file written by `write` (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, raw = line.partition("=")
        parts = shlex.split(raw)
        values[name.strip()] = parts[0] if parts else ""
    return values


def load_if_unconfigured(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Fill unset variables from a running dev's file when DATABASE_URL is not set; returns
    the file used (None when nothing was read)."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    if env.get("DATABASE_URL", "").strip():
        return None
    path = default_path()
    if not path.is_file():
        return None
    for name, value in read(path).items():
        if name in SHARED and not env.get(name, "").strip():
            env[name] = value
    print(f"events-svc: using the settings of the running events-svc dev ({path})", file=sys.stderr)
    return path
