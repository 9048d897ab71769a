"""Answers through the RSVP links and page, capacity and the waitlist, the organizer's view."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar

from events_svc.invitations.tables import Invitation, OccurrenceAnswer
from events_svc.notifications.tables import Notification
from events_svc.rsvp import service as rsvp
from tests.helpers import auth, event_body, reply_address_for
from tests.integration.test_invitations import ics_of
from tests.interop.parsers import check_all

RSVP_LINK = re.compile(r"https://events\.example\.org/rsvp/([A-Za-z0-9_-]{48})\?response=(\w+)")


async def _event(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/events", json=event_body(**overrides), headers=auth(key))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def _invite(client: Any, key: str, event_id: str, *emails: str, **extra: Any) -> None:
    invitees = [{"email": e, **extra} for e in emails]
    resp = await client.post(
        f"/events/{event_id}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text


def _links(smtp: Any, email: str) -> dict[str, str]:
    """The person's answer links from their last REQUEST e-mail: response -> URL path."""
    (mail, *_rest) = [m for m in smtp.for_recipient(email) if m.message.get_content_type()]
    text = mail.message.get_body(("plain",)).get_content()
    found = {m.group(2): m.group(0) for m in RSVP_LINK.finditer(text)}
    assert set(found) == {"accepted", "tentative", "declined"}, text
    html = mail.message.get_body(("html",)).get_content()
    for url in found.values():
        assert url.replace("&", "&amp;") in html
    return {k: v.removeprefix("https://events.example.org") for k, v in found.items()}


async def test_decline_through_the_page_and_the_organizer_sees_it(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(name="广东省社会工作师联合会")
    ev = await _event(client, key, reminders=[{"before": "P1D"}])
    await _invite(client, key, ev["id"], "zhang.san@example.org", name="张三")
    await worker.drain()
    links = _links(smtp, "zhang.san@example.org")

    # the calendar part names the reply address as ORGANIZER, with the organization's name
    (mail,) = smtp.for_recipient("zhang.san@example.org")
    (vevent,) = Calendar.from_ical(ics_of(mail)).walk("VEVENT")
    # (the invitation's own reply address: a REPLY to it proves it came through this copy)
    reply_to = await reply_address_for(ev["id"], "zhang.san@example.org")
    assert reply_to.startswith("events+") and reply_to.endswith("@events.example.org")
    assert str(vevent["ORGANIZER"]) == f"mailto:{reply_to}"
    assert vevent["ORGANIZER"].params["CN"] == "广东省社会工作师联合会"
    assert mail.message["Reply-To"].addresses[0].addr_spec == "office1@assoc.example.org"

    # a GET (a mail scanner, or the person looking) never changes the answer
    page = await client.get(links["declined"])
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    body = page.text
    assert '<html lang="zh-CN">' in body and "第二届社会工作本色与本土论坛" in body
    assert "尚未回复" in body and 'name="viewport"' in body
    assert 'value="declined" checked' in body
    assert "http://" not in body.replace("https://", "") and "<script" not in body
    (inv,) = await Invitation.select(Invitation.rsvp)
    assert inv["rsvp"] == "needs-action"
    reminders = await Notification.count().where(Notification.kind == "reminder")
    assert reminders == 1

    answered = await client.post(
        links["declined"].split("?")[0],
        content="response=declined&comment=%E5%87%BA%E5%B7%AE%EF%BC%8C%E6%8A%B1%E6%AD%89",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answered.status_code == 200
    assert "已收到您的回复" in answered.text and "不参加" in answered.text
    view = (await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))).json()
    assert view["counts"] == {
        "accepted": 0,
        "tentative": 0,
        "declined": 1,
        "needs-action": 0,
        "waitlisted": 0,
    }
    (person,) = view["people"]
    assert person | {"responded_at": None} == {
        "email": "zhang.san@example.org",
        "name": "张三",
        "role": "required",
        "rsvp": "declined",
        "waitlisted": False,
        "comment": "出差，抱歉",
        "responded_at": None,
        "source": "link",
        "occurrences": [],
        "answers": {},
        "checked_in": False,
    }
    # declining drops the reminder; the feed shows the answer
    assert await Notification.count().where(Notification.kind == "reminder") == 0
    token = (await Invitation.raw("SELECT p.feed_token FROM person p"))[0]["feed_token"]
    feed = await client.get(f"/feeds/people/{token}.ics")
    (vevent,) = Calendar.from_ical(feed.content).walk("VEVENT")
    assert vevent["ATTENDEE"].params["PARTSTAT"] == "DECLINED"

    # changing one's mind, as JSON this time, brings the reminder back
    again = await client.post(
        links["accepted"].split("?")[0],
        json={"response": "accepted"},
        headers={"Accept": "application/json"},
    )
    assert again.json() == {
        "event": ev["id"],
        "title": "第二届社会工作本色与本土论坛",
        "email": "zhang.san@example.org",
        "rsvp": "accepted",
        "waitlisted": False,
        "waitlist_position": None,
        "comment": "出差，抱歉",
    }
    assert await Notification.count().where(Notification.kind == "reminder") == 1

    csv = await client.get(f"/events/{ev['id']}/attendance.csv", headers=auth(key))
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.content.startswith(b"\xef\xbb\xbf")
    lines = csv.content.decode("utf-8-sig").splitlines()
    # the CSV's columns are the JSON's names
    assert lines[0] == "email,name,role,rsvp,waitlisted,comment,responded_at,source,checked_in"
    person = (await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))).json()
    assert set(lines[0].split(",")) <= set(person["people"][0])
    assert lines[1].startswith("zhang.san@example.org,张三,required,accepted,,出差，抱歉,")


