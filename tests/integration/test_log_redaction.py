"""No key in the logs: the app served by uvicorn as `events-svc serve` serves it (its logging
config, the app factory), and every line written for requests to capability URLs (access
lines, the unhandled-error line and its traceback) carries no token."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from events_svc.logredact import redact
from tests.helpers import auth, event_body

RSVP = re.compile(r"/rsvp/([A-Za-z0-9_-]{48})")
FEED = re.compile(r"/feeds/people/([A-Za-z0-9_-]{43})\.ics")
ROTATE = re.compile(r"/feeds/rotate/([A-Za-z0-9_-]{43})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, io.StringIO]]:
    """The app under uvicorn in this process, configured as the CLI does (the factory, log
    level info); everything its loggers write goes to the returned buffer. The lifespan is
    the test session's (pools already open), so the arq pool is absent and a route that
    needs it fails: a real unhandled error."""
    port = _free_port()
    config = uvicorn.Config(
        "events_svc.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        proxy_headers=True,
        log_level="info",
        lifespan="off",
    )  # configures uvicorn's logging, as `uvicorn.run` does before it loads the app
    out = io.StringIO()
    streams = []
    for name in ("uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                streams.append((handler, handler.setStream(out)))
    # our loggers write to the root logger's handlers, which Litestar's logging config
    # replaces when the app is made: one more goes there once it is
    ours = logging.StreamHandler(out)
    ours.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    ours.addFilter(lambda record: not record.name.startswith("httpx"))  # the test's client
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        logging.getLogger().addHandler(ours)
        yield f"http://127.0.0.1:{port}", out
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        logging.getLogger().removeHandler(ours)
        for handler, stream in streams:
            if stream is not None:
                handler.setStream(stream)


async def test_capability_tokens_never_reach_the_log(
    client: Any, make_org: Any, smtp: Any, worker: Any, served: tuple[str, io.StringIO]
) -> None:
    _org, key = await make_org()
    created = await client.post("/events", json=event_body(), headers=auth(key))
    await client.post(
        f"/events/{created.json()['id']}/invitations",
        json={"invitees": [{"email": "wang.fang@example.org", "name": "王芳"}]},
        headers=auth(key),
    )
    await worker.drain()
    (mail,) = smtp.for_recipient("wang.fang@example.org")
    text = mail.message.get_body(("plain",)).get_content()
    rsvp, feed, rotate = RSVP.search(text), FEED.search(text), ROTATE.search(text)
    assert rsvp and feed and rotate
    code = "Q3ztK8m1xY2bW9vR4nL0pA"  # a certificate code's shape (22 characters)
    query_token = "s3cr3tQueryT0ken"
    secrets = [rsvp.group(1), feed.group(1), rotate.group(1), code, query_token]

    base, out = served
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answers = [
            await http.get(f"/rsvp/{rsvp.group(1)}?response=accepted"),
            await http.get(f"/feeds/people/{feed.group(1)}.ics"),
            await http.get(f"/feeds/rotate/{rotate.group(1)}", headers={"Accept": "text/html"}),
            await http.get(f"/certificates/{code}"),
            await http.post(f"/certificates/{code}/revoke", headers=auth(key)),
            await http.get(f"/feeds/orgs/none.ics?token={query_token}"),
            # these need the arq pool, absent here: unhandled errors, logged with a traceback
            await http.post(f"/rsvp/{rsvp.group(1)}", data={"response": "accepted"}),
            await http.post(f"/feeds/rotate/{rotate.group(1)}"),
        ]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [a.status_code for a in answers[6:]] == [500, 500]

    log = out.getvalue()
    assert log.count('HTTP/1.1" ') >= len(answers), log  # one access line per request
    assert "/rsvp/[redacted]" in log and "/feeds/people/[redacted]" in log
    assert "/feeds/rotate/[redacted]" in log and "/certificates/[redacted]" in log
    assert "token=[redacted]" in log
    assert "unhandled error on POST /rsvp/[redacted]" in log
    assert "Traceback (most recent call last)" in log
    for secret in secrets:
        assert secret not in log, secret


def test_redaction_rules() -> None:
    token = "067eWNsgSzm2qyBKZFnzXwAAAAHwRaEBslm4hFhxfzJoaa8r"
    assert redact(f"GET /rsvp/{token}?response=accepted") == (
        "GET /rsvp/[redacted]?response=accepted"
    )
    assert redact(f"ValueError: bad link {token}.") == "ValueError: bad link [redacted]."
    assert redact("Authorization: Bearer evs_ab12_cd34") == "Authorization: Bearer [redacted]"
    assert (
        redact("/feeds/orgs/x.ics?kind=forum&key=abc")
        == "/feeds/orgs/x.ics?kind=forum&key=[redacted]"
    )
    # a mail provider's hook names the reply address (and so its token) in the query
    assert (
        redact("POST /inbound/email?recipient=rsvp%2Babcdefghijklmnop234567%40x.org HTTP/1.1")
        == "POST /inbound/email?recipient=[redacted] HTTP/1.1"
    )
    # what is not a key stays readable
    kept = [
        "GET /events/9f915836-76b9-4ede-aa6e-3454bfb9bd83/invitations",
        "sha256 " + "ab12" * 16,
        "test_the_person_rotates_her_link_and_the_old_links_die",
        "/feeds/orgs/bjswa.ics?kind=training",
    ]
    for line in kept:
        assert redact(line) == line
