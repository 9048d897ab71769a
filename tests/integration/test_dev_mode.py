"""`events-svc dev` on a machine with nothing configured: everything embedded, Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import psutil

from events_svc.dev.embedded import free_port


def _request(method: str, url: str, key: str | None = None, body: Any = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        raw = resp.read()
        return json.loads(raw) if resp.headers.get_content_type().endswith("json") else raw


def _start_dev(cwd: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start `events-svc dev` with nothing configured; returns it and what it printed."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", "dev", "--port", str(port), "--var", "var"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "events-svc dev exited during start-up"
        lines.append(line)
        if line.startswith("events-svc dev: ready"):
            break
    return proc, json.loads("".join(lines[lines.index("{\n") : -1]))


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    proc.wait(60)


def test_dev_runs_everything_embedded_and_stops_cleanly(tmp_path: Path) -> None:
    proc, info = _start_dev(tmp_path)
    children: list[psutil.Process] = []
    try:
        base = info["api"]
        assert info["docs"] == f"{base}/schema" and info["mail_catcher"] == f"{base}/dev/mail"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert _request("GET", f"{base}/readyz")["status"] == "ready"
        event = _request(
            "POST",
            f"{base}/events",
            info["api_key"],
            {
                "kind": "forum",
                "title": "第二届社会工作本色与本土论坛",
                "starts_at": "2027-06-10T09:30:00",
                "ends_at": "2027-06-10T17:00:00",
                "timezone": "Asia/Shanghai",
            },
        )
        invitees = [
            {"email": "zhang@bj.example.org", "name": "张三"},
            {"email": "li@gd.example.org", "name": "李四"},
            {"email": "jane@partner.example.org", "name": "Jane", "locale": "en"},
        ]
        _request(
            "POST", f"{base}/events/{event['id']}/invitations", info["api_key"],
            {"invitees": invitees},
        )  # fmt: skip
        mail_dir = tmp_path / "var" / "mail"
        deadline = time.monotonic() + 60
        while len(list(mail_dir.glob("*.eml"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        names = sorted(p.name for p in mail_dir.glob("*.eml"))
        assert len(names) == 3
        with urllib.request.urlopen(f"{base}/dev/mail", timeout=30) as resp:  # noqa: S310
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"  # charset once
            page = resp.read().decode()
        assert all(n in page for n in names) and "invitation" in page
        # readable times and who sent each message
        assert re.search(r">20\d\d-\d\d-\d\d \d\d:\d\d:\d\d<", page)
        assert "<th>From</th>" in page and "Demo Social Work Association" in page
        shown = _request("GET", f"{base}/dev/mail/{names[0]}").decode()
        assert "text/calendar" in shown and "METHOD:REQUEST" in shown
        # the printed console link signs the ready-made organization's admin in at once
        with httpx.Client() as browser:
            link = browser.get(info["console_sign_in"])
            assert link.status_code == 200, link.text
            csrf = re.search(r'name="_csrf" value="([^"]+)"', link.text)
            assert csrf, link.text
            done = browser.post(
                info["console_sign_in"], data={"_csrf": csrf.group(1), "next": "/console"}
            )
            assert done.status_code == 303, done.text
            home = browser.get(f"{base}/console")
            assert home.status_code == 200 and "示例社会工作协会" in home.text
        assert "height:85vh" in shown  # the HTML preview is not cut at 480 px
        found = _request("GET", f"{base}/dev/mail/messages?to=jane@partner.example.org&wait=5")
        (jane,) = found
        assert jane["kind"] == "invitation" and jane["rsvp_url"].startswith(f"{base}/rsvp/")
        assert jane["reply_address"].startswith("events+")
        # every other command finds dev's settings in var/dev.env while it runs
        shared = (tmp_path / "var" / "dev.env").read_text()
        assert "DATABASE_URL=" in shared and "INBOUND_TOKEN=" in shared
        assert info["env_file"] == str(tmp_path / "var" / "dev.env")
    finally:
        _stop(proc)
    assert proc.returncode == 0
    time.sleep(0.5)
    assert children, "dev should have started children (API, worker, Redis)"
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not (tmp_path / "var" / "postgres" / "postmaster.pid").exists(), "PostgreSQL stopped"
    assert not (tmp_path / "var" / "dev.env").exists()
    # data persists under ./var: a second start has the same key and the event
    again, info2 = _start_dev(tmp_path)
    try:
        assert info2["api_key"] == info["api_key"]
        listed = _request("GET", f"{info2['api']}/events", info2["api_key"])
        assert [e["id"] for e in listed["items"]] == [event["id"]]
    finally:
        _stop(again)


def test_dev_on_a_port_in_use_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "events_svc.cli", "dev", "--port", str(port), "--var", "var"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert f"port {port} is in use" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists()  # it stopped before starting anything
