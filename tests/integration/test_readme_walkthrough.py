"""The README's walkthrough, run as written against a fresh `events-svc dev`.

The ```sh blocks of "Walkthrough with curl" run in order in one bash, in a directory that looks
like a checkout (.venv, examples/, and var/ of the dev under test); every curl's status must be
the one the README writes after it (`# -> 201`), or a 2xx where none is written. So the README
cannot drift from the code again. `events-svc dev` runs with its own embedded PostgreSQL and
Redis, as a newcomer's would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from events_svc.dev import envfile
from events_svc.dev.embedded import free_port
from tests import walkthrough

START_TIMEOUT = 90.0
RUN_TIMEOUT = 90.0

#: what the suite's conftest sets for itself; dev must choose its own (as for a newcomer)
_SUITE_ONLY = (
    *envfile.SHARED,
    "SEND_RETRY_FIRST_SECONDS",
    "SEND_LEASE_SECONDS",
    "SWEEP_INTERVAL_SECONDS",
    "SWEEP_GRACE_SECONDS",
    "SMTP_TIMEOUT_SECONDS",
    "AGENDA_UPDATE_DELAY_SECONDS",
    "EVENTS_SVC_DEV_MAIL_DIR",
    envfile.ENV_FILE_VARIABLE,
)


def test_the_walkthrough_blocks_are_found() -> None:
    blocks = walkthrough.walkthrough_blocks()
    assert len(blocks) > 20
    calls = walkthrough.curl_calls(walkthrough.script(), skip_lines=walkthrough.PRELUDE.count("\n"))
    assert len(calls) > 60
    # a status written after a multi-line command belongs to it
    bad_input = next(c for c in calls if "Mars/Base" in c.text)
    assert bad_input.expected == "422"


@pytest.fixture
def newcomer_checkout(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    """A running `events-svc dev` and a directory laid out like the checkout beside it."""
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"the walkthrough needs {tool}")
    home = tmp_path / "checkout"
    home.mkdir()
    (home / ".venv").symlink_to(Path(sys.prefix), True)
    (home / "examples").symlink_to(walkthrough.ROOT / "examples", True)
    env = {k: v for k, v in os.environ.items() if k not in _SUITE_ONLY}
    env["PYTHONUNBUFFERED"] = "1"
    port = free_port()
    log = (tmp_path / "dev.log").open("w+b")
    dev = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", "dev", "--port", str(port), "--var", "var"],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while b"ready; Ctrl-C" not in (tmp_path / "dev.log").read_bytes():
            if dev.poll() is not None or time.monotonic() > deadline:
                pytest.fail("events-svc dev did not start:\n" + _tail(tmp_path / "dev.log"))
            time.sleep(0.3)
        # the venv that python belongs to is the checkout's own (`.venv/bin/events-svc`)
        assert (home / ".venv" / "bin" / "events-svc").exists()
        yield home, env, _tail(tmp_path / "dev.log")
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGINT)
            try:
                dev.wait(40)
            except subprocess.TimeoutExpired:
                dev.kill()
                dev.wait()
        log.close()
    assert dev.returncode == 0, _tail(tmp_path / "dev.log")
    assert not (home / "var" / "dev.env").exists()  # dev removes it when it stops


def _tail(path: Path, size: int = 6000) -> str:
    return path.read_bytes()[-size:].decode("utf-8", "replace")


def test_the_readme_walkthrough_runs_as_written_against_events_svc_dev(
    newcomer_checkout: tuple[Path, dict[str, str], str],
) -> None:
    home, env, started = newcomer_checkout
    # what dev printed includes what the walkthrough's first block reads from var/dev.env
    assert '"env_file"' in started and '"inbound_token"' in started
    problems, output = walkthrough.run(cwd=home, env=env, timeout=RUN_TIMEOUT)
    assert not problems, "\n".join(problems) + "\n\n" + output[-8000:]
    # the certificate page an English reader opens names its issuer in English
    page = (home / "certificate.html").read_text(encoding="utf-8")
    assert "Issued by" in page and "Guangdong Social Workers Federation" in page
    # Jane's RSVP page is in English, with the forum's description
    rsvp = (home / "rsvp.html").read_text(encoding="utf-8")
    assert "Guangdong Social Workers Federation invites you to" in rsvp
    assert "社会工作的本色坚守与本土实践。" in rsvp
