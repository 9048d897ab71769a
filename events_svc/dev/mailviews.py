"""GET /dev/mail: the mail catcher's messages as HTML pages (only in `events-svc dev`)."""

from __future__ import annotations

import email
import email.policy
import html
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException

_NAME_RE = re.compile(r"^[0-9TZ]+-[0-9a-f]{8}\.eml$")

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;
 margin:2em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{padding:.4em .6em;border-bottom:1px solid #ddd;text-align:left}
pre{background:#f6f6f6;padding:1em;overflow:auto;white-space:pre-wrap}a{color:#0b5cad}
.kind{font-size:12px;background:#eef;padding:.1em .4em;border-radius:3px}
"""


def _page(title: str, body: str) -> Response[str]:
    doc = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return Response(doc, media_type="text/html; charset=utf-8")


def _load(folder: Path, name: str) -> EmailMessage:
    if not _NAME_RE.match(name) or not (folder / name).is_file():
        raise NotFoundException(f"no message {name}")
    with (folder / name).open("rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _folder(request: Request[Any, Any, Any]) -> Path:
    return Path(request.app.state.settings.dev_mail_dir)


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
            to = html.escape(str(msg.get("To", "")))
            subject = html.escape(str(msg.get("Subject", "")))
            kind = html.escape(str(msg.get("X-Notification-Kind", "")))
            rows.append(
                f"<tr><td>{html.escape(name[:15])}</td><td>{to}</td>"
                f'<td><a href="/dev/mail/{name}">{subject}</a></td>'
                f'<td><span class="kind">{kind}</span></td>'
                f'<td><a href="/dev/mail/{name}/raw">.eml</a></td></tr>'
            )
        body = (
            f"<h1>Mail catcher</h1><p>{len(names)} message(s) in {html.escape(str(folder))}</p>"
            "<table><tr><th>Received (UTC)</th><th>To</th><th>Subject</th>"
            "<th>Kind</th><th></th></tr>" + "".join(rows) + "</table>"
        )
        return _page("Mail catcher", body)

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
                    f'<h3>{html.escape(label)}</h3><iframe sandbox srcdoc="{frame}" '
                    'style="width:100%;height:480px;border:1px solid #ddd"></iframe>'
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
