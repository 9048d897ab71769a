"""Each reader sees names and headings in their own language, and mails and the RSVP page show
what matters: a series' moved and cancelled sessions, the place, description, itinerary and
agenda (issue 17 items 6 and 7)."""

from __future__ import annotations

import email.utils
import re
from typing import Any

from events_svc.notifications.tables import Notification
from events_svc.rsvp.tokens import make_token
from tests.helpers import auth, event_body

NAME = "示例社会工作协会"
NAME_EN = "Demo Social Work Association"

JANE = {"email": "jane@partner.example.org", "name": "Jane Doe", "locale": "en"}
ZHANG = {"email": "zhang.san@bjswa.example.org", "name": "张三"}


def _bodies(mail: Any) -> tuple[str, str]:
    msg = mail.message
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return text, msg.get_body(("html",)).get_content()


async def _org(make_org: Any) -> str:
    _org, key = await make_org(slug="demo", name=NAME, name_en=NAME_EN)
    return str(key)


async def test_an_english_invitee_sees_the_english_name_in_from_body_and_footer(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    key = await _org(make_org)
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": [JANE, ZHANG]}, headers=auth(key)
    )
    await worker.drain()
    (jane,) = smtp.for_recipient(JANE["email"])
    name, _address = email.utils.parseaddr(str(jane.message["From"]))
    assert name == NAME_EN
    text, html = _bodies(jane)
    assert f"{NAME_EN} invites you to" in text and NAME not in text
    assert f"on behalf of {NAME_EN}" in text
    assert NAME_EN in html and NAME not in html
    # the calendar's ORGANIZER is named for the reader too
    assert f"CN={NAME_EN}" in jane.message.get_body(("calendar",)).get_content().replace(
        '"', ""
    ).replace("\r\n ", "")
    # a Chinese reader keeps the Chinese name
    (zhang,) = smtp.for_recipient(ZHANG["email"])
    assert email.utils.parseaddr(str(zhang.message["From"]))[0] == NAME
    text, _html = _bodies(zhang)
    assert f"{NAME} 邀请您参加" in text and NAME_EN not in text


async def test_the_exchange_visit_mail_has_a_translated_itinerary_heading(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    key = await _org(make_org)
    body = event_body(
        kind="exchange_visit",
        title="京粤社工交流座谈会",
        starts_at="2027-04-12T09:00:00",
        ends_at="2027-04-12T17:00:00",
        itinerary=[
            {
                "title": "参观社工服务站",
                "starts_at": "2027-04-12T09:30:00",
                "ends_at": "2027-04-12T11:00:00",
                "place": "东城区社工服务站",
            }
        ],
    )
    ev = (await client.post("/events", json=body, headers=auth(key))).json()
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": [JANE, ZHANG]}, headers=auth(key)
    )
    await worker.drain()
    (zhang,) = smtp.for_recipient(ZHANG["email"])
    text, html = _bodies(zhang)
    assert "Itinerary" not in text and "Itinerary" not in html
    assert "行程：\n  09:30–11:00 参观社工服务站 · 东城区社工服务站" in text
    assert "<h3>行程</h3><ul><li>09:30–11:00 参观社工服务站 · 东城区社工服务站</li></ul>" in html
    (jane,) = smtp.for_recipient(JANE["email"])
    text, html = _bodies(jane)
    assert "Itinerary: \n  09:30–11:00" in text and "<h3>Itinerary</h3>" in html
    assert "行程" not in text
    # calendars still carry it in the DESCRIPTION (one text for every client)
    calendar = zhang.message.get_body(("calendar",)).get_content().replace("\r\n ", "")
    assert "行程 / Itinerary" in calendar


