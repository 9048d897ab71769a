"""The authorization matrix: every route of the app × every kind of caller, against one table.

The routes come from the application's own route table, so a new endpoint without a row in
`EXPECT` fails `test_every_route_is_declared` (and its own cells): nobody can add a route and
forget to say who may call it. Each cell sends one real request through the ASGI app, in a
world of real organizations, keys, a co-hosted training course, an exchange visit, invitations,
a certificate, a webhook… (`tests/security/world.py`), with path parameters filled from it. A
request that may change something gets a world of its own; reads and refusals share one.

Outcomes are coarse on purpose (`OK` is anything a caller who may use the route can get: 2xx,
3xx or a 4xx other than 401/403/404, e.g. a 409 on an event that is already cancelled) but
exact on who is allowed. Never a 5xx.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from events_svc.orgs.tables import Organization
from tests.helpers import auth, event_body
from tests.security.world import World, build_world

OK = "allowed"  # 2xx/3xx, or a 4xx other than 401/403/404 (the caller got past authorization)
UNAUTH = "401"
FORBIDDEN = "403"
HIDDEN = "404"  # existence does not leak: another tenant's things are not found

#: who calls; each cell of the matrix is one of these against one route
CALLERS = (
    "anonymous",  # no Authorization header
    "bad_key",  # a well-formed key that was never issued
    "revoked",  # the owner's key, revoked
    "admin",  # ADMIN_TOKEN, which is not an organization's key
    "inbound",  # INBOUND_TOKEN, which is not an organization's key either
    "other",  # another organization, unrelated to the owner's things
    "cohost",  # a party of the agreement the owner's events are co-hosted under
    "former",  # the same co-host after the agreement ended
    "owner",  # the host: the organization whose things the path names
)

#: routes that exist only under `events-svc dev` (DEV_MAIL_DIR set); not part of the service
DEV_ONLY_PREFIX = "/dev/"


@dataclass(frozen=True)
class Expect:
    """The outcome each caller gets from one route."""

    anonymous: str = UNAUTH
    bad_key: str = UNAUTH
    revoked: str = UNAUTH
    admin: str = UNAUTH
    inbound: str = UNAUTH
    other: str = HIDDEN
    cohost: str = OK
    former: str = HIDDEN
    owner: str = OK

    def but(self, **changes: str) -> Expect:
        return dataclasses.replace(self, **changes)


#: no key needed, and a key of any kind (even a bad one) changes nothing
PUBLIC = Expect(**{c: OK for c in CALLERS})
#: a capability URL (RSVP link, feed token, certificate code): the link is the key
CAPABILITY = PUBLIC
#: `/orgs/me/...` and listings: any organization acts on its own things
OWN_ORG = Expect(other=OK, cohost=OK, former=OK, owner=OK)
#: the owner's event (or the agreement's): the host and co-hosts, nobody else
COHOSTED = Expect()
#: the owner's own things (a key, a contact, a webhook): the owner only
OWNER_ONLY = Expect(other=HIDDEN, cohost=HIDDEN, former=HIDDEN)
#: ADMIN_TOKEN only
ADMIN_ONLY = Expect(admin=OK, other=UNAUTH, cohost=UNAUTH, former=UNAUTH, owner=UNAUTH)
#: INBOUND_TOKEN only (the mail provider's hook)
INBOUND_ONLY = Expect(inbound=OK, other=UNAUTH, cohost=UNAUTH, former=UNAUTH, owner=UNAUTH)

E = "/events/{event_id:str}"

#: THE table: every (method, path template) of the app, and who gets what
EXPECT: dict[tuple[str, str], Expect] = {
    # health and the OpenAPI documents
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    # Swagger UI's files, served by the app (the docs work offline)
    ("GET", "/schema/swagger-ui/swagger-ui.css"): PUBLIC,
    ("GET", "/schema/swagger-ui/swagger-ui-bundle.js"): PUBLIC,
    ("GET", "/schema/swagger-ui/start.js"): PUBLIC,
    # Litestar's catch-all under /schema: every other path there is a 404, for everybody
    ("GET", "/schema/{path:str}"): Expect(**{c: HIDDEN for c in CALLERS}),
    # organizations
    ("POST", "/orgs"): ADMIN_ONLY,
    ("GET", "/orgs/{slug:str}"): PUBLIC,
    ("GET", "/orgs/me"): OWN_ORG,
    ("PATCH", "/orgs/me"): OWN_ORG,
    ("GET", "/orgs/me/api-keys"): OWN_ORG,
    ("POST", "/orgs/me/api-keys"): OWN_ORG,
    ("DELETE", "/orgs/me/api-keys/{prefix:str}"): OWNER_ONLY,
    ("GET", "/orgs/me/members"): OWN_ORG,
    # a 409 for organizations that are no federation: still past authorization
    ("POST", "/orgs/me/members"): OWN_ORG,
    # the owner (a federation) asked the co-host to join; membership is no co-hosting, so
    # the end of the agreement changes nothing here
    ("DELETE", "/orgs/me/members/{slug:str}"): OWNER_ONLY,
    ("GET", "/orgs/me/memberships"): OWN_ORG,
    ("POST", "/orgs/me/memberships/{federation_slug:str}/accept"): OWNER_ONLY.but(
        owner=HIDDEN, cohost=OK, former=OK
    ),
    ("DELETE", "/orgs/me/memberships/{federation_slug:str}"): OWNER_ONLY.but(
        owner=HIDDEN, cohost=OK, former=OK
    ),
    # contacts
    ("GET", "/orgs/me/contacts"): OWN_ORG,
    ("POST", "/orgs/me/contacts"): OWN_ORG,
    ("POST", "/orgs/me/contacts.csv"): OWN_ORG,
    ("PATCH", "/orgs/me/contacts/{email:str}"): OWNER_ONLY,
    ("DELETE", "/orgs/me/contacts/{email:str}"): OWNER_ONLY,
    # events
    ("GET", "/events"): OWN_ORG,
    ("POST", "/events"): OWN_ORG,
    # the JSON form needs a key (the .ics form of a public event does not)
    ("GET", E): COHOSTED,
    ("PATCH", E): COHOSTED,
    ("POST", E + "/cancel"): COHOSTED,
    ("PUT", E + "/agenda"): COHOSTED,
    ("PATCH", E + "/occurrences/{occurrence:str}"): COHOSTED,
    ("GET", E + "/reminders"): COHOSTED,
    # invitations and answers
    ("GET", E + "/invitations"): COHOSTED,
    ("POST", E + "/invitations"): COHOSTED,
    ("DELETE", E + "/invitations/{email:str}"): COHOSTED,
    ("GET", E + "/attendance"): COHOSTED,
    ("GET", E + "/attendance.csv"): COHOSTED,
    ("GET", "/rsvp/{token:str}"): CAPABILITY,
    ("POST", "/rsvp/{token:str}"): CAPABILITY,
    # trainings
    ("POST", E + "/attendance"): COHOSTED,
    ("GET", E + "/completion"): COHOSTED,
    ("GET", E + "/completion.csv"): COHOSTED,
    ("GET", "/certificates/{code:str}"): CAPABILITY,
    ("POST", "/certificates/{code:str}/revoke"): COHOSTED,
    # exchange visits: the hosts see every delegation; a delegation is named only by its
    # own (visiting) organization's key, which is none of these callers
    ("GET", E + "/delegations"): COHOSTED,
    ("PUT", E + "/delegations/{slug:str}"): COHOSTED.but(cohost=HIDDEN, owner=HIDDEN),
    # agreements: a party keeps reading an ended agreement it was party to (the end itself
    # is part of its record); only the events under it stop being co-hosted
    ("GET", "/partnerships"): OWN_ORG,
    ("POST", "/partnerships"): OWN_ORG,
    ("GET", "/partnerships/{partnership_id:str}"): COHOSTED.but(former=OK),
    ("POST", "/partnerships/{partnership_id:str}/accept"): COHOSTED.but(former=OK),
    ("POST", "/partnerships/{partnership_id:str}/end"): COHOSTED.but(former=OK),
    ("GET", "/partnerships/{partnership_id:str}/programme"): COHOSTED.but(former=OK),
    # feeds: public feeds and the person's secret link need no key
    ("GET", "/feeds/orgs/{ref:str}"): PUBLIC,
    ("HEAD", "/feeds/orgs/{ref:str}"): PUBLIC,
    ("GET", "/feeds/partnerships/{ref:str}"): PUBLIC,
    ("HEAD", "/feeds/partnerships/{ref:str}"): PUBLIC,
    ("GET", "/feeds/people/{ref:str}"): CAPABILITY,
    ("HEAD", "/feeds/people/{ref:str}"): CAPABILITY,
    # the person's own link to a new feed token, from their e-mails: the link is the key
    ("GET", "/feeds/rotate/{token:str}"): CAPABILITY,
    ("POST", "/feeds/rotate/{token:str}"): CAPABILITY,
    # replies held because they did not come to the invitation's own reply address
    ("GET", E + "/replies"): COHOSTED,
    ("POST", E + "/replies/{reply_id:str}/apply"): COHOSTED,
    ("POST", E + "/replies/{reply_id:str}/discard"): COHOSTED,
    # webhooks
    ("GET", "/webhooks"): OWN_ORG,
    ("POST", "/webhooks"): OWN_ORG,
    ("DELETE", "/webhooks/{webhook_id:str}"): OWNER_ONLY,
    ("GET", "/webhooks/{webhook_id:str}/deliveries"): OWNER_ONLY,
    # inbound e-mail
    ("POST", "/inbound/email"): INBOUND_ONLY,
}


def _app_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route handler of the app, as the router holds them."""
    from events_svc.app import create_app
    from events_svc.settings import Settings

    settings = Settings.from_env()
    found: set[tuple[str, str]] = set()
    for route in create_app(settings).routes:
        if route.path.startswith(DEV_ONLY_PREFIX):
            continue
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                if method != "OPTIONS":  # Litestar's own CORS/Allow answer on every path
                    found.add((str(method), route.path))
    return sorted(found, key=lambda r: (r[1], r[0]))


