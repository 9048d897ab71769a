"""An ended agreement: the host keeps its events, the former co-hosts lose them at once."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from icalendar import Calendar

from tests.helpers import auth, event_body

GD_NAME = "广东省社会工作师联合会"
BJ_NAME = "北京社会工作者协会"
AGENDA = [
    {
        "title": "开幕式",
        "starts_at": "2027-06-10T09:30:00",
        "ends_at": "2027-06-10T10:00:00",
        "room": "一号厅",
    }
]


def _texts(message: EmailMessage) -> str:
    """Every text part (plain, html, calendar) of a message, decoded."""
    return "\n".join(
        str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"
    )


async def _cohosted(client: Any, gd: str, bj: str) -> tuple[dict[str, Any], dict[str, Any]]:
    resp = await client.post(
        "/partnerships",
        json={"partners": ["bjswa"], "title": "京粤社工战略合作协议", "areas": ["学术交流"]},
        headers=auth(gd),
    )
    deal = resp.json()
    await client.post(f"/partnerships/{deal['id']}/accept", headers=auth(bj))
    resp = await client.post(
        "/events",
        json=event_body(partnership=deal["id"], area="学术交流", cohosts=["bjswa"]),
        headers=auth(gd),
    )
    assert resp.status_code == 201, resp.text
    return deal, dict(resp.json())


async def test_former_cohost_loses_every_capability_and_the_host_keeps_all(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _gd, gd = await make_org(slug="gdswa", name=GD_NAME)
    _bj, bj = await make_org(slug="bjswa", name=BJ_NAME)
    deal, ev = await _cohosted(client, gd, bj)
    url = f"/events/{ev['id']}"
    # while the agreement is active, the co-host reads it and invites to it
    assert (await client.get(url, headers=auth(bj))).status_code == 200
    before = await client.post(
        f"{url}/invitations",
        json={"invitees": [{"email": "a@bjswa.example.org"}]},
        headers=auth(bj),
    )
    assert before.status_code == 202, before.text
    await worker.drain()
    (first,) = smtp.for_recipient("a@bjswa.example.org")
    assert BJ_NAME in _texts(first.message)

    ended = await client.post(f"/partnerships/{deal['id']}/end", headers=auth(gd))
    assert ended.status_code == 200 and ended.json()["status"] == "ended"

    # every co-host capability is a 404 from now on, as for any other organization
    refused = [
        await client.get(url, headers=auth(bj)),
        await client.patch(url, json={"description": "北京补充"}, headers=auth(bj)),
        await client.post(
            f"{url}/invitations",
            json={"invitees": [{"email": "b@bjswa.example.org"}]},
            headers=auth(bj),
        ),
        await client.get(f"{url}/invitations", headers=auth(bj)),
        await client.get(f"{url}/attendance", headers=auth(bj)),
        await client.get(f"{url}/reminders", headers=auth(bj)),
        await client.get(f"{url}/delegations", headers=auth(bj)),
        await client.put(f"{url}/agenda", json={"items": AGENDA}, headers=auth(bj)),
        await client.post(
            f"{url}/attendance",
            json={"email": "a@bjswa.example.org", "occurrence": "2027-06-10T09:30:00"},
            headers=auth(bj),
        ),
        await client.get(f"{url}/completion", headers=auth(bj)),
        await client.post(f"{url}/cancel", headers=auth(bj)),
    ]
    for resp in refused:
        assert resp.status_code == 404, (resp.request.method, resp.request.url, resp.text)
    assert (await client.get("/events", headers=auth(bj))).json()["items"] == []
    programme = await client.get(f"/partnerships/{deal['id']}/programme", headers=auth(bj))
    assert [a["events"] for a in programme.json()["areas"]] == [[]]

    # the host keeps all of it, and the event no longer names the former co-host
    kept = await client.get(url, headers=auth(gd))
    assert kept.status_code == 200 and kept.json()["cohosts"] == []
    assert kept.json()["partnership"] == deal["id"]
    edited = await client.patch(url, json={"location": "广州市天河区"}, headers=auth(gd))
    assert edited.status_code == 200, edited.text
    invited = await client.post(
        f"{url}/invitations",
        json={"invitees": [{"email": "c@gdswa.example.org"}]},
        headers=auth(gd),
    )
    assert invited.status_code == 202, invited.text
    assert (await client.get(f"{url}/attendance", headers=auth(gd))).status_code == 200
    await worker.drain()
    programme = await client.get(f"/partnerships/{deal['id']}/programme", headers=auth(gd))
    assert [[e["cohosts"] for e in a["events"]] for a in programme.json()["areas"]] == [[[]]]

    # feeds: gone from the former co-host's and from the ended agreement's, kept in the host's
    bj_feed = await client.get("/feeds/orgs/bjswa.ics")
    assert bj_feed.content.count(b"BEGIN:VEVENT") == 0
    deal_feed = await client.get(f"/feeds/partnerships/{deal['id']}.ics")
    assert deal_feed.content.count(b"BEGIN:VEVENT") == 0
    gd_feed = await client.get("/feeds/orgs/gdswa.ics")
    (vevent,) = Calendar.from_ical(gd_feed.content).walk("VEVENT")
    assert str(vevent["UID"]) == ev["uid"]
    assert BJ_NAME not in gd_feed.content.decode()
    # a private event's .ics: its host's alone
    private = await client.patch(url, json={"visibility": "private"}, headers=auth(gd))
    assert private.status_code == 200, private.text
    assert (await client.get(f"{url}.ics", headers=auth(bj))).status_code == 404
    assert (await client.get(f"{url}.ics", headers=auth(gd))).status_code == 200

    # mails rendered after the end (the update, the new invitation, the cancellation) name
    # the host alone
    cancelled = await client.post(f"{url}/cancel", headers=auth(gd))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    await worker.drain()
    later = smtp.for_recipient("a@bjswa.example.org")[1:] + smtp.for_recipient(
        "c@gdswa.example.org"
    )
    kinds = sorted(m.message["X-Notification-Kind"] for m in later)
    assert kinds == ["cancellation", "cancellation", "invitation", "update"], kinds
    for mail in later:
        text = _texts(mail.message)
        assert GD_NAME in text and BJ_NAME not in text, mail.message["X-Notification-Kind"]


async def test_the_host_removes_a_cohost_and_nobody_adds_one_after_the_end(
    client: Any, make_org: Any
) -> None:
    _gd, gd = await make_org(slug="gdswa", name=GD_NAME)
    _bj, bj = await make_org(slug="bjswa", name=BJ_NAME)
    deal, ev = await _cohosted(client, gd, bj)
    url = f"/events/{ev['id']}"
    # the host removes the co-host while the agreement runs: it is refused from then on
    removed = await client.patch(url, json={"cohosts": []}, headers=auth(gd))
    assert removed.status_code == 200 and removed.json()["cohosts"] == []
    assert (await client.get(url, headers=auth(bj))).status_code == 404
    back = await client.patch(url, json={"cohosts": ["bjswa"]}, headers=auth(gd))
    assert back.status_code == 200 and back.json()["cohosts"] == ["bjswa"]

    await client.post(f"/partnerships/{deal['id']}/end", headers=auth(bj))
    # after the end the event keeps its agreement (and area), but takes no co-host again
    again = await client.patch(url, json={"cohosts": ["bjswa"]}, headers=auth(gd))
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "cohosts"
    still = await client.patch(url, json={"cohosts": [], "title": "广东论坛"}, headers=auth(gd))
    assert still.status_code == 200, still.text
    assert still.json()["partnership"] == deal["id"]
    linked = await client.post(
        "/events", json=event_body(partnership=deal["id"], cohosts=["bjswa"]), headers=auth(gd)
    )
    assert linked.status_code == 422 and linked.json()["errors"][0]["field"] == "partnership"
    assert (await client.get(url, headers=auth(bj))).status_code == 404
