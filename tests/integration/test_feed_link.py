"""A person's feed link changes only by their own act: the signed link in every mail they get,
a page that asks, a form that rotates. Bound to the token it replaces, the link works once."""

from __future__ import annotations

import re
import uuid
from typing import Any

from events_svc.feeds import tokens
from events_svc.people.tables import Person
from tests.helpers import auth, event_body

BASE = "https://events.example.org"
FEED = re.compile(r"https://events\.example\.org(/feeds/people/[A-Za-z0-9_-]{43}\.ics)")
ROTATE = re.compile(r"https://events\.example\.org(/feeds/rotate/[A-Za-z0-9_-]{43})")
HTML = {"Accept": "text/html"}


async def _invite(client: Any, key: str, email: str, locale: str = "zh-CN", **event: Any) -> None:
    created = await client.post("/events", json=event_body(**event), headers=auth(key))
    assert created.status_code == 201, created.text
    resp = await client.post(
        f"/events/{created.json()['id']}/invitations",
        json={"invitees": [{"email": email, "name": "王芳", "locale": locale}]},
        headers=auth(key),
    )
    assert resp.status_code == 202, resp.text


def _links(smtp: Any, email: str) -> list[tuple[str, str, str]]:
    """(feed path, rotation path, kind) of each mail to `email`, oldest first; both parts
    carry the same links."""
    out = []
    for mail in smtp.for_recipient(email):
        plain = mail.message.get_body(("plain",)).get_content()
        rich = mail.message.get_body(("html",)).get_content()
        feed, rotate = FEED.search(plain), ROTATE.search(plain)
        assert feed and rotate, plain
        assert feed.group(0) in rich and rotate.group(0) in rich
        out.append((feed.group(1), rotate.group(1), mail.message["X-Notification-Kind"]))
    return out


async def test_the_person_rotates_her_link_and_the_old_links_die(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _a, key_a = await make_org(slug="bjswa", name="北京社会工作者协会")
    _b, key_b = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    await _invite(client, key_a, "Wang.Fang@Example.org")
    await _invite(client, key_b, "wang.fang@example.org", title="理事会", kind="meeting")
    await worker.drain()
    (feed, rotate, _), (feed_b, rotate_b, _) = _links(smtp, "wang.fang@example.org")
    assert (feed, rotate) == (feed_b, rotate_b)  # one person, one link, whoever invited
    assert (await client.get(feed)).status_code == 200

    # the organizers cannot break it
    for key in (key_a, key_b):
        old_route = "/people/wang.fang@example.org/feed-token/rotate"
        assert (await client.post(old_route, headers=auth(key))).status_code in (404, 405)
    assert (await client.get(feed)).status_code == 200

    # GET asks and changes nothing (mail scanners follow links)
    page = await client.get(rotate, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<html lang="zh-CN">' in page.text and "更换链接" in page.text
    assert f'action="{rotate}"' in page.text and 'method="post"' in page.text
    assert (await client.get(rotate, headers=HTML)).status_code == 200
    assert (await client.get(feed)).status_code == 200

    smtp.clear()
    done = await client.post(rotate, headers=HTML)
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    new_feed = FEED.search(done.text)
    assert new_feed and new_feed.group(1) != feed
    assert "webcal://events.example.org" + new_feed.group(1) in done.text
    assert "/feeds/rotate/" not in done.text  # the next rotation link goes to her mailbox only
    assert (await client.get(feed)).status_code == 404
    assert (await client.get(new_feed.group(1))).status_code == 200

    # the used link is dead, for the page and the form
    assert (await client.get(rotate, headers=HTML)).status_code == 404
    again = await client.post(rotate)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    assert (await client.get(new_feed.group(1))).status_code == 200

    # she gets the new link by mail, with a new rotation link that works
    await worker.drain()
    ((mailed_feed, next_rotate, kind),) = _links(smtp, "wang.fang@example.org")
    assert kind == "feed-link" and mailed_feed == new_feed.group(1)
    assert next_rotate != rotate
    assert (await client.get(next_rotate, headers=HTML)).status_code == 200


async def test_the_page_speaks_the_persons_language(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _a, key = await make_org()
    await _invite(client, key, "jane@example.org", locale="en")
    await _invite(client, key, "li.lei@example.org", locale="zh-CN")
    await worker.drain()
    ((_f, rotate_en, _),) = _links(smtp, "jane@example.org")
    ((_f, rotate_zh, _),) = _links(smtp, "li.lei@example.org")
    en = await client.get(rotate_en, headers=HTML)
    assert '<html lang="en">' in en.text and "Change my link" in en.text
    assert "jane@example.org" in en.text and "更换" not in en.text
    zh = await client.get(rotate_zh, headers=HTML)
    assert '<html lang="zh-CN">' in zh.text and "更换链接" in zh.text
    assert "Change my link" not in zh.text
    done_en = await client.post(rotate_en)
    assert "Subscribe again" in done_en.text and '<html lang="en">' in done_en.text
    done_zh = await client.post(rotate_zh)
    assert "请用下面的新链接重新订阅" in done_zh.text


async def test_forged_and_malformed_links_are_404(
    client: Any, make_org: Any, smtp: Any, worker: Any, settings: Any
) -> None:
    _a, key = await make_org()
    await _invite(client, key, "wang.fang@example.org")
    await worker.drain()
    ((feed, rotate, _),) = _links(smtp, "wang.fang@example.org")
    (person,) = await Person.select(Person.id, Person.feed_token)
    token = rotate.rsplit("/", 1)[1]
    forged = [
        tokens.make_token("not-the-secret", person["id"], person["feed_token"]),
        tokens.make_token(settings.secret_key, uuid.uuid4(), person["feed_token"]),
        tokens.make_token(settings.secret_key, person["id"], "another-token"),
        token[:30] + ("A" if token[30] != "A" else "B") + token[31:],  # a MAC bit
        token[:20],
        token + "A",
        "%00" * 3,
        "é" * 43,
    ]
    for bad in forged:
        for method in ("GET", "POST"):
            resp = await client.request(method, f"/feeds/rotate/{bad}")
            assert resp.status_code in (404, 422), (bad, method, resp.status_code)
            assert resp.headers["content-type"] == "application/problem+json"
            page = await client.request(method, f"/feeds/rotate/{bad}", headers=HTML)
            assert page.status_code in (404, 422)
        assert (await client.get(feed)).status_code == 200
    page = await client.get(f"/feeds/rotate/{forged[0]}", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "此链接无效或已用过" in page.text and "This link is not valid" in page.text
    (after,) = await Person.select(Person.feed_token)
    assert after["feed_token"] == person["feed_token"]
