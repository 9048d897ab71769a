"""Forum agendas: sessions within the event, speakers invited, one update per person with what
changed, sessions as their own events in feeds."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from tests.helpers import auth, event_body
from tests.integration.test_invitations import ics_of
from tests.interop.parsers import check_all

AGENDA = [
    {"title": "开幕式", "starts_at": "2027-06-10T09:30:00", "ends_at": "2027-06-10T10:00:00",
     "room": "一号厅", "speakers": [{"email": "chair@casw.example.org", "name": "王主任",
                                     "role": "chair"}]},
    {"title": "主旨演讲：本色与本土", "starts_at": "2027-06-10T10:00:00",
     "ends_at": "2027-06-10T11:00:00", "room": "一号厅",
     "speakers": [{"email": "prof@univ.example.org", "name": "李教授"}]},
    {"title": "圆桌讨论", "starts_at": "2027-06-10T14:00:00", "ends_at": "2027-06-10T16:00:00",
     "room": "二号厅"},
]  # fmt: skip


async def test_agenda_invites_speakers_and_updates_everyone_once(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "zhang@example.org", "name": "张三"},
                           {"email": "jane@example.org", "name": "Jane", "locale": "en"}]},
        headers=auth(key),
    )  # fmt: skip
    await worker.drain()
    smtp.clear()

    resp = await client.put(f"/events/{ev['id']}/agenda", json={"items": AGENDA}, headers=auth(key))
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["invited"] == 2 and answer["updates_queued"] == 2
    ids = {i["title"]: i["id"] for i in answer["items"]}
    await worker.drain()

    # the speakers are invited, with the agenda in their invitation
    (chair,) = smtp.for_recipient("chair@casw.example.org")
    assert chair.message["X-Notification-Kind"] == "invitation"
    text = chair.message.get_body(("plain",)).get_content()
    assert "议程" in text and "09:30–10:00 开幕式 · 一号厅 — 主持人：王主任" in text
    (vevent,) = Calendar.from_ical(ics_of(chair)).walk("VEVENT")
    assert vevent["ATTENDEE"].params["ROLE"] == "CHAIR"
    assert "议程 / Agenda" in str(vevent["DESCRIPTION"])
    # everyone invited before gets one update, in their own language
    (zh,) = smtp.for_recipient("zhang@example.org")
    assert zh.message["X-Notification-Kind"] == "agenda"
    zh_text = zh.message.get_body(("plain",)).get_content()
    assert "议程变动" in zh_text and "新增：10:00–11:00 主旨演讲：本色与本土" in zh_text
    ics = ics_of(zh)
    assert check_all(ics)["method"] == "REQUEST"
    (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
    assert vevent["SEQUENCE"] == ev["sequence"]  # a programme change is not a reschedule
    (en,) = smtp.for_recipient("jane@example.org")
    en_text = en.message.get_body(("plain",)).get_content()
    assert "What changed" in en_text and "New: 14:00–16:00 圆桌讨论 · 二号厅" in en_text
    assert "Speaker: 李教授" in en_text

    # two edits before anything goes out: one message each, with both changes
    smtp.clear()
    moved = [dict(a) for a in AGENDA[:2]]
    moved[1] = {**moved[1], "starts_at": "2027-06-10T10:30:00", "ends_at": "2027-06-10T11:30:00"}
    first = await client.put(f"/events/{ev['id']}/agenda", json={"items": moved}, headers=auth(key))
    assert first.json()["updates_queued"] == 4  # the speakers have had a message too
    renamed = [dict(a) for a in moved]
    renamed[0] = {**renamed[0], "title": "开幕致辞", "id": ids["开幕式"]}
    second = await client.put(
        f"/events/{ev['id']}/agenda", json={"items": renamed}, headers=auth(key)
    )
    assert second.json()["updates_queued"] == 0  # folded into the pending ones
    assert second.json()["items"][0]["id"] == ids["开幕式"]  # renamed, same session
    await worker.drain()
    (zh,) = smtp.for_recipient("zhang@example.org")
    zh_text = zh.message.get_body(("plain",)).get_content()
    assert "时间调整：10:30–11:30 主旨演讲：本色与本土" in zh_text
    assert "取消：14:00–16:00 圆桌讨论" in zh_text
    assert "内容更新：09:30–10:00 开幕致辞" in zh_text

    # the same agenda again sends nothing
    smtp.clear()
    await client.put(f"/events/{ev['id']}/agenda", json={"items": renamed}, headers=auth(key))
    await worker.drain()
    assert smtp.received == []

    # feeds: one event, or its sessions with ?detail=sessions (stable UIDs, RELATED-TO)
    whole = Calendar.from_ical((await client.get("/feeds/orgs/gdswa.ics")).content)
    assert [str(v["UID"]) for v in whole.walk("VEVENT")] == [ev["uid"]]
    body = (await client.get("/feeds/orgs/gdswa.ics?detail=sessions")).content
    check_all(body)
    sessions = Calendar.from_ical(body).walk("VEVENT")
    assert [str(v["SUMMARY"]) for v in sessions] == ["开幕致辞", "主旨演讲：本色与本土"]
    assert str(sessions[0]["UID"]) == f"{ids['开幕式']}.{ev['uid']}"
    assert all(str(v["RELATED-TO"]) == ev["uid"] for v in sessions)
    assert "一号厅" in str(sessions[0]["LOCATION"])


async def test_bad_agendas_name_the_field(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    _other, other = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    item = {"title": "分论坛", "starts_at": "2027-06-10T10:00:00", "ends_at": "2027-06-10T11:00:00"}
    cases = [
        ({**item, "starts_at": "2027-06-10T08:00:00"}, "items.0.starts_at"),
        ({**item, "ends_at": "2027-06-10T18:00:00"}, "items.0.ends_at"),
        ({**item, "ends_at": "2027-06-10T09:45:00"}, "items.0.ends_at"),
        ({**item, "speakers": [{"email": "", "name": "无邮箱"}]}, "items.0.speakers.0.email"),
        ({**item, "speakers": [{"email": "not-an-address"}]}, "items.0.speakers.0.email"),
        ({**item, "speakers": [{"email": "a@example.org", "role": "keynote"}]}, "role"),
        ({**item, "title": "   "}, "items.0.title"),
    ]
    for body, field in cases:
        resp = await client.put(
            f"/events/{ev['id']}/agenda", json={"items": [body]}, headers=auth(key)
        )
        assert resp.status_code in (400, 422), (body, resp.text)
        assert field in resp.text, (field, resp.text)
    assert (
        await client.put(f"/events/{ev['id']}/agenda", json={"items": []}, headers=auth(other))
    ).status_code == 404
    got = (await client.get(f"/events/{ev['id']}", headers=auth(key))).json()
    assert got["description"] == "京粤社工交流"  # nothing changed