async def test_series_mails_list_the_moved_and_cancelled_sessions(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    key = await _org(make_org)
    body = event_body(
        kind="training",
        title="督导人才培养",
        starts_at="2027-03-04T14:00:00",
        ends_at="2027-03-04T17:00:00",
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    ev = (await client.post("/events", json=body, headers=auth(key))).json()
    moved = await client.patch(
        f"/events/{ev['id']}/occurrences/2027-03-18T14:00:00",
        json={"starts_at": "2027-03-19T15:00:00", "ends_at": "2027-03-19T18:00:00"},
        headers=auth(key),
    )
    assert moved.status_code == 200
    cancelled = await client.patch(
        f"/events/{ev['id']}/occurrences/2027-04-01T14:00:00",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    assert cancelled.status_code == 200
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": [JANE, ZHANG]}, headers=auth(key)
    )
    await worker.drain()
    (zhang,) = smtp.for_recipient(ZHANG["email"])
    text, html = _bodies(zhang)
    assert (
        "调整的场次：\n  2027年3月18日 14:00 改至 2027年3月19日 15:00–18:00\n"
        "  2027年4月1日 14:00 取消\n"
    ) in text
    assert "<h3>调整的场次</h3>" in html and "2027年4月1日 14:00 取消" in html
    (jane,) = smtp.for_recipient(JANE["email"])
    text, _html = _bodies(jane)
    assert "18 Mar 2027 14:00 moved to 19 Mar 2027 15:00–18:00" in text
    assert "1 Apr 2027 14:00 cancelled" in text
    assert await Notification.count().where(Notification.status == "sent") == 2


async def test_the_rsvp_page_shows_place_description_itinerary_agenda_and_english_names(
    client: Any, make_org: Any, settings: Any
) -> None:
    key = await _org(make_org)
    body = event_body(
        kind="exchange_visit",
        title="京粤社工交流座谈会",
        description="社会工作的发展与创新。",
        location="中国社会工作联合会会议室",
        starts_at="2027-04-12T09:00:00",
        ends_at="2027-04-12T17:00:00",
        itinerary=[
            {
                "title": "参观社工服务站",
                "starts_at": "2027-04-12T09:30:00",
                "ends_at": "2027-04-12T11:00:00",
                "place": "东城区社工服务站",
            }
        ],
    )
    ev = (await client.post("/events", json=body, headers=auth(key))).json()
    agenda = await client.put(
        f"/events/{ev['id']}/agenda",
        json={
            "items": [
                {
                    "title": "座谈会",
                    "starts_at": "2027-04-12T14:00:00",
                    "ends_at": "2027-04-12T16:30:00",
                    "room": "三楼会议室",
                    "speakers": [{"email": "lmh@bjswa.example.org", "name": "刘明浩"}],
                }
            ]
        },
        headers=auth(key),
    )
    assert agenda.status_code == 200
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": [JANE, ZHANG]}, headers=auth(key)
    )
    from events_svc.invitations.tables import Invitation
    from events_svc.people.tables import Person

    pages = {}
    for who in (JANE, ZHANG):
        person = await Person.select(Person.id).where(Person.email == who["email"]).first()
        assert person is not None
        inv = (
            await Invitation.select(Invitation.id, Invitation.generation)
            .where(Invitation.person == person["id"])
            .first()
        )
        assert inv is not None
        token = make_token(settings.secret_key, inv["id"], inv["generation"])
        answer = await client.get(f"/rsvp/{token}", headers={"Accept": "text/html"})
        assert answer.status_code == 200
        pages[who["email"]] = answer.text
    jane, zhang = pages[JANE["email"]], pages[ZHANG["email"]]
    assert f"{NAME_EN} invites you to" in jane and NAME not in jane
    for page in (jane, zhang):
        assert "中国社会工作联合会会议室" in page  # the place
        assert "社会工作的发展与创新。" in page  # the description
        assert "09:30–11:00 参观社工服务站 · 东城区社工服务站" in page  # the itinerary
        assert re.search(r"14:00–16:30 座谈会 · 三楼会议室 — [^<]*刘明浩", page)  # the agenda
    assert "<h2>Itinerary</h2>" in jane and "<h2>Agenda</h2>" in jane
    assert "<h2>行程</h2>" in zhang and "<h2>议程</h2>" in zhang
    assert f"{NAME} 邀请您参加" in zhang
