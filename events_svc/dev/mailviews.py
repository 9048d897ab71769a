"""GET /dev/mail: the mail catcher's messages as HTML pages (only in `events-svc dev`)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import html
import re
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

_NAME_RE = re.compile(r"^[0-9TZ]+-[0-9a-f]{8}\.eml$")

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;
 margin:2em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{padding:.4em .6em;border-bottom:1px solid #ddd;text-align:left}
pre{background:#f6f6f6;padding:1em;overflow:auto;white-space:pre-wrap}a{color:#0b5cad}
.kind{font-size:12px;background:#eef;padding:.1em .4em;border-radius:3px}
iframe{width:100%;height:85vh;min-height:480px;border:1px solid #ddd;resize:vertical}
td.when{white-space:nowrap}
"""

_RSVP_RE = re.compile(r"https?://[^\s\"'<>]+/rsvp/[A-Za-z0-9._~-]+")
_FEED_RE = re.compile(r"https?://[^\s\"'<>]+/feeds/people/[A-Za-z0-9._~-]+\.ics")
_ORGANIZER_RE = re.compile(r"^ORGANIZER[^:\r\n]*:mailto:([^\s]+)", re.IGNORECASE | re.MULTILINE)
_ROTATE_RE = re.compile(r"https?://[^\s\"'<>]+/feeds/rotate/[A-Za-z0-9._~-]+")
_CERTIFICATE_RE = re.compile(r"https?://[^\s\"'<>]+/certificates/[A-Za-z0-9._~-]+")


def _page(title: str, body: str) -> Response[str]:
    doc = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    # Litestar adds "; charset=utf-8" to text/html itself
    return Response(doc, media_type=MediaType.HTML)


def _load(folder: Path, name: str) -> EmailMessage:
    if not _NAME_RE.match(name) or not (folder / name).is_file():
        raise NotFoundException(f"no message {name}")
    with (folder / name).open("rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _folder(request: Request[Any, Any, Any]) -> Path:
    return Path(request.app.state.settings.dev_mail_dir)


def _received(name: str) -> str:
    """The file name's UTC stamp (20261130T081103123456Z-…) as 2026-11-30 08:11:03."""
    try:
        stamp = datetime.strptime(name[:15] + "+0000", "%Y%m%dT%H%M%S%z")
        return stamp.strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return name[:15]


def _texts(msg: EmailMessage) -> str:
    """Every text part (plain, HTML, calendar) decoded, one after the other."""
    out = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        out.append(str(content))
    return "\n".join(out)


def _summary(name: str, msg: EmailMessage) -> dict[str, Any]:
    """One message as JSON, with the links a walkthrough needs from it."""
    texts = _texts(msg)
    unfolded = re.sub(r"\r?\n[ \t]", "", texts)  # calendar lines are folded at 75 octets
    first = {
        key: (found.group(1) if key == "reply_address" else found.group(0)) if found else None
        for key, found in (
            ("rsvp_url", _RSVP_RE.search(texts)),
            ("feed_url", _FEED_RE.search(texts)),
            ("feed_rotate_url", _ROTATE_RE.search(texts)),
            ("certificate_url", _CERTIFICATE_RE.search(texts)),
            ("reply_address", _ORGANIZER_RE.search(unfolded)),
        )
    }
    return {
        "id": name,
        "received_at": _received(name) + "Z",
        "from": str(msg.get("From", "")),
        "to": str(msg.get("To", "")),
        "envelope_to": [a.strip() for a in str(msg.get("X-Envelope-To", "")).split(",") if a],
        "subject": str(msg.get("Subject", "")),
        "kind": str(msg.get("X-Notification-Kind", "")),
        **first,
    }


def _matching(folder: Path, to: str | None, kind: str | None) -> list[dict[str, Any]]:
    out = []
    for name in sorted((p.name for p in folder.glob("*.eml")), reverse=True)[:500]:
        msg = _load(folder, name)
        item = _summary(name, msg)
        if to and to.lower() not in {a.lower() for a in item["envelope_to"]}:
            continue
        if kind and item["kind"] != kind:
            continue
        out.append(item)
    return out


class MailCatcherController(Controller):
    path = "/dev/mail"
    tags = ["dev"]
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any]) -> Response[str]:
        folder = _folder(request)
        names = sorted((p.name for p in folder.glob("*.eml")), reverse=True)  # newest first
        rows = []
        for name in names[:500]:
            msg = _load(folder, name)
            sender = html.escape(str(msg.get("From", "")))
            to = html.escape(str(msg.get("To", "")))
            subject = html.escape(str(msg.get("Subject", "")))
            kind = html.escape(str(msg.get("X-Notification-Kind", "")))
            rows.append(
                f'<tr><td class="when">{html.escape(_received(name))}</td>'
                f"<td>{sender}</td><td>{to}</td>"
                f'<td><a href="/dev/mail/{name}">{subject}</a></td>'
                f'<td><span class="kind">{kind}</span></td>'
                f'<td><a href="/dev/mail/{name}/raw">.eml</a></td></tr>'
            )
        body = (
            f"<h1>Mail catcher</h1><p>{len(names)} message(s) in {html.escape(str(folder))}</p>"
            "<table><tr><th>Received (UTC)</th><th>From</th><th>To</th><th>Subject</th>"
            "<th>Kind</th><th></th></tr>" + "".join(rows) + "</table>"
        )
        return _page("Mail catcher", body)

    @get("/messages")
    async def messages(
        self,
        request: Request[Any, Any, Any],
        to: str | None = None,
        kind: str | None = None,
        wait: float = Parameter(default=0.0, ge=0, le=30),
    ) -> list[dict[str, Any]]:
        """The messages (newest first) as JSON, with each one's RSVP, feed and reply links;
        `to` / `kind` filter, `wait` waits up to that many seconds for a first match (the
        worker sends a moment after the API answers)."""
        folder = _folder(request)
        deadline = time.monotonic() + wait
        while True:
            found = await asyncio.to_thread(_matching, folder, to, kind)
            if found or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(0.2)

    @get("/{name:str}", sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], name: str) -> Response[str]:
        msg = _load(_folder(request), name)
        headers = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in msg.items()
        )
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            filename = part.get_filename()
            try:
                content = part.get_content()
            except (LookupError, ValueError):
                content = part.get_payload(decode=True)
            if isinstance(content, bytes):
                content = content.decode("utf-8", "replace")
            label = f"{ctype}" + (f" ({filename})" if filename else "")
            if ctype == "text/html":
                frame = html.escape(str(content), quote=True)
                parts.append(
                    f'<h3>{html.escape(label)}</h3><iframe sandbox srcdoc="{frame}"></iframe>'
                )
            else:
                parts.append(f"<h3>{html.escape(label)}</h3><pre>{html.escape(str(content))}</pre>")
        body = (
            '<p><a href="/dev/mail">&larr; all messages</a> · '
            f'<a href="/dev/mail/{name}/raw">raw</a></p>'
            f"<h1>{html.escape(str(msg.get('Subject', '')))}</h1><table>{headers}</table>"
            + "".join(parts)
        )
        return _page(str(msg.get("Subject", name)), body)

    @get("/{name:str}/raw", sync_to_thread=True)
    def raw(self, request: Request[Any, Any, Any], name: str) -> Response[bytes]:
        folder = _folder(request)
        _load(folder, name)
        return Response((folder / name).read_bytes(), media_type="message/rfc822")