def _cells() -> Iterator[Any]:
    # conftest's pytest_configure has set the environment before this module is collected
    for method, path in _app_routes():
        for caller in CALLERS:
            yield pytest.param(method, path, caller, id=f"{method} {path} {caller}")


SAFE_METHODS = frozenset({"GET", "HEAD"})


# --- what each route is sent ------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


MESSAGE = (
    b"From: zhang.san@invitee.example.org\r\nTo: events@events.example.org\r\n"
    b"Subject: hello\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nno calendar here\r\n"
)

#: the request each route is sent, with path parameters taken from the world
CALLS: dict[tuple[str, str], Callable[[dict[str, str]], Call]] = {
    ("GET", "/schema/{path:str}"): lambda p: Call("/schema/openapi.yaml"),
    ("POST", "/orgs"): lambda p: Call(
        "/orgs",
        json={"slug": f"new{p['n']}", "name": "新协会", "email": "office@new.example.org"},
    ),
    ("GET", "/orgs/{slug:str}"): lambda p: Call(f"/orgs/{p['host']}"),
    ("PATCH", "/orgs/me"): lambda p: Call("/orgs/me", json={"region": "北京市"}),
    ("POST", "/orgs/me/api-keys"): lambda p: Call("/orgs/me/api-keys", json={"label": "ci"}),
    ("DELETE", "/orgs/me/api-keys/{prefix:str}"): lambda p: Call(
        f"/orgs/me/api-keys/{p['prefix']}"
    ),
    ("POST", "/orgs/me/members"): lambda p: Call(
        "/orgs/me/members", json={"slugs": [p["visitor"]]}
    ),
    ("DELETE", "/orgs/me/members/{slug:str}"): lambda p: Call(f"/orgs/me/members/{p['cohost']}"),
    ("POST", "/orgs/me/memberships/{federation_slug:str}/accept"): lambda p: Call(
        f"/orgs/me/memberships/{p['host']}/accept"
    ),
    ("DELETE", "/orgs/me/memberships/{federation_slug:str}"): lambda p: Call(
        f"/orgs/me/memberships/{p['host']}"
    ),
    ("POST", "/orgs/me/contacts"): lambda p: Call(
        "/orgs/me/contacts", json={"email": "wang.wu@new.example.org", "name": "王五"}
    ),
    ("POST", "/orgs/me/contacts.csv"): lambda p: Call(
        "/orgs/me/contacts.csv",
        content="name,email\r\n王五,wang.wu@new.example.org\r\n".encode(),
        content_type="text/csv; charset=utf-8",
    ),
    ("PATCH", "/orgs/me/contacts/{email:str}"): lambda p: Call(
        f"/orgs/me/contacts/{p['contact']}", json={"title": "秘书长"}
    ),
    ("DELETE", "/orgs/me/contacts/{email:str}"): lambda p: Call(
        f"/orgs/me/contacts/{p['contact']}"
    ),
    ("POST", "/events"): lambda p: Call("/events", json=event_body()),
    ("GET", E): lambda p: Call(f"/events/{p['course']}"),
    ("PATCH", E): lambda p: Call(f"/events/{p['course']}", json={"description": "新的说明"}),
    ("POST", E + "/cancel"): lambda p: Call(f"/events/{p['course']}/cancel"),
    ("PUT", E + "/agenda"): lambda p: Call(f"/events/{p['course']}/agenda", json={"items": []}),
    ("PATCH", E + "/occurrences/{occurrence:str}"): lambda p: Call(
        f"/events/{p['course']}/occurrences/{p['occurrence']}", json={"status": "cancelled"}
    ),
    ("GET", E + "/reminders"): lambda p: Call(f"/events/{p['course']}/reminders"),
    ("GET", E + "/invitations"): lambda p: Call(f"/events/{p['course']}/invitations"),
    ("POST", E + "/invitations"): lambda p: Call(
        f"/events/{p['course']}/invitations",
        json={"invitees": [{"email": "li.si@invitee.example.org", "name": "李四"}]},
    ),
    ("DELETE", E + "/invitations/{email:str}"): lambda p: Call(
        f"/events/{p['course']}/invitations/{p['invitee']}"
    ),
    ("GET", E + "/attendance"): lambda p: Call(f"/events/{p['course']}/attendance"),
    ("GET", E + "/attendance.csv"): lambda p: Call(f"/events/{p['course']}/attendance.csv"),
    ("POST", E + "/attendance"): lambda p: Call(
        f"/events/{p['course']}/attendance",
        json={"email": p["invitee"], "occurrence": p["occurrence"]},
    ),
    ("GET", E + "/completion"): lambda p: Call(f"/events/{p['course']}/completion"),
    ("GET", E + "/completion.csv"): lambda p: Call(f"/events/{p['course']}/completion.csv"),
    ("GET", "/rsvp/{token:str}"): lambda p: Call(
        f"/rsvp/{p['rsvp']}", headers={"Accept": "application/json"}
    ),
    ("POST", "/rsvp/{token:str}"): lambda p: Call(
        f"/rsvp/{p['rsvp']}", json={"response": "accepted"}
    ),
    ("GET", "/certificates/{code:str}"): lambda p: Call(f"/certificates/{p['certificate']}"),
    ("POST", "/certificates/{code:str}/revoke"): lambda p: Call(
        f"/certificates/{p['certificate']}/revoke"
    ),
    ("GET", E + "/delegations"): lambda p: Call(f"/events/{p['visit']}/delegations"),
    ("PUT", E + "/delegations/{slug:str}"): lambda p: Call(
        f"/events/{p['visit']}/delegations/{p['visitor']}",
        json={"leader": "lead@visitor.example.org"},
    ),
    ("POST", "/partnerships"): lambda p: Call(
        "/partnerships", json={"partners": [p["visitor"]], "title": "京港合作备忘录"}
    ),
    ("GET", "/partnerships/{partnership_id:str}"): lambda p: Call(
        f"/partnerships/{p['partnership_id']}"
    ),
    ("POST", "/partnerships/{partnership_id:str}/accept"): lambda p: Call(
        f"/partnerships/{p['partnership_id']}/accept"
    ),
    ("POST", "/partnerships/{partnership_id:str}/end"): lambda p: Call(
        f"/partnerships/{p['partnership_id']}/end"
    ),
    ("GET", "/partnerships/{partnership_id:str}/programme"): lambda p: Call(
        f"/partnerships/{p['partnership_id']}/programme"
    ),
    ("GET", "/feeds/orgs/{ref:str}"): lambda p: Call(f"/feeds/orgs/{p['host']}.ics"),
    ("HEAD", "/feeds/orgs/{ref:str}"): lambda p: Call(f"/feeds/orgs/{p['host']}.ics"),
    ("GET", "/feeds/partnerships/{ref:str}"): lambda p: Call(
        f"/feeds/partnerships/{p['partnership_id']}.ics"
    ),
    ("HEAD", "/feeds/partnerships/{ref:str}"): lambda p: Call(
        f"/feeds/partnerships/{p['partnership_id']}.ics"
    ),
    ("GET", "/feeds/people/{ref:str}"): lambda p: Call(f"/feeds/people/{p['feed']}.ics"),
    ("HEAD", "/feeds/people/{ref:str}"): lambda p: Call(f"/feeds/people/{p['feed']}.ics"),
    ("GET", "/feeds/rotate/{token:str}"): lambda p: Call(f"/feeds/rotate/{p['feed_rotation']}"),
    ("POST", "/feeds/rotate/{token:str}"): lambda p: Call(f"/feeds/rotate/{p['feed_rotation']}"),
    ("GET", E + "/replies"): lambda p: Call(f"/events/{p['course']}/replies?status=held"),
    ("POST", E + "/replies/{reply_id:str}/apply"): lambda p: Call(
        f"/events/{p['course']}/replies/{p['reply_id']}/apply"
    ),
    ("POST", E + "/replies/{reply_id:str}/discard"): lambda p: Call(
        f"/events/{p['course']}/replies/{p['reply_id']}/discard"
    ),
    ("POST", "/webhooks"): lambda p: Call(
        "/webhooks", json={"url": "https://hooks.example.org/x", "events": ["rsvp.changed"]}
    ),
    ("DELETE", "/webhooks/{webhook_id:str}"): lambda p: Call(f"/webhooks/{p['webhook_id']}"),
    ("GET", "/webhooks/{webhook_id:str}/deliveries"): lambda p: Call(
        f"/webhooks/{p['webhook_id']}/deliveries"
    ),
    ("POST", "/inbound/email"): lambda p: Call(
        "/inbound/email", content=MESSAGE, content_type="message/rfc822"
    ),
}


