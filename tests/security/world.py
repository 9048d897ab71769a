"""A world of real rows for tests that call every route: organizations and keys, an
agreement, a co-hosted training with an invitee and a certificate, a co-hosted exchange visit, a
contact, a webhook, a pending membership. Used by the authorization matrix and the fuzz run."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import ADMIN_TOKEN, INBOUND_TOKEN
from tests.helpers import auth, event_body

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class World:
    keys: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: console sessions by caller: {"cookie": ..., "csrf": ...}
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    return resp.json() if resp.content else None


_worlds = itertools.count(1)


async def _beat_for_the_run(settings: Any) -> None:
    import time

    from arq.connections import create_pool

    from events_svc.jobs import BEATS_KEY, redis_settings

    redis = await create_pool(redis_settings(settings.redis_url))
    try:
        await redis.hset(BEATS_KEY, "matrix-worker", str(time.time() + 3600))
    finally:
        await redis.aclose()


async def build_world(client: Any, settings: Any, *, ended: bool) -> World:
    """Orgs and keys, an agreement, a co-hosted training course with an invitee and a
    certificate, a co-hosted exchange visit, a contact, a webhook, a pending membership.

    Every world has organizations, people and addresses of its own (suffix `n`), so many
    worlds live side by side in one database without touching each other."""
    from events_svc.invitations.tables import Invitation
    from events_svc.orgs import members as org_members
    from events_svc.orgs import service as orgs
    from events_svc.people.tables import Person
    from events_svc.rsvp.checkin_link import checkin_token
    from events_svc.rsvp.tokens import make_token

    n = next(_worlds)
    slugs = {role: f"{role}{n}" for role in ("host", "cohost", "other", "visitor")}
    invitee, contact = f"zhang.san.{n}@invitee.example.org", f"mishu.{n}@host.example.org"
    made = {}
    for role, name in (
        ("host", "北京社会工作者协会"),
        ("cohost", "广东省社会工作师联合会"),
        ("other", "上海市社会工作者协会"),
        ("visitor", "香港社会工作者总工会"),
    ):
        made[role] = await orgs.create_org(
            slug=slugs[role],
            name=name,
            email=f"office@{slugs[role]}.example.org",
            kind="federation" if role == "host" else None,
        )
    host_id = uuid.UUID(made["host"][0].id)
    owner_key, cohost_key = made["host"][1], made["cohost"][1]
    spare, _ = await orgs.create_api_key(org_id=host_id, label="spare")
    revoked, revoked_key = await orgs.create_api_key(org_id=host_id, label="old")
    await orgs.revoke_api_key(org_id=host_id, prefix=revoked.prefix)
    owner, cohost = auth(owner_key), auth(cohost_key)

    # the owner, a federation, asks the co-host to join; pending until the co-host accepts
    await org_members.add_members(org_id=host_id, slugs=[slugs["cohost"]])
    deal = await _ok(
        await client.post(
            "/partnerships",
            json={
                "partners": [slugs["cohost"]],
                "title": "京粤社工战略合作协议",
                "areas": ["督导"],
            },
            headers=owner,
        ),
        201,
    )
    await _ok(await client.post(f"/partnerships/{deal['id']}/accept", headers=cohost))

    # a weekly course of two sessions: the first was six days ago, the second is tomorrow
    first = datetime.now(SHANGHAI).replace(tzinfo=None, hour=14, minute=0, second=0, microsecond=0)
    first -= timedelta(days=6)
    course = await _ok(
        await client.post(
            "/events",
            json=event_body(
                kind="training",
                title="督导人才培养",
                starts_at=_iso(first),
                ends_at=_iso(first + timedelta(hours=3)),
                recurrence="FREQ=WEEKLY;COUNT=2",
                completion_threshold=0.5,
                partnership=deal["id"],
                area="督导",
                cohosts=[slugs["cohost"]],
            ),
            headers=owner,
        ),
        201,
    )
    await _ok(
        await client.post(
            f"/events/{course['id']}/invitations",
            json={"invitees": [{"email": invitee, "name": "张三"}]},
            headers=owner,
        ),
        202,
    )
    # one of two sessions completes this course: the certificate is issued
    checked = await _ok(
        await client.post(
            f"/events/{course['id']}/attendance",
            json={"email": invitee, "occurrence": _iso(first)},
            headers=owner,
        ),
        201,
    )
    visit = await _ok(
        await client.post(
            "/events",
            json=event_body(
                kind="exchange_visit",
                title="京港社工交流座谈会",
                partnership=deal["id"],
                cohosts=[slugs["cohost"]],
                visiting=[slugs["visitor"]],
            ),
            headers=owner,
        ),
        201,
    )
    await _ok(
        await client.post(
            "/orgs/me/contacts", json={"email": contact, "name": "秘书处"}, headers=owner
        ),
        201,
    )
    hook = await _ok(
        await client.post(
            "/webhooks",
            json={
                "url": f"https://hooks.{slugs['host']}.example.org/x",
                "events": ["rsvp.changed"],
            },
            headers=owner,
        ),
        201,
    )
    invitation = (
        await Invitation.select(Invitation.id, Invitation.generation)
        .where(Invitation.event == uuid.UUID(course["id"]))
        .first()
    )
    person = await Person.select(Person.feed_token).where(Person.email_key == invitee).first()
    assert invitation is not None and person is not None and person["feed_token"]
    # a REPLY that reached the plain address, held for the hosts to apply or discard
    from events_svc.feeds.tokens import make_token as rotation_token
    from events_svc.inbound.tables import HeldReply

    reply_id = uuid.uuid4()
    await HeldReply.raw(
        "INSERT INTO held_reply (id, event, invitation, attendee, partstat, recipient, sender,"
        " reason) VALUES ({}, {}, {}, {}, 'ACCEPTED', 'events@events.example.org', {},"
        " 'sent to the plain reply address')",
        reply_id,
        uuid.UUID(course["id"]),
        invitation["id"],
        f"mailto:{invitee}",
        invitee,
    )
    person_row = await Person.select(Person.id).where(Person.email_key == invitee).first()
    assert person_row is not None
    # a message that failed (for the retry route), and a worker whose heartbeat stays fresh
    # through the run (for /healthz/workers, which answers 503 when none is)
    failed = await HeldReply.raw(
        "UPDATE notification SET status = 'failed', last_error = '550 5.1.1 no such user'"
        " WHERE id = (SELECT id FROM notification WHERE event = {} LIMIT 1) RETURNING id",
        uuid.UUID(course["id"]),
    )
    assert failed
    await _beat_for_the_run(settings)
    if ended:
        await _ok(await client.post(f"/partnerships/{deal['id']}/end", headers=owner))

    # console sessions: the host's admin (its contact address) and an editor, and the
    # unrelated organization's admin
    from events_svc.organizers import service as organizers

    editor = f"editor.{n}@{slugs['host']}.example.org"
    await organizers.add_organizer(org_id=host_id, email=editor, name="编辑", role="editor")
    other_id = uuid.UUID(made["other"][0].id)
    sessions = {
        "session_admin": await _session(settings, host_id, f"office@{slugs['host']}.example.org"),
        "session_editor": await _session(settings, host_id, editor),
        "session_other": await _session(settings, other_id, f"office@{slugs['other']}.example.org"),
    }
    from events_svc.web.auth import browser_token

    browser = f"matrix-browser-{n}"

    return World(
        sessions=sessions,
        keys={
            "bad_key": "evs_0123456789ab_" + "x" * 43,
            "revoked": revoked_key,
            "admin": ADMIN_TOKEN,
            "inbound": INBOUND_TOKEN,
            "other": made["other"][1],
            "cohost": cohost_key,
            "former": cohost_key,
            "owner": owner_key,
        },
        params={
            **slugs,
            "n": str(n),
            "invitee": invitee,
            "contact": contact,
            # the host's first admin (its contact address)
            "organizer": f"office@{slugs['host']}.example.org",
            "course": course["id"],
            "visit": visit["id"],
            "occurrence": _iso(first + timedelta(weeks=1)),
            "partnership_id": deal["id"],
            "prefix": spare.prefix,
            "certificate": checked["completion"]["certificate"]["code"],
            "webhook_id": hook["id"],
            "rsvp": make_token(settings.secret_key, invitation["id"], invitation["generation"]),
            "checkin": checkin_token(settings.secret_key, invitation["id"]),
            "feed": person["feed_token"],
            "feed_rotation": rotation_token(
                settings.secret_key, person_row["id"], person["feed_token"]
            ),
            "reply_id": str(reply_id),
            "editor": editor,
            "browser": browser,
            "browser_csrf": browser_token(settings.secret_key, browser),
            "notification_id": str(failed[0]["id"]),
        },
    )


async def _session(settings: Any, org_id: uuid.UUID, email: str) -> dict[str, str]:
    """A console session of the organizer with this address (as a sign-in would start)."""
    from redis.asyncio import Redis

    from events_svc.organizers import service as organizers
    from events_svc.organizers import sessions

    (organizer,) = [
        o for o in await organizers.organizers_for_address(email=email) if o.org_id == org_id
    ]
    redis = Redis.from_url(settings.redis_url)
    try:
        cookie = await sessions.start(
            redis,
            organizer_id=organizer.id,
            org_id=org_id,
            idle=settings.console_session_idle,
            absolute=settings.console_session_absolute,
        )
        loaded = await sessions.load(
            redis,
            cookie,
            idle=settings.console_session_idle,
            absolute=settings.console_session_absolute,
        )
    finally:
        await redis.aclose()
    assert loaded is not None
    return {"cookie": cookie, "csrf": loaded.csrf}