async def test_english_page_and_links_that_no_longer_work(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], "jane@example.org", locale="en", name="Jane")
    await worker.drain()
    links = _links(smtp, "jane@example.org")
    page = await client.get(links["tentative"])
    assert '<html lang="en">' in page.text and "Not answered yet" in page.text
    assert 'value="tentative" checked' in page.text

    token = links["accepted"].split("/")[-1].split("?")[0]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for path in (f"/rsvp/{forged}", "/rsvp/short", "/rsvp/" + "x" * 48):
        resp = await client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"] == "application/problem+json"
    # withdrawn: the link is dead; invited again: a new link, the old one stays dead
    await client.delete(f"/events/{ev['id']}/invitations/jane@example.org", headers=auth(key))
    assert (await client.get(f"/rsvp/{token}")).status_code == 404
    smtp.clear()
    await _invite(client, key, ev["id"], "jane@example.org", locale="en")
    await worker.drain()
    assert (await client.get(f"/rsvp/{token}")).status_code == 404
    new = _links(smtp, "jane@example.org")["accepted"]
    assert (await client.get(new)).status_code == 200


async def test_bad_answers_get_clear_errors(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], "a@example.org")
    await worker.drain()
    url = _links(smtp, "a@example.org")["accepted"].split("?")[0]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    page = await client.post(url, content="response=maybe-later", headers=form)
    assert page.status_code == 422 and "请选择" in page.text
    cases = [
        ({"json": {"response": "yes"}}, "response"),
        ({"json": {"response": "accepted", "comment": "x" * 2001}}, "comment"),
        ({"json": {"response": "accepted", "comment": 5}}, "comment"),
        ({"json": ["accepted"]}, "body"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "body"),
        ({"content": b"response=accepted", "headers": {"Content-Type": "text/plain"}}, None),
    ]
    for kwargs, field in cases:
        resp = await client.post(url, **kwargs)
        assert resp.status_code == 422, (kwargs, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        if field:
            assert resp.json()["errors"][0]["field"] == field
    (inv,) = await Invitation.select(Invitation.rsvp, Invitation.comment)
    assert inv == {"rsvp": "needs-action", "comment": ""}  # nothing half-written
    await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    closed = await client.post(url, json={"response": "accepted"})
    assert closed.status_code == 409
    assert "此活动已取消" in (await client.get(url)).text
    other_org, other_key = await make_org()
    assert (
        await client.get(f"/events/{ev['id']}/attendance", headers=auth(other_key))
    ).status_code == 404
    assert (await client.get(f"/events/{ev['id']}/attendance")).status_code == 401


async def test_capacity_waitlist_and_promotion(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key, capacity=2, title="督导培训（限2人）")
    people = ["p1@example.org", "p2@example.org", "p3@example.org", "p4@example.org"]
    await _invite(client, key, ev["id"], *people)
    await worker.drain()
    urls = {p: _links(smtp, p)["accepted"].split("?")[0] for p in people}
    answers = {}
    for p in people[:3]:
        resp = await client.post(urls[p], json={"response": "accepted"})
        answers[p] = resp.json()
    assert [answers[p]["waitlisted"] for p in people[:3]] == [False, False, True]
    assert answers["p3@example.org"]["rsvp"] == "tentative"
    assert answers["p3@example.org"]["waitlist_position"] == 1
    page = await client.get(urls["p3@example.org"])
    assert "候补名单第 1 位" in page.text
    await client.post(urls["p4@example.org"], json={"response": "accepted"})
    view = (await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))).json()
    assert view["counts"]["accepted"] == 2 and view["counts"]["waitlisted"] == 2
    assert [w["email"] for w in view["waitlist"]] == ["p3@example.org", "p4@example.org"]

    # one accepted person declines: the first on the waitlist gets the place and an e-mail
    smtp.clear()
    await client.post(urls["p1@example.org"], json={"response": "declined"})
    await worker.drain()
    (promoted,) = smtp.for_recipient("p3@example.org")
    assert promoted.message["X-Notification-Kind"] == "waitlist-promoted"
    assert promoted.message.get_content_type() == "multipart/alternative"  # no calendar
    assert "督导培训" in str(promoted.message["Subject"])
    text = promoted.message.get_body(("plain",)).get_content()
    assert "候补名单转为正式参加" in text and "/rsvp/" in text
    assert smtp.for_recipient("p4@example.org") == []
    view = (await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))).json()
    accepted = sorted(p["email"] for p in view["people"] if p["rsvp"] == "accepted")
    assert accepted == ["p2@example.org", "p3@example.org"]
    assert [w["email"] for w in view["waitlist"]] == ["p4@example.org"]

    # un-inviting an accepted person frees a place too
    smtp.clear()
    await client.delete(f"/events/{ev['id']}/invitations/p2@example.org", headers=auth(key))
    await worker.drain()
    kinds = [m.message["X-Notification-Kind"] for m in smtp.for_recipient("p4@example.org")]
    assert kinds == ["waitlist-promoted"]
    # the waitlisted person's PARTSTAT in feeds is TENTATIVE; the promoted one ACCEPTED
    token = (
        await Invitation.raw("SELECT feed_token FROM person WHERE email_key = 'p4@example.org'")
    )[0]["feed_token"]
    (vevent,) = Calendar.from_ical((await client.get(f"/feeds/people/{token}.ics")).content).walk(
        "VEVENT"
    )
    assert vevent["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"


async def test_concurrent_acceptances_never_exceed_capacity(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key, capacity=5)
    people = [f"p{i:02d}@example.org" for i in range(20)]
    await _invite(client, key, ev["id"], *people)
    await worker.drain()
    urls = [_links(smtp, p)["accepted"].split("?")[0] for p in people]
    results = await asyncio.gather(*(client.post(u, json={"response": "accepted"}) for u in urls))
    assert all(r.status_code == 200 for r in results)
    assert sum(not r.json()["waitlisted"] for r in results) == 5
    positions = sorted(r.json()["waitlist_position"] for r in results if r.json()["waitlisted"])
    assert positions == list(range(1, 16))
    rows = await Invitation.raw(
        "SELECT count(*) AS n FROM invitation WHERE rsvp = 'accepted' AND waitlisted_at IS NULL"
    )
    assert rows[0]["n"] == 5


async def test_replies_from_calendar_clients_are_applied_by_uid_and_attendee(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    """The service call behind the inbound mail routes (tested end to end there)."""
    _org, key = await make_org()
    ev = await _event(
        client,
        key,
        starts_at="2027-03-04T14:00:00",
        ends_at="2027-03-04T17:00:00",
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    await _invite(client, key, ev["id"], "Li.Si@Example.org")
    ok = await rsvp.apply_reply(
        uid=ev["uid"], attendee_email="MAILTO:li.si@example.org", partstat="ACCEPTED",
        comment="会准时到", sequence=0,
    )  # fmt: skip
    assert ok.status == "applied"
    (inv,) = await Invitation.select(
        Invitation.rsvp, Invitation.comment, Invitation.response_source
    )
    assert inv == {"rsvp": "accepted", "comment": "会准时到", "response_source": "email"}
    ignored = [
        await rsvp.apply_reply(
            uid="nope@x", attendee_email="li.si@example.org", partstat="DECLINED"
        ),
        await rsvp.apply_reply(uid=ev["uid"], attendee_email="x@example.org", partstat="DECLINED"),
        await rsvp.apply_reply(uid=ev["uid"], attendee_email="li.si@example.org", partstat="X"),
    ]
    assert [o.reason for o in ignored] == [
        "unknown UID",
        "attendee not invited",
        "PARTSTAT 'X' is not an answer",
    ]
    # above the SEQUENCE sent: refused, and not remembered (it would lock out real answers)
    forged = await rsvp.apply_reply(
        uid=ev["uid"], attendee_email="li.si@example.org", partstat="DECLINED", sequence=2**31 - 1
    )
    assert (forged.status, forged.reason) == ("ignored", "SEQUENCE 2147483647 is above the 0 sent")
    (inv,) = await Invitation.select(Invitation.rsvp, Invitation.reply_sequence)
    assert inv == {"rsvp": "accepted", "reply_sequence": 0}
    for place in ("广州市天河区", "广州市越秀区"):  # two moves: SEQUENCE 2
        moved = await client.patch(
            f"/events/{ev['id']}", json={"location": place}, headers=auth(key)
        )
        assert moved.status_code == 200, moved.text
    # an answer to SEQUENCE 2 then a late one to SEQUENCE 1: the late one is ignored
    await rsvp.apply_reply(
        uid=ev["uid"], attendee_email="li.si@example.org", partstat="TENTATIVE", sequence=2
    )
    late = await rsvp.apply_reply(
        uid=ev["uid"], attendee_email="li.si@example.org", partstat="DECLINED", sequence=1
    )
    assert late.status == "ignored" and "older" in late.reason
    # one occurrence (RECURRENCE-ID in UTC): recorded for it; the series answer stays
    one = await rsvp.apply_reply(
        uid=ev["uid"],
        attendee_email="li.si@example.org",
        partstat="DECLINED",
        comment="那周出差",
        sequence=2,
        recurrence_id=datetime(2027, 3, 18, 6, 0, tzinfo=UTC),
    )
    assert one.status == "applied"
    answers = await OccurrenceAnswer.select(OccurrenceAnswer.recurrence_id, OccurrenceAnswer.rsvp)
    assert answers == [{"recurrence_id": datetime(2027, 3, 18, 14, 0), "rsvp": "declined"}]
    (inv,) = await Invitation.select(Invitation.rsvp)
    assert inv["rsvp"] == "tentative"
    wrong = await rsvp.apply_reply(
        uid=ev["uid"],
        attendee_email="li.si@example.org",
        partstat="DECLINED",
        recurrence_id=datetime(2027, 3, 19, 6, 0, tzinfo=UTC),
    )
    assert wrong.status == "ignored"
    view = (await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))).json()
    assert view["people"][0]["occurrences"][0] | {"answered_at": None} == {
        "occurrence": "2027-03-18T14:00:00",
        "rsvp": "declined",
        "comment": "那周出差",
        "answered_at": None,
    }
    assert datetime.now(UTC) - timedelta(minutes=1) < datetime.fromisoformat(
        view["people"][0]["responded_at"]
    )


async def test_invitation_ics_from_the_page_flow_still_reads_everywhere(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key, capacity=1)
    await _invite(client, key, ev["id"], "a@example.org")
    await worker.drain()
    (mail,) = smtp.for_recipient("a@example.org")
    check_all(ics_of(mail))


async def test_answers_and_promotions_reach_the_organizers_webhook(
    client: Any, make_org: Any, smtp: Any, worker: Any, allow_private_webhooks: Any
) -> None:
    from tests.integration.test_webhooks import Receiver, _verify

    worker.settings = allow_private_webhooks  # the receiver is on 127.0.0.1
    receiver = Receiver()
    try:
        _org, key = await make_org()
        hook = await client.post(
            "/webhooks",
            json={"url": receiver.url, "events": ["rsvp.changed"], "secret": "s" * 32},
            headers=auth(key),
        )
        assert hook.status_code == 201, hook.text
        ev = await _event(client, key, capacity=1)
        await _invite(client, key, ev["id"], "a@example.org", "b@example.org")
        await worker.drain()
        a = _links(smtp, "a@example.org")["accepted"].split("?")[0]
        b = _links(smtp, "b@example.org")["accepted"].split("?")[0]
        await client.post(a, json={"response": "accepted", "comment": "我来"})
        await client.post(b, json={"response": "accepted"})  # full: waitlisted
        await client.post(a, json={"response": "declined"})  # b gets the place
        await worker.drain()
        events = []
        for req in receiver.requests:
            _verify(req, "s" * 32)
            data = json.loads(req.body)["data"]
            events.append((data["email"], data["rsvp"], data["waitlisted"], data["source"]))
        assert sorted(events) == sorted(
            [
                ("a@example.org", "accepted", False, "link"),
                ("b@example.org", "tentative", True, "link"),
                ("a@example.org", "declined", False, "link"),
                ("b@example.org", "accepted", False, "waitlist"),
            ]
        )
        assert json.loads(receiver.requests[0].body)["data"]["event"]["uid"] == ev["uid"]
    finally:
        receiver.close()


async def test_occurrence_answers_keep_their_own_sequence_and_comments_survive(
    client: Any, make_org: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(
        client,
        key,
        starts_at="2027-03-04T14:00:00",
        ends_at="2027-03-04T17:00:00",
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    await _invite(client, key, ev["id"], "li.si@example.org")
    await client.patch(
        f"/events/{ev['id']}/occurrences/2027-03-18T14:00:00",
        json={"starts_at": "2027-03-19T15:00:00"},
        headers=auth(key),
    )
    # the moved occurrence (SEQUENCE 1) is answered first; the series (SEQUENCE 0) after
    moved = await rsvp.apply_reply(
        uid=ev["uid"],
        attendee_email="li.si@example.org",
        partstat="DECLINED",
        sequence=1,
        recurrence_id=datetime(2027, 3, 18, 14, 0),
    )
    series = await rsvp.apply_reply(
        uid=ev["uid"],
        attendee_email="li.si@example.org",
        partstat="ACCEPTED",
        comment="其余几次都来",
        sequence=0,
    )
    assert (moved.status, series.status) == ("applied", "applied")
    old = await rsvp.apply_reply(
        uid=ev["uid"],
        attendee_email="li.si@example.org",
        partstat="ACCEPTED",
        sequence=0,
        recurrence_id=datetime(2027, 3, 18, 14, 0),
    )
    assert old.status == "ignored" and "older" in old.reason
    # a reply without COMMENT keeps the comment there is
    await rsvp.apply_reply(
        uid=ev["uid"], attendee_email="li.si@example.org", partstat="TENTATIVE", sequence=0
    )
    (inv,) = await Invitation.select(Invitation.rsvp, Invitation.comment)
    assert inv == {"rsvp": "tentative", "comment": "其余几次都来"}
