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
    # console sessions (a cookie, no Authorization): the host's admin and editor, and the
    # admin of the unrelated organization
    "session_admin",
    "session_editor",
    "session_other",
)
SESSIONS = ("session_admin", "session_editor", "session_other")

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
    #: a console session does not authenticate the JSON API
    session_admin: str = UNAUTH
    session_editor: str = UNAUTH
    session_other: str = UNAUTH

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
C = "/console/events/{event_id:str}"
#: console pages of one's own organization: any signed-in organizer; an API key is no session
CONSOLE = Expect(
    other=UNAUTH,
    cohost=UNAUTH,
    former=UNAUTH,
    owner=UNAUTH,
    session_admin=OK,
    session_editor=OK,
    session_other=OK,
)
#: console pages of the host's event: its organizers; another organization's are 404
CONSOLE_EVENT = CONSOLE.but(session_other=HIDDEN)
#: admin pages: an editor gets 403
CONSOLE_ADMIN = CONSOLE.but(session_editor=FORBIDDEN)
#: admin actions naming the host's organizer or key: 404 to another organization's admin
CONSOLE_ADMIN_THING = CONSOLE_ADMIN.but(session_other=HIDDEN)

#: THE table: every (method, path template) of the app, and who gets what
EXPECT: dict[tuple[str, str], Expect] = {
    # health and the OpenAPI documents
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/healthz/workers"): PUBLIC,
    # METRICS_TOKEN only: no organization key, nor the admin or inbound token, opens it
    ("GET", "/metrics"): Expect(other=UNAUTH, cohost=UNAUTH, former=UNAUTH, owner=UNAUTH),
    # send progress (issue 16): an event's like its invitations; the organization's own
    ("GET", E + "/deliveries"): COHOSTED,
    ("POST", E + "/deliveries/{notification_id:str}/retry"): COHOSTED,
    ("GET", "/orgs/me/deliveries"): OWN_ORG,
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
    # organizers (an API key acts as an admin)
    ("GET", "/orgs/me/organizers"): OWN_ORG,
    ("POST", "/orgs/me/organizers"): OWN_ORG,
    ("PATCH", "/orgs/me/organizers/{email:str}"): OWNER_ONLY,
    ("DELETE", "/orgs/me/organizers/{email:str}"): OWNER_ONLY,
    # the page shell: its stylesheet and script, the language switch
    ("GET", "/assets/{name:str}"): PUBLIC,
    ("GET", "/language/{locale:str}"): PUBLIC,
    # public pages and self-registration: no sign-in; a confirmation link is its own key
    ("GET", "/o/{slug:str}"): PUBLIC,
    ("GET", "/e/{event_id:str}"): PUBLIC,
    ("POST", "/e/{event_id:str}/register"): PUBLIC,
    ("GET", "/register/confirm/{token:str}"): CAPABILITY,
    ("POST", "/register/confirm/{token:str}"): CAPABILITY,
    ("GET", E + "/registrations"): COHOSTED,
    # a check-in QR code: the page names nobody unless an organizer of the event opens it
    ("GET", "/check-in/{token:str}"): PUBLIC.but(session_other=HIDDEN),
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
    ("GET", E + "/activity"): COHOSTED,
    # invitations and answers
    ("GET", E + "/invitations"): COHOSTED,
    ("POST", E + "/invitations"): COHOSTED,
    ("DELETE", E + "/invitations/{email:str}"): COHOSTED,
    ("POST", E + "/invitations/{email:str}/resend"): COHOSTED,
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
    # the console: signing in needs nobody (a forged link is a 410 page for everyone)
    ("GET", "/console/sign-in"): PUBLIC,
    ("POST", "/console/sign-in"): PUBLIC,
    ("GET", "/console/sign-in/{token:str}"): PUBLIC,
    ("POST", "/console/sign-in/{token:str}"): PUBLIC,
    ("POST", "/console/sign-out"): CONSOLE,
    ("POST", "/console/sign-out-everywhere"): CONSOLE,
    ("GET", "/console"): CONSOLE,
    ("GET", "/console/events"): CONSOLE,
    ("POST", "/console/events"): CONSOLE,
    ("GET", "/console/events/new"): CONSOLE,
    ("GET", C): CONSOLE_EVENT,
    ("GET", C + "/edit"): CONSOLE_EVENT,
    ("POST", C + "/edit"): CONSOLE_EVENT,
    ("POST", C + "/cancel"): CONSOLE_EVENT,
    ("POST", C + "/occurrence"): CONSOLE_EVENT,
    ("GET", C + "/progress.json"): CONSOLE_EVENT,
    ("GET", C + "/invitations"): CONSOLE_EVENT,
    ("POST", C + "/invitations"): CONSOLE_EVENT,
    ("POST", C + "/invitations/preview"): CONSOLE_EVENT,
    ("POST", C + "/invitations/{email:str}/resend"): CONSOLE_EVENT,
    ("GET", C + "/answers"): CONSOLE_EVENT,
    ("GET", C + "/answers.csv"): CONSOLE_EVENT,
    ("GET", C + "/check-in"): CONSOLE_EVENT,
    ("GET", C + "/activity"): CONSOLE_EVENT,
    ("GET", C + "/agenda"): CONSOLE_EVENT,
    ("POST", C + "/agenda"): CONSOLE_EVENT,
    ("GET", C + "/completion"): CONSOLE_EVENT,
    ("GET", C + "/delegations"): CONSOLE_EVENT,
    ("POST", C + "/certificates/{code:str}/revoke"): CONSOLE_EVENT,
    ("POST", C + "/check-in"): CONSOLE_EVENT,
    ("GET", "/console/contacts"): CONSOLE,
    ("GET", "/console/visits"): CONSOLE,
    # a delegation is named by the visiting organization only: the hosts' sessions get 404
    ("POST", "/console/visits/{event_id:str}"): CONSOLE.but(
        session_admin=HIDDEN, session_editor=HIDDEN, session_other=HIDDEN
    ),
    ("POST", "/console/contacts"): CONSOLE,
    ("POST", "/console/contacts/import"): CONSOLE,
    ("POST", "/console/contacts/{email:str}/remove"): CONSOLE.but(session_other=HIDDEN),
    ("GET", "/console/organizers"): CONSOLE_ADMIN,
    ("POST", "/console/organizers"): CONSOLE_ADMIN,
    ("POST", "/console/organizers/{email:str}"): CONSOLE_ADMIN_THING,
    ("POST", "/console/organizers/{email:str}/remove"): CONSOLE_ADMIN_THING,
    ("GET", "/console/api-keys"): CONSOLE_ADMIN,
    ("GET", "/console/webhooks"): CONSOLE_ADMIN,
    ("GET", "/console/agreements"): CONSOLE_ADMIN,
    ("POST", "/console/agreements"): CONSOLE_ADMIN,
    ("GET", "/console/agreements/{partnership_id:str}"): CONSOLE_ADMIN_THING,
    ("POST", "/console/agreements/{partnership_id:str}/accept"): CONSOLE_ADMIN_THING,
    ("POST", "/console/agreements/{partnership_id:str}/end"): CONSOLE_ADMIN_THING,
    ("GET", "/console/members"): CONSOLE_ADMIN,
    ("POST", "/console/members"): CONSOLE_ADMIN,
    ("POST", "/console/members/{slug:str}/remove"): CONSOLE_ADMIN_THING,
    # the host asked the co-host to join: only an organization asked can accept or leave
    ("POST", "/console/memberships/{slug:str}/accept"): CONSOLE_ADMIN_THING.but(
        session_admin=HIDDEN
    ),
    ("POST", "/console/memberships/{slug:str}/leave"): CONSOLE_ADMIN_THING.but(
        session_admin=HIDDEN
    ),
    ("POST", "/console/webhooks"): CONSOLE_ADMIN,
    ("GET", "/console/webhooks/{webhook_id:str}"): CONSOLE_ADMIN_THING,
    ("POST", "/console/webhooks/{webhook_id:str}/revoke"): CONSOLE_ADMIN_THING,
    ("POST", "/console/api-keys"): CONSOLE_ADMIN,
    ("POST", "/console/api-keys/{prefix:str}/revoke"): CONSOLE_ADMIN_THING,
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
    #: a console form (the session's CSRF token is added for session callers)
    form: dict[str, str] | None = None


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
    ("POST", "/orgs/me/organizers"): lambda p: Call(
        "/orgs/me/organizers", json={"email": f"editor{p['n']}@new.example.org", "role": "editor"}
    ),
    ("PATCH", "/orgs/me/organizers/{email:str}"): lambda p: Call(
        f"/orgs/me/organizers/{p['organizer']}", json={"locale": "en"}
    ),
    ("DELETE", "/orgs/me/organizers/{email:str}"): lambda p: Call(
        f"/orgs/me/organizers/{p['organizer']}"
    ),
    ("GET", "/assets/{name:str}"): lambda p: Call("/assets/site.css"),
    ("GET", "/language/{locale:str}"): lambda p: Call("/language/en?next=/console"),
    ("GET", "/o/{slug:str}"): lambda p: Call(f"/o/{p['host']}"),
    ("GET", "/e/{event_id:str}"): lambda p: Call(f"/e/{p['course']}"),
    # the course takes no registrations: past the guards, the answer is a 409 page
    ("POST", "/e/{event_id:str}/register"): lambda p: Call(
        f"/e/{p['course']}/register",
        form={"email": "someone@example.org", "_csrf": p["browser_csrf"]},
        headers={"Cookie": f"console_browser={p['browser']}"},
    ),
    ("GET", "/register/confirm/{token:str}"): lambda p: Call(
        "/register/confirm/00000000000000000000000000000000.forged"
    ),
    ("POST", "/register/confirm/{token:str}"): lambda p: Call(
        "/register/confirm/00000000000000000000000000000000.forged", form={}
    ),
    ("GET", E + "/registrations"): lambda p: Call(f"/events/{p['course']}/registrations"),
    ("GET", "/check-in/{token:str}"): lambda p: Call(f"/check-in/{p['checkin']}"),
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
    ("GET", E + "/activity"): lambda p: Call(f"/events/{p['course']}/activity"),
    ("GET", E + "/invitations"): lambda p: Call(f"/events/{p['course']}/invitations"),
    ("POST", E + "/invitations"): lambda p: Call(
        f"/events/{p['course']}/invitations",
        json={"invitees": [{"email": "li.si@invitee.example.org", "name": "李四"}]},
    ),
    ("DELETE", E + "/invitations/{email:str}"): lambda p: Call(
        f"/events/{p['course']}/invitations/{p['invitee']}"
    ),
    ("POST", E + "/invitations/{email:str}/resend"): lambda p: Call(
        f"/events/{p['course']}/invitations/{p['invitee']}/resend"
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
    # the sign-in form is posted by a browser with its id cookie and the matching token
    ("POST", "/console/sign-in"): lambda p: Call(
        "/console/sign-in",
        form={"email": f"office@{p['host']}.example.org", "_csrf": p["browser_csrf"]},
        headers={"Cookie": f"console_browser={p['browser']}"},
    ),
    ("GET", "/console/sign-in/{token:str}"): lambda p: Call("/console/sign-in/forged.x"),
    ("POST", "/console/sign-in/{token:str}"): lambda p: Call(
        "/console/sign-in/forged.x",
        form={"_csrf": p["browser_csrf"]},
        headers={"Cookie": f"console_browser={p['browser']}"},
    ),
    ("POST", "/console/sign-out"): lambda p: Call("/console/sign-out", form={}),
    ("POST", "/console/sign-out-everywhere"): lambda p: Call(
        "/console/sign-out-everywhere", form={}
    ),
    ("POST", "/console/events"): lambda p: Call("/console/events", form={"title": ""}),
    ("GET", C): lambda p: Call(f"/console/events/{p['course']}"),
    ("GET", C + "/edit"): lambda p: Call(f"/console/events/{p['course']}/edit"),
    ("POST", C + "/edit"): lambda p: Call(
        f"/console/events/{p['course']}/edit", form={"title": ""}
    ),
    ("POST", C + "/cancel"): lambda p: Call(f"/console/events/{p['course']}/cancel", form={}),
    ("POST", C + "/occurrence"): lambda p: Call(
        f"/console/events/{p['course']}/occurrence",
        form={"occurrence": p["occurrence"], "action": "cancel"},
    ),
    ("GET", C + "/progress.json"): lambda p: Call(
        f"/console/events/{p['course']}/progress.json?rows=1"
    ),
    ("GET", C + "/invitations"): lambda p: Call(f"/console/events/{p['course']}/invitations"),
    ("POST", C + "/invitations"): lambda p: Call(
        f"/console/events/{p['course']}/invitations",
        form={"pasted": "李四 <li.si@invitee.example.org>"},
    ),
    ("POST", C + "/invitations/preview"): lambda p: Call(
        f"/console/events/{p['course']}/invitations/preview",
        form={"pasted": "李四 <li.si@invitee.example.org>"},
    ),
    ("POST", C + "/invitations/{email:str}/resend"): lambda p: Call(
        f"/console/events/{p['course']}/invitations/{p['invitee']}/resend", form={}
    ),
    ("GET", C + "/answers"): lambda p: Call(f"/console/events/{p['course']}/answers"),
    ("GET", C + "/answers.csv"): lambda p: Call(f"/console/events/{p['course']}/answers.csv"),
    ("GET", C + "/check-in"): lambda p: Call(f"/console/events/{p['course']}/check-in"),
    ("GET", C + "/activity"): lambda p: Call(f"/console/events/{p['course']}/activity"),
    ("GET", C + "/agenda"): lambda p: Call(f"/console/events/{p['course']}/agenda"),
    ("POST", C + "/agenda"): lambda p: Call(
        f"/console/events/{p['course']}/agenda", form={"agenda": ""}
    ),
    ("GET", C + "/completion"): lambda p: Call(f"/console/events/{p['course']}/completion"),
    ("GET", C + "/delegations"): lambda p: Call(f"/console/events/{p['visit']}/delegations"),
    ("POST", C + "/certificates/{code:str}/revoke"): lambda p: Call(
        f"/console/events/{p['course']}/certificates/{p['certificate']}/revoke", form={}
    ),
    ("POST", C + "/check-in"): lambda p: Call(
        f"/console/events/{p['course']}/check-in",
        form={"email": p["invitee"], "session": p["occurrence"]},
    ),
    ("POST", "/console/contacts"): lambda p: Call(
        "/console/contacts", form={"name": "王五", "email": "wang.wu@new.example.org"}
    ),
    ("POST", "/console/contacts/import"): lambda p: Call("/console/contacts/import", form={}),
    ("POST", "/console/visits/{event_id:str}"): lambda p: Call(
        f"/console/visits/{p['visit']}", form={"leader": "lead@visitor.example.org"}
    ),
    ("POST", "/console/contacts/{email:str}/remove"): lambda p: Call(
        f"/console/contacts/{p['contact']}/remove", form={}
    ),
    ("POST", "/console/organizers"): lambda p: Call(
        "/console/organizers", form={"email": "", "role": "editor"}
    ),
    ("POST", "/console/organizers/{email:str}"): lambda p: Call(
        f"/console/organizers/{p['editor']}", form={"role": "editor"}
    ),
    ("POST", "/console/organizers/{email:str}/remove"): lambda p: Call(
        f"/console/organizers/{p['editor']}/remove", form={}
    ),
    ("POST", "/console/api-keys"): lambda p: Call("/console/api-keys", form={"label": "ci"}),
    ("POST", "/console/agreements"): lambda p: Call(
        "/console/agreements", form={"partners": p["visitor"], "title": "京港合作备忘录"}
    ),
    ("GET", "/console/agreements/{partnership_id:str}"): lambda p: Call(
        f"/console/agreements/{p['partnership_id']}"
    ),
    ("POST", "/console/agreements/{partnership_id:str}/accept"): lambda p: Call(
        f"/console/agreements/{p['partnership_id']}/accept", form={}
    ),
    ("POST", "/console/agreements/{partnership_id:str}/end"): lambda p: Call(
        f"/console/agreements/{p['partnership_id']}/end", form={}
    ),
    ("POST", "/console/members"): lambda p: Call("/console/members", form={"slugs": p["visitor"]}),
    ("POST", "/console/members/{slug:str}/remove"): lambda p: Call(
        f"/console/members/{p['cohost']}/remove", form={}
    ),
    ("POST", "/console/memberships/{slug:str}/accept"): lambda p: Call(
        f"/console/memberships/{p['host']}/accept", form={}
    ),
    ("POST", "/console/memberships/{slug:str}/leave"): lambda p: Call(
        f"/console/memberships/{p['host']}/leave", form={}
    ),
    ("POST", "/console/webhooks"): lambda p: Call(
        "/console/webhooks", form={"url": "https://hooks.example.org/y", "events": "rsvp.changed"}
    ),
    ("GET", "/console/webhooks/{webhook_id:str}"): lambda p: Call(
        f"/console/webhooks/{p['webhook_id']}"
    ),
    ("POST", "/console/webhooks/{webhook_id:str}/revoke"): lambda p: Call(
        f"/console/webhooks/{p['webhook_id']}/revoke", form={}
    ),
    ("POST", "/console/api-keys/{prefix:str}/revoke"): lambda p: Call(
        f"/console/api-keys/{p['prefix']}/revoke", form={}
    ),
    ("GET", E + "/deliveries"): lambda p: Call(f"/events/{p['course']}/deliveries"),
    ("POST", E + "/deliveries/{notification_id:str}/retry"): lambda p: Call(
        f"/events/{p['course']}/deliveries/{p['notification_id']}/retry"
    ),
}


def _call(method: str, path: str, params: dict[str, str]) -> Call:
    make = CALLS.get((method, path))
    if make is not None:
        return make(params)
    assert "{" not in path, f"{method} {path}: say in CALLS how to fill its path parameters"
    return Call(path)


def outcome(status: int, location: str = "") -> str:
    if status in (401, 403, 404):
        return str(status)
    if status == 303 and location.startswith("/console/sign-in?next="):
        return UNAUTH  # a console page without a session sends the browser to sign in
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
    form = dict(call.form) if call.form is not None else None
    if caller in SESSIONS:
        session = world.sessions[caller]
        cookie = f"console_session={session['cookie']}"
        headers["Cookie"] = f"{headers['Cookie']}; {cookie}" if "Cookie" in headers else cookie
        if form is not None and "_csrf" not in form:
            form["_csrf"] = session["csrf"]
    elif caller != "anonymous":
        headers.update(auth(world.keys[caller]))
    if call.content_type:
        headers["Content-Type"] = call.content_type
    # the client keeps no cookies between cells: each cell says who it is
    client.cookies.clear()
    resp = await client.request(
        method, call.path, json=call.json, content=call.content, data=form, headers=headers
    )
    assert resp.status_code < 500, (resp.status_code, resp.text)
    wanted = getattr(expect, caller)
    assert outcome(resp.status_code, resp.headers.get("location", "")) == wanted, (
        f"{caller} {method} {call.path}: expected {wanted}, got {resp.status_code} {resp.text}"
    )