def _call(method: str, path: str, params: dict[str, str]) -> Call:
    make = CALLS.get((method, path))
    if make is not None:
        return make(params)
    assert "{" not in path, f"{method} {path}: say in CALLS how to fill its path parameters"
    return Call(path)


def outcome(status: int) -> str:
    if status in (401, 403, 404):
        return str(status)
    return OK


def test_every_route_is_declared() -> None:
    """A new endpoint cannot slip past the matrix; a removed one leaves no stale row."""
    routes = set(_app_routes())
    missing = sorted(routes - set(EXPECT))
    stale = sorted(set(EXPECT) - routes)
    assert not missing, f"routes without a row in EXPECT (say who may call them): {missing}"
    assert not stale, f"rows in EXPECT for routes the app does not have: {stale}"
    assert set(CALLS) <= routes, sorted(set(CALLS) - routes)


@pytest.fixture(autouse=True)
async def clean_state(app: Any) -> AsyncIterator[None]:
    """Replaces the suite's truncation for this module: every world has organizations and
    people of its own, so cells cannot see each other's, and the 500-odd cells need no empty
    database each (the next module's tests truncate as usual). The rate limits' counters are
    emptied: hundreds of refused keys from one address would otherwise meet a 429, which
    tests/integration/test_rate_limits.py covers."""
    keys = [key async for key in app.state.arq.scan_iter(match="events-svc:rl:*")]
    if keys:
        await app.state.arq.delete(*keys)
    yield


