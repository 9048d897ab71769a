"""Exchange visits: a host, visiting organizations naming their delegations from their own
contacts, an itinerary that goes into invitations and calendars."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from tests.helpers import auth, event_body
from tests.integration.test_invitations import ics_of
from tests.interop.parsers import check_all

VISIT = {
    "kind": "exchange_visit",
    "title": "京粤社工交流座谈会",
    "location": "中国社会工作联合会",
    "starts_at": "2027-04-12T09:00:00",
    "ends_at": "2027-04-12T17:00:00",
    "itinerary": [
        {"title": "参观社工服务站", "starts_at": "2027-04-12T09:30:00",
         "ends_at": "2027-04-12T11:00:00", "place": "东城区社工服务站"},
        {"title": "座谈会", "starts_at": "2027-04-12T14:00:00",
         "ends_at": "2027-04-12T16:30:00", "place": "联合会三楼会议室"},
    ],
}  # fmt: skip


async def _contacts(client: Any, key: str, *people: tuple[str, str, str]) -> None:
    for email, name, title in people:
        resp = await client.post(
            "/orgs/me/contacts",
            json={"email": email, "name": name, "title": title},
            headers=auth(key),
        )
        assert resp.status_code == 201, resp.text


async def test_federation_hosts_and_each_association_names_a_delegation(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _casw, casw = await make_org(slug="casw", name="中国社会工作联合会")
    _bj, bj = await make_org(slug="bjswa", name="北京社会工作者协会")
    _gd, gd = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    _sh, sh = await make_org(slug="shswa", name="上海市社会工作者协会")
    await _contacts(
        client, bj, ("lmh@bjswa.example.org", "李敏华", "会长"),
        ("dd1@bjswa.example.org", "北京督导一", "督导"),
        ("dd2@bjswa.example.org", "北京督导二", "督导"),
    )  # fmt: skip
    await _contacts(
        client, gd, ("lead@gdswa.example.org", "广东会长", "会长"),
        ("ms@gdswa.example.org", "广东秘书长", "秘书长"),
    )  # fmt: skip

    resp = await client.post(
        "/events", json=event_body(**VISIT, visiting=["bjswa", "gdswa"]), headers=auth(casw)
    )
    assert resp.status_code == 201, resp.text
    ev = resp.json()
    assert ev["host"] == "casw" and ev["visiting"] == ["bjswa", "gdswa"]
    assert [b["title"] for b in ev["itinerary"]] == ["参观社工服务站", "座谈会"]

    # each visiting organization names its own delegation, from its own contacts
    named = await client.put(
        f"/events/{ev['id']}/delegations/bjswa",
        json={"leader": "LMH@bjswa.example.org", "members": ["dd1@bjswa.example.org"]},
        headers=auth(bj),
    )
    assert named.status_code == 200, named.text
    assert named.json()["leader"]["email"] == "lmh@bjswa.example.org"
    assert named.json()["leader"]["role"] == "chair"
    await client.put(
        f"/events/{ev['id']}/delegations/gdswa",
        json={"leader": "lead@gdswa.example.org", "members": ["ms@gdswa.example.org"]},
        headers=auth(gd),
    )
    bad = [
        (bj, "gdswa", {"leader": "lead@gdswa.example.org"}, 404),  # not its own
        (sh, "shswa", {"leader": "x@shswa.example.org"}, 404),  # not visiting
        (bj, "bjswa", {"leader": "lead@gdswa.example.org"}, 422),  # not its contact
        (bj, "bjswa", {"leader": "lmh@bjswa.example.org", "members": ["nobody@x.org"]}, 422),
        (bj, "bjswa", {"members": []}, 400),
    ]
    for key, slug, body, status in bad:
        resp = await client.put(
            f"/events/{ev['id']}/delegations/{slug}", json=body, headers=auth(key)
        )
        assert resp.status_code in ((status,) if status != 400 else (400, 422)), (
            slug,
            body,
            resp.text,
        )
        assert resp.headers["content-type"] == "application/problem+json"
    fields = (
        await client.put(
            f"/events/{ev['id']}/delegations/bjswa",
            json={"leader": "lmh@bjswa.example.org", "members": ["nobody@x.org"]},
            headers=auth(bj),
        )
    ).json()["errors"]
    assert fields[0]["field"] == "members.0"

    await worker.drain()
    delegates = [
        "lmh@bjswa.example.org",
        "dd1@bjswa.example.org",
        "lead@gdswa.example.org",
        "ms@gdswa.example.org",
    ]
    for email in delegates:
        (mail,) = smtp.for_recipient(email)  # one invitation each
        ics = ics_of(mail)
        check_all(ics)
        (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
        assert "09:30–11:00 参观社工服务站 · 东城区社工服务站" in str(vevent["DESCRIPTION"])
        role = vevent["ATTENDEE"].params["ROLE"]
        assert role == ("CHAIR" if email.startswith(("lmh", "lead")) else "REQ-PARTICIPANT")
        text = mail.message.get_body(("plain",)).get_content()
        assert "座谈会 · 联合会三楼会议室" in text

    # the host sees the whole list with answers; a visitor sees its own
    listed = (await client.get(f"/events/{ev['id']}/delegations", headers=auth(casw))).json()
    assert [d["organization"] for d in listed] == ["bjswa", "gdswa"]
    assert listed[0]["members"][0]["rsvp"] == "needs-action"
    own = (await client.get(f"/events/{ev['id']}/delegations", headers=auth(bj))).json()
    assert [d["organization"] for d in own] == ["bjswa"]
    assert (
        await client.get(f"/events/{ev['id']}/delegations", headers=auth(sh))
    ).status_code == 404

    # renaming the delegation takes the dropped member off the list (a CANCEL)
    smtp.clear()
    await client.put(
        f"/events/{ev['id']}/delegations/bjswa",
        json={"leader": "lmh@bjswa.example.org", "members": ["dd2@bjswa.example.org"]},
        headers=auth(bj),
    )
    await worker.drain()
    assert [
        m.message["X-Notification-Kind"] for m in smtp.for_recipient("dd1@bjswa.example.org")
    ] == ["cancellation"]
    assert len(smtp.for_recipient("dd2@bjswa.example.org")) == 1
    assert smtp.for_recipient("lmh@bjswa.example.org") == []  # already invited: nothing new

    # moving the visit moves its itinerary
    moved = await client.patch(
        f"/events/{ev['id']}",
        json={"starts_at": "2027-04-13T09:00:00", "ends_at": "2027-04-13T17:00:00"},
        headers=auth(casw),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["itinerary"][0]["starts_at"] == "2027-04-13T09:30:00"


async def test_bad_visits_and_itineraries_name_the_field(client: Any, make_org: Any) -> None:
    _casw, casw = await make_org(slug="casw")
    await make_org(slug="bjswa")
    cases = [
        ({"visiting": ["nowhere"]}, "visiting.0"),
        ({"visiting": ["casw"]}, "visiting.0"),
        ({"host": "nowhere", "visiting": ["bjswa"]}, "host"),
        ({"kind": "forum", "visiting": ["bjswa"]}, "visiting"),
        (
            {"itinerary": [{"title": "早到", "starts_at": "2027-04-12T08:00:00",
                            "ends_at": "2027-04-12T09:30:00"}]},
            "itinerary.0.starts_at",
        ),
        (
            {"itinerary": [{"title": "倒序", "starts_at": "2027-04-12T11:00:00",
                            "ends_at": "2027-04-12T10:00:00"}]},
            "itinerary.0.ends_at",
        ),
        (
            {"itinerary": [{"title": "晚归", "starts_at": "2027-04-12T16:00:00",
                            "ends_at": "2027-04-12T18:00:00"}]},
            "itinerary.0.ends_at",
        ),
    ]  # fmt: skip
    for extra, field in cases:
        body = event_body(**{**VISIT, "itinerary": None, **extra})
        resp = await client.post("/events", json=body, headers=auth(casw))
        assert resp.status_code == 422, (extra, resp.text)
        assert resp.json()["errors"][0]["field"] == field, (extra, resp.text)
    assert (await client.get("/events", headers=auth(casw))).json()["items"] == []
