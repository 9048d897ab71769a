"""Webhooks end to end: API -> delivery rows -> arq worker -> a real HTTP receiver."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from events_svc.dev.embedded import free_port
from events_svc.jobs import enqueue_webhooks
from events_svc.piccolo_conf import DB
from events_svc.webhooks import service
from events_svc.webhooks.tables import WebhookDelivery
from tests.helpers import auth, event_body
from tests.workers import InProcessWorker
from workers.webhooks import sweep_webhooks

SECRET = "s3cret-for-the-tests-0123456789"


@dataclasses.dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request; it answers `status` (500
    for the first `fail_first` requests), after `delay` seconds. With `tls`, it speaks
    HTTPS and records the SNI names clients send in `sni`."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.sni: list[str | None] = []
        self.requests: list[Request] = []
        self.fail_first = 0
        self.status = 204
        self.delay = 0.0
        self.location = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(
                    Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                failing = len(receiver.requests) <= receiver.fail_first
                status = 500 if failing else receiver.status
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                answer = b"receiver broke" if failing else b""
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/events-svc"
        if tls is not None:
            Handler.protocol_version = "HTTP/1.1"  # keeps connections open, as real servers do

            def record_sni(_sock: Any, name: str | None, _ctx: Any) -> None:
                self.sni.append(name)

            tls.sni_callback = record_sni
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.url = self.url.replace("http://", "https://")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _private_allowed(allow_private_webhooks: Any) -> Any:
    """These tests deliver to a receiver on 127.0.0.1: WEBHOOK_ALLOW_PRIVATE is on for them
    (tests/integration/test_webhooks_ssrf.py covers the default, off)."""
    return allow_private_webhooks


@pytest.fixture
async def hook_worker(app: Any, allow_private_webhooks: Any) -> AsyncIterator[InProcessWorker]:
    """The real worker with quick webhook retries and a short timeout."""
    quick = dataclasses.replace(
        allow_private_webhooks, webhook_retry_first=0.1, webhook_timeout=1.0, webhook_max_attempts=3
    )
    w = InProcessWorker(quick)
    yield w
    await w.close()


async def _register(client: Any, key: str, url: str, **body: Any) -> dict[str, Any]:
    body = {"url": url, "events": ["rsvp.changed", "delivery.failed"], **body}
    resp = await client.post("/webhooks", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def _emit(app: Any, org_id: str, data: dict[str, Any], key: str | None = None) -> int:
    """What the RSVP code does: emit inside its transaction, enqueue after commit."""
    async with DB.transaction():
        rows = await service.emit(org_id=uuid.UUID(org_id), kind="rsvp.changed", data=data, key=key)
    await enqueue_webhooks(app.state.arq, rows)
    return len(rows)


async def _deliveries(client: Any, key: str, hook_id: str, query: str = "") -> Any:
    resp = await client.get(f"/webhooks/{hook_id}/deliveries{query}", headers=auth(key))
    assert resp.status_code == 200, resp.text
    return resp.json()


def _verify(req: Request, secret: str) -> None:
    """What a receiver does (README): recompute the signature over "<timestamp>.<body>"."""
    timestamp = req.headers["x-events-svc-timestamp"]
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + req.body, hashlib.sha256)
    assert hmac.compare_digest(req.headers["x-events-svc-signature"], f"sha256={mac.hexdigest()}")
    assert abs(time.time() - int(timestamp)) < 60


async def test_register_list_and_revoke(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    created = await _register(client, key, "https://hooks.example.org/in", events=["rsvp.changed"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["rsvp.changed"]
    given = await _register(client, key, "http://hooks.example.org:8080/b?x=1", secret=SECRET)
    assert given["secret"] == SECRET
    assert given["events"] == ["rsvp.changed", "delivery.failed"]
    listed = (await client.get("/webhooks", headers=auth(key))).json()
    assert [h["id"] for h in listed] == [created["id"], given["id"]]
    assert all("secret" not in h and h["revoked_at"] is None for h in listed)
    assert SECRET not in json.dumps(listed)

    resp = await client.delete(f"/webhooks/{created['id']}", headers=auth(key))
    assert resp.status_code == 204
    again = await client.delete(f"/webhooks/{created['id']}", headers=auth(key))
    assert again.status_code == 204  # revoking twice keeps the first time
    listed = (await client.get("/webhooks", headers=auth(key))).json()
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None


async def test_another_org_can_neither_see_nor_revoke(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    _other, other_key = await make_org()
    hook = await _register(client, key, "https://hooks.example.org/in")
    assert (await client.get("/webhooks", headers=auth(other_key))).json() == []
    for method, path in [
        ("DELETE", f"/webhooks/{hook['id']}"),
        ("GET", f"/webhooks/{hook['id']}/deliveries"),
        ("DELETE", "/webhooks/not-a-uuid"),
        ("GET", "/webhooks/00000000-0000-0000-0000-000000000000/deliveries"),
    ]:
        resp = await client.request(method, path, headers=auth(other_key))
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/webhooks", headers=auth(key))).json()[0]["revoked_at"] is None
    assert (await client.get("/webhooks")).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.org/in"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://hooks.example.org/a b"}, "url"),
        ({"url": " https://hooks.example.org/in"}, "url"),
        ({"url": "https://user:pw@hooks.example.org/in"}, "url"),
        ({"url": "https:///in"}, "url"),
        ({"url": "https://hooks.example.org:99999/in"}, "url"),
        ({"url": "https://[::1/in"}, "url"),
        ({"url": "https://hooks.example.org/in#frag"}, "url"),
        ({"url": "https://hooks.example.org/" + "a" * 2000}, "url"),
        ({"url": ""}, "url"),
        ({"url": 42}, "url"),
        ({"events": []}, "events"),
        ({"events": ["rsvp.changed", "event.deleted"]}, "events.1"),
        ({"events": "rsvp.changed"}, "events"),
        ({"secret": "too-short"}, "secret"),
        ({"secret": "sixteen-chars-ok\n"}, "secret"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_input_names_the_field(
    client: Any, make_org: Any, body: dict[str, Any], field: str
) -> None:
    _org, key = await make_org()
    full = {"url": "https://hooks.example.org/in", "events": ["rsvp.changed"], **body}
    resp = await client.post("/webhooks", json=full, headers=auth(key))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in resp.json()["errors"]], resp.json()


async def test_missing_fields_and_bad_paging_name_the_field(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    resp = await client.post("/webhooks", json={"url": "https://h.example.org/"}, headers=auth(key))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "events"
    resp = await client.post(
        "/webhooks", content=b"{nope", headers={**auth(key), "Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "body"
    hook = await _register(client, key, "https://hooks.example.org/in")
    for query, field in [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("cursor=-1", "cursor"),
        ("cursor=WyJldmVudHMiLCAieCIsICJ5Il0", "cursor"),  # another listing's cursor
    ]:
        resp = await client.get(f"/webhooks/{hook['id']}/deliveries?{query}", headers=auth(key))
        assert resp.status_code in (400, 422), resp.text
        assert field in [e["field"] for e in resp.json()["errors"]], resp.json()


async def test_too_many_webhooks_is_a_conflict(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    for i in range(service.MAX_WEBHOOKS):
        await _register(client, key, f"https://hooks.example.org/{i}")
    resp = await client.post(
        "/webhooks", json={"url": "https://h.example.org/", "events": ["rsvp.changed"]},
        headers=auth(key),
    )  # fmt: skip
    assert resp.status_code == 409, resp.text


async def test_a_delivery_is_signed_and_recorded(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url, secret=SECRET)
    data = {
        "event_id": "e-1",
        "email": "li.si@gdswa.example.org",
        "name": "李四",
        "rsvp": "accepted",
    }
    assert await _emit(app, org["id"], data) == 1
    await hook_worker.drain()

    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req.path == "/hooks/events-svc"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-events-svc-event"] == "rsvp.changed"
    _verify(req, SECRET)
    payload = json.loads(req.body.decode("utf-8"))
    assert "李四".encode() in req.body  # UTF-8, not \u escapes
    assert payload["id"] == req.headers["x-events-svc-delivery"]
    assert payload["type"] == "rsvp.changed" and payload["data"] == data
    assert datetime.fromisoformat(payload["created_at"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert list(payload) == ["id", "type", "created_at", "data"]

    listed = await _deliveries(client, key, hook["id"])
    assert listed["next"] is None
    [item] = listed["items"]
    assert item["id"] == payload["id"] and item["kind"] == "rsvp.changed"
    assert item["status"] == "delivered" and item["attempts"] == 1
    assert item["last_status_code"] == 204 and item["last_error"] == ""
    assert item["delivered_at"] is not None

    await hook_worker.drain()  # nothing left to do: the row is settled
    assert len(receiver.requests) == 1


async def test_emit_reaches_only_subscribed_active_webhooks_of_the_org(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    _other, other_key = await make_org()
    wanted = await _register(client, key, receiver.url + "?a", events=["rsvp.changed"])
    await _register(client, key, receiver.url + "?b", events=["delivery.failed"])
    revoked = await _register(client, key, receiver.url + "?c")
    await client.delete(f"/webhooks/{revoked['id']}", headers=auth(key))
    await _register(client, other_key, receiver.url + "?d")
    assert await _emit(app, org["id"], {"n": 1}) == 1
    await hook_worker.drain()
    assert [r.path for r in receiver.requests] == ["/hooks/events-svc?a"]
    assert (
        receiver.requests[0].headers["x-events-svc-delivery"]
        == ((await _deliveries(client, key, wanted["id"]))["items"][0]["id"])
    )


async def test_the_same_key_is_delivered_once(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    await _register(client, key, receiver.url)
    await _register(client, key, receiver.url + "?second")
    assert await _emit(app, org["id"], {"n": 1}, key="rsvp:abc:1") == 2
    assert await _emit(app, org["id"], {"n": 1}, key="rsvp:abc:1") == 0
    assert await _emit(app, org["id"], {"n": 2}, key="rsvp:abc:2") == 2
    assert await _emit(app, org["id"], {"n": 3}) == 2  # no key: always a new delivery
    await hook_worker.drain()
    assert len(receiver.requests) == 6


async def test_a_500_is_retried_with_backoff_until_delivered(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url, secret=SECRET)
    receiver.fail_first = 2
    await _emit(app, org["id"], {"n": 1})
    started = time.monotonic()
    await hook_worker.drain()
    # first retry after 0.1 s, the second after 0.2 s (doubling)
    assert time.monotonic() - started >= 0.3
    assert len(receiver.requests) == 3
    ids = {r.headers["x-events-svc-delivery"] for r in receiver.requests}
    assert len(ids) == 1  # the same delivery each time, signed anew
    for req in receiver.requests:
        _verify(req, SECRET)
    [item] = (await _deliveries(client, key, hook["id"]))["items"]
    assert item["status"] == "delivered" and item["attempts"] == 3
    assert item["last_status_code"] == 204 and item["last_error"] == ""


async def test_it_gives_up_after_the_last_attempt(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url)
    receiver.fail_first = 100
    await _emit(app, org["id"], {"n": 1})
    await hook_worker.drain()
    assert len(receiver.requests) == 3  # webhook_max_attempts
    [item] = (await _deliveries(client, key, hook["id"]))["items"]
    assert item["status"] == "failed" and item["attempts"] == 3
    assert item["last_status_code"] == 500
    assert item["last_error"] == "gave up after 3 attempt(s): receiver answered 500"
    assert "receiver broke" not in json.dumps(item)  # the receiver's body is never shown


async def test_redirects_timeouts_and_refused_connections_are_failures(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    receiver.status, receiver.location = 302, "https://elsewhere.example.org/"
    redirected = await _register(client, key, receiver.url)
    await _emit(app, org["id"], {"n": 1})
    await hook_worker.drain()
    [item] = (await _deliveries(client, key, redirected["id"]))["items"]
    assert item["status"] == "failed" and item["last_status_code"] == 302
    assert item["last_error"].endswith("receiver answered 302 (redirects are not followed)")
    assert "elsewhere" not in item["last_error"]  # nor its Location
    assert len(receiver.requests) == 3  # never the Location
    await client.delete(f"/webhooks/{redirected['id']}", headers=auth(key))

    receiver.status, receiver.location, receiver.delay = 200, "", 1.5  # timeout is 1 s
    slow = await _register(client, key, receiver.url)
    refused = await _register(client, key, f"http://127.0.0.1:{free_port()}/nobody")
    await _emit(app, org["id"], {"n": 2})
    await hook_worker.drain()
    [item] = (await _deliveries(client, key, slow["id"]))["items"]
    assert item["status"] == "failed" and item["attempts"] == 3
    assert item["last_status_code"] is None and item["last_error"].endswith(": timeout")
    [item] = (await _deliveries(client, key, refused["id"]))["items"]
    assert item["status"] == "failed" and item["last_status_code"] is None
    assert item["last_error"].endswith(": connection refused")


async def test_a_revoked_webhook_gets_nothing(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url)
    await _emit(app, org["id"], {"n": 1})
    resp = await client.delete(f"/webhooks/{hook['id']}", headers=auth(key))
    assert resp.status_code == 204
    await hook_worker.drain()
    assert receiver.requests == []
    [item] = (await _deliveries(client, key, hook["id"]))["items"]
    assert item["status"] == "skipped" and item["last_error"] == "webhook revoked"
    assert item["attempts"] == 0
    assert await _emit(app, org["id"], {"n": 2}) == 0


async def test_a_delivery_pending_when_revoked_is_skipped_by_the_worker(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url)
    await _emit(app, org["id"], {"n": 1})
    # claimed by a worker that died, then the webhook is revoked
    await WebhookDelivery.raw(
        "UPDATE webhook_delivery SET status = 'sending', claimed_at = now() - interval '1 hour'"
    )
    await client.delete(f"/webhooks/{hook['id']}", headers=auth(key))
    await sweep_webhooks({"settings": hook_worker.settings, "redis": app.state.arq})
    await hook_worker.drain()
    assert receiver.requests == []
    [item] = (await _deliveries(client, key, hook["id"]))["items"]
    assert item["status"] == "skipped" and item["last_error"] == "webhook revoked"


async def test_the_sweep_recovers_what_redis_lost_and_what_a_dead_worker_held(
    app: Any, client: Any, make_org: Any, receiver: Receiver, hook_worker: Any
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url)
    await _emit(app, org["id"], {"n": 1})
    await _emit(app, org["id"], {"n": 2})
    await app.state.arq.flushdb()  # Redis lost both jobs
    # one of them was taken by a worker that then died (its lease is long over)
    await WebhookDelivery.raw(
        "UPDATE webhook_delivery SET status = 'sending', attempts = 1,"
        " claimed_at = now() - interval '1 hour'"
        " WHERE id = (SELECT id FROM webhook_delivery ORDER BY created_at LIMIT 1)"
    )
    ctx = {"settings": hook_worker.settings, "redis": app.state.arq}
    assert await sweep_webhooks(ctx) == 1  # the dead worker's; the other is within its grace
    await hook_worker.drain()
    assert len(receiver.requests) == 1
    await asyncio.sleep(hook_worker.settings.sweep_grace)
    assert await sweep_webhooks(ctx) == 1
    await hook_worker.drain()
    assert len(receiver.requests) == 2
    items = (await _deliveries(client, key, hook["id"]))["items"]
    assert sorted(i["attempts"] for i in items) == [1, 2]
    assert {i["status"] for i in items} == {"delivered"}
    assert await sweep_webhooks(ctx) == 0


async def test_deliveries_are_listed_newest_first_in_pages(
    app: Any, client: Any, make_org: Any, receiver: Receiver
) -> None:
    org, key = await make_org()
    hook = await _register(client, key, receiver.url)
    for n in range(5):
        await _emit(app, org["id"], {"n": n})
    first = await _deliveries(client, key, hook["id"], "?limit=2")
    assert len(first["items"]) == 2 and first["next"]
    rest = await _deliveries(client, key, hook["id"], f"?limit=2&cursor={first['next']}")
    last = await _deliveries(client, key, hook["id"], f"?limit=2&cursor={rest['next']}")
    assert len(last["items"]) == 1 and last["next"] is None
    items = first["items"] + rest["items"] + last["items"]
    assert len({i["id"] for i in items}) == 5
    assert [i["created_at"] for i in items] == sorted(
        (i["created_at"] for i in items), reverse=True
    )
    assert all(i["status"] == "queued" and i["attempts"] == 0 for i in items)


async def test_a_failed_notification_emits_delivery_failed(
    client: Any, make_org: Any, smtp: Any, receiver: Receiver, hook_worker: Any
) -> None:
    _org, key = await make_org()
    hook = await _register(client, key, receiver.url, events=["delivery.failed"], secret=SECRET)
    resp = await client.post("/events", json=event_body(), headers=auth(key))
    ev = resp.json()
    smtp.handler.refuse["li.si@gdswa.example.org"] = "550 5.1.1 mailbox unavailable"
    invitees = [{"email": "zhang.san@bjswa.example.org"}, {"email": "li.si@gdswa.example.org"}]
    resp = await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text
    await hook_worker.drain()  # sends the mail, then (same drain) the webhook it caused
    assert len(smtp.received) == 1
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req.headers["x-events-svc-event"] == "delivery.failed"
    _verify(req, SECRET)
    data = json.loads(req.body)["data"]
    assert data["event_id"] == ev["id"] and data["event_uid"] == ev["uid"]
    assert data["email"] == "li.si@gdswa.example.org"
    assert data["notification_kind"] == "invitation"
    assert "550" in data["error"] and "mailbox unavailable" in data["error"]
    [item] = (await _deliveries(client, key, hook["id"]))["items"]
    assert item["kind"] == "delivery.failed" and item["status"] == "delivered"


async def test_openapi_describes_the_webhook_routes(client: Any) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/webhooks", "/webhooks/{webhook_id}", "/webhooks/{webhook_id}/deliveries"):
        assert path in paths, path
    create = paths["/webhooks"]["post"]
    assert create["security"] == [{"BearerAuth": []}]
    assert {"201", "401", "422"} <= set(create["responses"])


async def test_emit_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown webhook event kind"):
        await service.emit(org_id=uuid.uuid4(), kind="event.deleted", data={})  # type: ignore[arg-type]