#: worlds that requests expected to be refused (and plain reads) share: one per `ended`
_shared: dict[bool, World] = {}


async def _world_for(
    client: Any, settings: Any, *, method: str, caller: str, expect: Expect
) -> World:
    """A world of the cell's own whenever the request may change something; else a shared
    one. A refused request changes nothing (if one did, its own cell fails)."""
    ended = caller == "former"
    refused = getattr(expect, caller) != OK
    if method not in SAFE_METHODS and not refused:
        return await build_world(client, settings, ended=ended)
    shared = _shared.get(ended)
    if shared is None or not await Organization.exists().where(
        Organization.slug == shared.params["host"]
    ):  # none yet, or another module's test truncated the tables in between
        shared = _shared[ended] = await build_world(client, settings, ended=ended)
    return shared


@pytest.mark.parametrize(("method", "path", "caller"), list(_cells()))
async def test_authorization_matrix(
    client: Any,
    settings: Any,
    allow_private_webhooks: Any,  # the world's webhook receiver resolves nowhere here
    method: str,
    path: str,
    caller: str,
) -> None:
    expect = EXPECT.get((method, path))
    assert expect is not None, f"{method} {path} has no row in EXPECT: declare who may call it"
    world = await _world_for(client, settings, method=method, caller=caller, expect=expect)
    call = _call(method, path, world.params)
    headers = dict(call.headers)
    if caller != "anonymous":
        headers.update(auth(world.keys[caller]))
    if call.content_type:
        headers["Content-Type"] = call.content_type
    resp = await client.request(
        method, call.path, json=call.json, content=call.content, headers=headers
    )
    assert resp.status_code < 500, (resp.status_code, resp.text)
    wanted = getattr(expect, caller)
    assert outcome(resp.status_code) == wanted, (
        f"{caller} {method} {call.path}: expected {wanted}, got {resp.status_code} {resp.text}"
    )
