"""Webhooks reach only public addresses (SSRF): refused at registration and at each delivery,
connected to the very address that was checked, and never showing what a receiver answered.

Host names resolve through the test resolver (`destinations.resolver`), never the network;
names under `.test` (RFC 6761) cannot be resolved by anything else, so a request that reaches
the receiver through one was sent to the address the check saw.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import trustme

from events_svc.webhooks import destinations
from tests.helpers import auth
from tests.integration.test_webhooks import Receiver, _deliveries, _emit, _verify
from tests.workers import InProcessWorker

SECRET = "s3cret-for-the-tests-0123456789"
PUBLIC = "93.184.215.14"


class Names:
    """The test resolver: a table of names, and every lookup made."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Names:
    table = Names()
    monkeypatch.setattr(destinations, "resolver", table.resolve)
    return table


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
async def hook_worker(app: Any, settings: Any) -> AsyncIterator[InProcessWorker]:
    """The real worker with the service's default (private destinations refused)."""
    assert settings.webhook_allow_private is False
    quick = dataclasses.replace(
        settings, webhook_retry_first=0.1, webhook_timeout=1.0, webhook_max_attempts=3
    )
    w = InProcessWorker(quick)
    yield w
    await w.close()


@pytest.fixture
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets 127.0.0.1 pass the check, so the pinned path can be exercised against a local
    receiver; every other address is judged as usual."""
    judge = destinations.refusal

    def refusal(ip: Any) -> str | None:
        return None if ip == ipaddress.ip_address("127.0.0.1") else judge(ip)

    monkeypatch.setattr(destinations, "refusal", refusal)


async def _post_hook(client: Any, key: str, url: str) -> Any:
    body = {"url": url, "events": ["rsvp.changed"], "secret": SECRET}
    return await client.post("/webhooks", json=body, headers=auth(key))


REFUSED = [
    ("http://127.0.0.1:8080/hooks", "loopback address"),
    ("http://localhost:8080/hooks", "internal host name"),
    ("http://127.1/", "loopback address"),
    ("http://2130706433/", "loopback address"),
    ("http://0x7f000001/", "loopback address"),
    ("http://0177.0.0.1/", "loopback address"),
    ("http://0.0.0.0:8000/", "unspecified address"),
    ("http://[::ffff:127.0.0.1]/", "loopback address"),
    ("http://10.0.0.1/", "private address"),
    ("http://192.168.0.1/", "private address"),
    ("http://172.16.0.1/", "private address"),
    ("http://100.64.0.1/", "shared (CGNAT) address"),
    ("http://169.254.169.254/latest/meta-data/", "link-local address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "internal host name"),
    ("http://224.0.0.1/", "multicast address"),
    ("http://192.0.2.1/", "documentation address"),
    ("http://240.0.0.1/", "reserved address"),
    ("http://[::1]:8080/", "loopback address"),
    ("http://[fe80::1]/", "link-local address"),
    ("http://[fc00::1]/", "private address"),
    ("http://[::ffff:10.0.0.1]/", "private address"),
    ("http://[64:ff9b::7f00:1]/", "loopback address"),
    ("http://[2002:7f00:1::]/", "loopback address"),
    ("https://loopback.example.org/hooks", "loopback address"),  # via the test resolver
    ("https://mixed.example.org/hooks", "private address"),  # one bad address of several
    ("https://v6.example.org/hooks", "loopback address"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_registration_refuses_internal_destinations(
    client: Any, make_org: Any, names: Names, url: str, reason: str
) -> None:
    names.table = {
        "loopback.example.org": ["127.0.0.1"],
        "mixed.example.org": [PUBLIC, "10.0.0.5"],
        "v6.example.org": ["2606:2800:220:1::1", "::1"],
    }
    _org, key = await make_org()
    resp = await _post_hook(client, key, url)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    errors = [(e["field"], e["message"]) for e in resp.json()["errors"]]
    assert errors == [("url", f"destination not allowed: {reason}")]
    assert (await client.get("/webhooks", headers=auth(key))).json() == []


async def test_a_public_name_is_registered_and_an_unresolvable_one_is_not(
    client: Any, make_org: Any, names: Names
) -> None:
    names.table = {"hooks.example.org": [PUBLIC, "2606:2800:220:1::1"]}
    _org, key = await make_org()
    resp = await _post_hook(client, key, "https://hooks.example.org/in")
    assert resp.status_code == 201, resp.text
    assert (await _post_hook(client, key, "https://8.8.8.8/in")).status_code == 201
    resp = await _post_hook(client, key, "https://nowhere.example.org/in")
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"] == [{"field": "url", "message": "host name does not resolve"}]


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (["127.0.0.1"], "loopback address"),
        (["::1"], "loopback address"),
        (["::ffff:127.0.0.1"], "loopback address"),
        ([PUBLIC, "10.0.0.1"], "private address"),
        (["169.254.169.254"], "link-local address"),
    ],
)
async def test_a_name_that_turns_private_is_refused_at_delivery(
    app: Any,
    client: Any,
    make_org: Any,
    names: Names,
    receiver: Receiver,
    hook_worker: InProcessWorker,
    now: list[str],
    reason: str,
) -> None:
    org, key = await make_org()
    names.table = {"rebind.events-svc.test": [PUBLIC]}
    resp = await _post_hook(client, key, f"http://rebind.events-svc.test:{receiver.port}/hooks")
    assert resp.status_code == 201, resp.text
    names.table = {"rebind.events-svc.test": now}  # DNS now answers an inside address
    await _emit(app, org["id"], {"n": 1})
    await hook_worker.drain()
    assert receiver.requests == []
    [item] = (await _deliveries(client, key, resp.json()["id"]))["items"]
    assert item["status"] == "failed" and item["attempts"] == 1  # not retried
    assert item["last_status_code"] is None
    assert item["last_error"] == f"destination not allowed: {reason}"


async def test_a_local_receiver_is_reached_only_with_allow_private(
    app: Any,
    client: Any,
    make_org: Any,
    settings: Any,
    receiver: Receiver,
    hook_worker: InProcessWorker,
) -> None:
    org, key = await make_org()
    resp = await _post_hook(client, key, receiver.url)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["message"] == "destination not allowed: loopback address"

    allowed = dataclasses.replace(hook_worker.settings, webhook_allow_private=True)
    app.state.settings = allowed  # registered in development, say
    try:
        resp = await _post_hook(client, key, receiver.url)
    finally:
        app.state.settings = settings
    assert resp.status_code == 201, resp.text
    hook_id = resp.json()["id"]

    await _emit(app, org["id"], {"n": 1})
    await hook_worker.drain()  # the service's default: refused at delivery
    assert receiver.requests == []
    [item] = (await _deliveries(client, key, hook_id))["items"]
    assert item["status"] == "failed"
    assert item["last_error"] == "destination not allowed: loopback address"

    hook_worker.settings = allowed
    await _emit(app, org["id"], {"n": 2})
    await hook_worker.drain()
    assert len(receiver.requests) == 1
    _verify(receiver.requests[0], SECRET)
    items = (await _deliveries(client, key, hook_id))["items"]
    assert [i["status"] for i in items] == ["delivered", "failed"]


@pytest.mark.usefixtures("loopback_counts_as_public")
async def test_the_request_goes_to_the_checked_address_with_the_real_host(
    app: Any,
    client: Any,
    make_org: Any,
    names: Names,
    receiver: Receiver,
    hook_worker: InProcessWorker,
) -> None:
    org, key = await make_org()
    host = "hooks.events-svc.test"
    names.table = {host: ["127.0.0.1"]}
    resp = await _post_hook(client, key, f"http://{host}:{receiver.port}/hooks/events-svc?x=1")
    assert resp.status_code == 201, resp.text
    await _emit(app, org["id"], {"n": 1})
    await hook_worker.drain()
    [req] = receiver.requests
    assert req.path == "/hooks/events-svc?x=1"
    assert req.headers["host"] == f"{host}:{receiver.port}"
    _verify(req, SECRET)
    assert names.lookups == [host, host]  # at registration, and again at the delivery
    [item] = (await _deliveries(client, key, resp.json()["id"]))["items"]
    assert item["status"] == "delivered" and item["last_status_code"] == 204


@pytest.mark.usefixtures("loopback_counts_as_public")
async def test_redirects_are_not_followed_and_answers_are_not_shown(
    app: Any,
    client: Any,
    make_org: Any,
    names: Names,
    receiver: Receiver,
    hook_worker: InProcessWorker,
) -> None:
    org, key = await make_org()
    names.table = {"hooks.events-svc.test": ["127.0.0.1"]}
    url = f"http://hooks.events-svc.test:{receiver.port}/hooks"
    hook = (await _post_hook(client, key, url)).json()
    receiver.status = 307
    receiver.location = f"http://127.0.0.1:{receiver.port}/followed?token=inside-secret"
    await _emit(app, org["id"], {"n": 1})
    await hook_worker.drain()
    assert [r.path for r in receiver.requests] == ["/hooks"] * 3  # once per attempt
    [item] = (await _deliveries(client, key, hook["id"]))["items"]
    assert item["status"] == "failed" and item["last_status_code"] == 307
    assert item["last_error"] == (
        "gave up after 3 attempt(s): receiver answered 307 (redirects are not followed)"
    )

    await client.delete(f"/webhooks/{hook['id']}", headers=auth(key))
    hook = (await _post_hook(client, key, url + "?again")).json()
    receiver.status, receiver.location, receiver.fail_first = 204, "", 100
    await _emit(app, org["id"], {"n": 2})
    await hook_worker.drain()
    listed = await _deliveries(client, key, hook["id"])
    [item] = listed["items"]
    assert item["last_error"] == "gave up after 3 attempt(s): receiver answered 500"
    shown = json.dumps(listed)
    assert "receiver broke" not in shown and "inside-secret" not in shown


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.usefixtures("loopback_counts_as_public")
async def test_https_keeps_sni_and_verifies_the_real_name(
    app: Any,
    client: Any,
    make_org: Any,
    names: Names,
    hook_worker: InProcessWorker,
    ca: trustme.CA,
) -> None:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.events-svc.test").configure_cert(server)
    receiver = Receiver(tls=server)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    await hook_worker.http.aclose()
    hook_worker.http = httpx.AsyncClient(verify=trusting, timeout=1.0, follow_redirects=False)
    try:
        org, key = await make_org()
        names.table = {n: ["127.0.0.1"] for n in ("hooks.events-svc.test", "other.events-svc.test")}
        good = await _post_hook(
            client, key, receiver.url.replace("127.0.0.1", "hooks.events-svc.test")
        )
        assert good.status_code == 201, good.text
        await _emit(app, org["id"], {"n": 1})
        await hook_worker.drain()
        assert receiver.sni == ["hooks.events-svc.test"]
        [req] = receiver.requests
        assert req.headers["host"] == f"hooks.events-svc.test:{receiver.port}"
        _verify(req, SECRET)

        # Same address, a name the certificate does not cover: refused by TLS, and the
        # connection verified for the first name is not reused for it.
        other = await _post_hook(
            client, key, receiver.url.replace("127.0.0.1", "other.events-svc.test")
        )
        assert other.status_code == 201, other.text
        await _emit(app, org["id"], {"n": 2})
        await hook_worker.drain()
        assert len(receiver.requests) == 2  # the second one to the good name only
        [item] = (await _deliveries(client, key, other.json()["id"]))["items"]
        assert item["status"] == "failed" and item["last_status_code"] is None
        assert item["last_error"] == (
            "gave up after 3 attempt(s): TLS certificate not valid for the host"
        )
        assert "other.events-svc.test" in receiver.sni
    finally:
        receiver.close()


async def test_registration_with_allow_private_needs_no_lookup(
    client: Any, make_org: Any, names: Names, allow_private_webhooks: Any
) -> None:
    _org, key = await make_org()
    resp = await _post_hook(client, key, "http://receiver.events-svc.test:8080/hooks")
    assert resp.status_code == 201, resp.text
    assert names.lookups == []
