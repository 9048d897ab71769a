"""Co-operation agreements and the events two associations host together under one."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from tests.helpers import auth, event_body
from tests.interop.parsers import check_all

AREAS = ["人才交流", "学术交流", "平台建设", "督导人才培养", "行业发展推动"]


async def _agreement(client: Any, key: str, *partners: str, **extra: Any) -> dict[str, Any]:
    body = {
        "partners": list(partners),
        "title": "京粤社工战略合作协议",
        "signed_on": "2026-11-20",
        "areas": AREAS,
        "starts_on": "2027-01-01",
        "ends_on": "2029-12-31",
        **extra,
    }
    resp = await client.post("/partnerships", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_sign_accept_cohost_and_feeds(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _gd, gd = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    _bj, bj = await make_org(slug="bjswa", name="北京社会工作者协会")
    _other, other = await make_org(slug="shswa", name="上海市社会工作者协会")

    deal = await _agreement(client, gd, "bjswa")
    assert deal["status"] == "proposed" and deal["proposer"] == "gdswa"
    assert [p["slug"] for p in deal["parties"]] == ["bjswa", "gdswa"]
    assert deal["areas"] == AREAS
    assert (await client.get(f"/partnerships/{deal['id']}", headers=auth(other))).status_code == 404
    # an event cannot be linked to an agreement that is only proposed
    early = await client.post(
        "/events",
        json=event_body(partnership=deal["id"], cohosts=["bjswa"]),
        headers=auth(gd),
    )
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "partnership"
    accepted = await client.post(f"/partnerships/{deal['id']}/accept", headers=auth(bj))
    assert accepted.json()["status"] == "active"
    assert [p["accepted_at"] is not None for p in accepted.json()["parties"]] == [True, True]
    listed = (await client.get("/partnerships", headers=auth(bj))).json()
    assert [p["id"] for p in listed] == [deal["id"]]

    forum = await client.post(
        "/events",
        json=event_body(partnership=deal["id"], area="学术交流", cohosts=["bjswa"]),
        headers=auth(gd),
    )
    assert forum.status_code == 201, forum.text
    ev = forum.json()
    assert ev["organization"] == "gdswa" and ev["cohosts"] == ["bjswa"]
    assert ev["partnership"] == deal["id"] and ev["area"] == "学术交流"

    # the co-host reads, changes and invites; anyone else still gets 404
    assert (await client.get(f"/events/{ev['id']}", headers=auth(bj))).status_code == 200
    edited = await client.patch(
        f"/events/{ev['id']}", json={"description": "北京协会补充的议程说明"}, headers=auth(bj)
    )
    assert edited.status_code == 200 and edited.json()["description"] == "北京协会补充的议程说明"
    assert (await client.get(f"/events/{ev['id']}", headers=auth(other))).status_code == 404
    assert (
        await client.patch(f"/events/{ev['id']}", json={"title": "x"}, headers=auth(other))
    ).status_code == 404
    mine = (await client.get("/events", headers=auth(bj))).json()["items"]
    assert [e["id"] for e in mine] == [ev["id"]]
    only_host = await client.patch(f"/events/{ev['id']}", json={"cohosts": []}, headers=auth(bj))
    assert only_host.status_code == 422 and only_host.json()["errors"][0]["field"] == "cohosts"

    # the co-host invites its own supervisors by tag
    for email, name, tags in (
        ("dudao@bjswa.example.org", "北京督导", ["督导"]),
        ("huizhang@bjswa.example.org", "北京会长", ["理事"]),
    ):
        added = await client.post(
            "/orgs/me/contacts",
            json={"email": email, "name": name, "title": "督导", "tags": tags},
            headers=auth(bj),
        )
        assert added.status_code == 201, added.text
    invited = await client.post(
        f"/events/{ev['id']}/invitations",
        json={"organizations": [{"slug": "bjswa", "tags": ["督导"]}]},
        headers=auth(bj),
    )
    assert invited.status_code == 202 and invited.json()["invited"] == 1, invited.text
    await worker.drain()
    assert smtp.for_recipient("huizhang@bjswa.example.org") == []
    (mail,) = smtp.for_recipient("dudao@bjswa.example.org")
    text = mail.message.get_body(("plain",)).get_content()
    assert "广东省社会工作师联合会、北京社会工作者协会 邀请您参加" in text

    # every co-host's feed and the partnership's feed carry it
    for url in (
        "/feeds/orgs/gdswa.ics",
        "/feeds/orgs/bjswa.ics",
        f"/feeds/partnerships/{deal['id']}.ics",
    ):
        resp = await client.get(url)
        assert resp.status_code == 200, url
        check_all(resp.content)
        (vevent,) = Calendar.from_ical(resp.content).walk("VEVENT")
        assert str(vevent["UID"]) == ev["uid"], url
        assert vevent["ORGANIZER"].params["CN"] == "广东省社会工作师联合会"
    partnership_feed = Calendar.from_ical(
        (await client.get(f"/feeds/partnerships/{deal['id']}.ics")).content
    )
    assert str(partnership_feed["X-WR-CALNAME"]) == "京粤社工战略合作协议"
    assert (await client.get("/feeds/orgs/shswa.ics")).content.count(b"BEGIN:VEVENT") == 0
    assert (await client.get("/feeds/partnerships/nope.ics")).status_code == 404

    training = await client.post(
        "/events",
        json=event_body(
            kind="training",
            title="督导人才培养",
            starts_at="2027-03-04T14:00:00",
            ends_at="2027-03-04T17:00:00",
            partnership=deal["id"],
            area="督导人才培养",
            cohosts=["bjswa", "gdswa"],  # naming oneself is harmless
        ),
        headers=auth(bj),
    )
    assert training.status_code == 201, training.text
    assert training.json()["cohosts"] == ["gdswa"]
    programme = (
        await client.get(f"/partnerships/{deal['id']}/programme?year=2027", headers=auth(gd))
    ).json()
    by_area = {a["area"]: [e["title"] for e in a["events"]] for a in programme["areas"]}
    assert by_area["学术交流"] == ["第二届社会工作本色与本土论坛"]
    assert by_area["督导人才培养"] == ["督导人才培养"]
    assert by_area["人才交流"] == [] and programme["unassigned"] == []
    assert [a["area"] for a in programme["areas"]] == AREAS
    empty = await client.get(f"/partnerships/{deal['id']}/programme?year=2030", headers=auth(gd))
    assert all(a["events"] == [] for a in empty.json()["areas"])
    assert (
        await client.get(f"/partnerships/{deal['id']}/programme", headers=auth(other))
    ).status_code == 404

    ended = await client.post(f"/partnerships/{deal['id']}/end", headers=auth(bj))
    assert ended.json()["status"] == "ended"
    again = await client.post(f"/partnerships/{deal['id']}/accept", headers=auth(gd))
    assert again.status_code == 409
    # the host keeps its events; the former co-host loses them (test_ended_agreements.py)
    assert (await client.get(f"/events/{ev['id']}", headers=auth(gd))).status_code == 200
    assert (await client.get(f"/events/{ev['id']}", headers=auth(bj))).status_code == 404


async def test_bad_agreements_and_links_name_the_field(client: Any, make_org: Any) -> None:
    _gd, gd = await make_org(slug="gdswa")
    await make_org(slug="bjswa")
    await make_org(slug="shswa")
    cases = [
        ({"partners": ["gdswa"]}, "partners.0"),
        ({"partners": ["bjswa", "nowhere"]}, "partners.1"),
        ({"partners": []}, "partners"),
        ({"partners": ["bjswa"], "title": "   "}, "title"),
        ({"partners": ["bjswa"], "ends_on": "2026-01-01"}, "ends_on"),
        ({"partners": ["bjswa"], "areas": ["a", "a"]}, "areas"),
        ({"partners": ["bjswa"], "signed_on": "yesterday"}, "signed_on"),
        ({"partners": ["bjswa"], "colour": "red"}, "colour"),
    ]
    for extra, field in cases:
        body = {"title": "京粤社工战略合作协议", "starts_on": "2027-01-01", **extra}
        resp = await client.post("/partnerships", json=body, headers=auth(gd))
        assert resp.status_code in (400, 422), (extra, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert field in resp.text, (field, resp.text)
    assert (await client.get("/partnerships")).status_code == 401

    deal = await _agreement(client, gd, "bjswa")
    _bj_org, bj = await make_org(slug="bj2")
    links = [
        ({"partnership": "not-an-id"}, "partnership"),
        ({"partnership": "6f1d1a42-3c5e-4b8e-9a43-6f0d2a7b9c11"}, "partnership"),
        ({"area": "学术交流"}, "area"),
        ({"cohosts": ["bjswa"]}, "cohosts"),
    ]
    for extra, field in links:
        resp = await client.post("/events", json=event_body(**extra), headers=auth(gd))
        assert resp.status_code == 422, (extra, resp.text)
        assert resp.json()["errors"][0]["field"] == field
    await client.post(f"/partnerships/{deal['id']}/accept", headers=auth(bj))  # not a party
    assert (await client.get(f"/partnerships/{deal['id']}", headers=auth(bj))).status_code == 404
    outside = await client.post(
        "/events",
        json=event_body(partnership=deal["id"], cohosts=["shswa"]),
        headers=auth(gd),
    )
    assert outside.status_code == 422  # proposed, and shswa is no party
    assert (await client.get("/events", headers=auth(gd))).json()["items"] == []  # nothing made


async def test_answers_to_a_cohosted_event_reach_every_hosts_webhooks(
    client: Any, make_org: Any, smtp: Any, worker: Any, allow_private_webhooks: Any
) -> None:
    import json

    from tests.integration.test_webhooks import Receiver

    worker.settings = allow_private_webhooks  # the receivers are on 127.0.0.1
    _gd, gd = await make_org(slug="gdswa")
    _bj, bj = await make_org(slug="bjswa")
    deal = await _agreement(client, gd, "bjswa")
    await client.post(f"/partnerships/{deal['id']}/accept", headers=auth(bj))
    receivers = {"gdswa": Receiver(), "bjswa": Receiver()}
    try:
        for slug, key in (("gdswa", gd), ("bjswa", bj)):
            resp = await client.post(
                "/webhooks",
                json={"url": receivers[slug].url, "events": ["rsvp.changed"]},
                headers=auth(key),
            )
            assert resp.status_code == 201, resp.text
        ev = (
            await client.post(
                "/events",
                json=event_body(partnership=deal["id"], cohosts=["bjswa"]),
                headers=auth(gd),
            )
        ).json()
        await client.post(
            f"/events/{ev['id']}/invitations",
            json={"invitees": [{"email": "dd@bjswa.example.org"}]},
            headers=auth(bj),
        )
        await worker.drain()
        (mail,) = smtp.for_recipient("dd@bjswa.example.org")
        text = mail.message.get_body(("plain",)).get_content()
        link = next(w for w in text.split() if "/rsvp/" in w and "accepted" in w)
        path = link.removeprefix("https://events.example.org").split("?")[0]
        await client.post(path, json={"response": "accepted"})
        await worker.drain()
        for slug, receiver in receivers.items():
            (req,) = receiver.requests
            assert json.loads(req.body)["data"]["email"] == "dd@bjswa.example.org", slug
    finally:
        for receiver in receivers.values():
            receiver.close()
