"""Invitations end to end: API -> outbox rows -> arq worker -> real SMTP -> parsed as a client."""

from __future__ import annotations

import asyncio
import email.header
import time
from typing import Any

import pytest
from icalendar import Calendar

from events_svc.invitations.tables import Invitation
from events_svc.notifications.tables import Notification
from events_svc.people.tables import Person
from tests.helpers import auth, event_body, reply_address_for
from tests.interop.parsers import check_all
from tests.smtp_sink import Received

THREE = [
    {"email": "zhang.san@bjswa.example.org", "name": "张三", "role": "chair"},
    {"email": "li.si@gdswa.example.org", "name": "李四"},
    {"email": "Jane.Doe@partner.example.org", "name": "Jane Doe", "locale": "en",
     "role": "optional"},
]  # fmt: skip


async def _event(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/events", json=event_body(**overrides), headers=auth(key))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def _invite(
    client: Any, key: str, event_id: str, invitees: list[dict[str, Any]], **kw: Any
) -> Any:
    return await client.post(
        f"/events/{event_id}/invitations", json={"invitees": invitees, **kw}, headers=auth(key)
    )


def calendar_parts(received: Received) -> tuple[Any, Any]:
    """(the text/calendar alternative, the invite.ics attachment) of a message."""
    msg = received.message
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()  # type: ignore[misc]
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alternative.get_payload()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    assert attachment.get_filename() == "invite.ics"
    return alternative.get_payload()[2], attachment


def ics_of(received: Received) -> bytes:
    part, attachment = calendar_parts(received)
    data: bytes = part.get_payload(decode=True)
    assert attachment.get_payload(decode=True) == data
    return data


def vevent_of(received: Received) -> Any:
    cal = Calendar.from_ical(ics_of(received))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return cal, events[0]


def decoded(value: str) -> str:
    return str(email.header.make_header(email.header.decode_header(value)))


async def test_three_invitations_are_real_imip_requests(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(
        slug="gdswa", name="广东省社会工作师联合会", email="office@gdswa.example.org"
    )
    ev = await _event(client, key, online_url="https://meet.example.org/forum")
    resp = await _invite(client, key, ev["id"], THREE, message="诚邀各位拨冗出席。")
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"invited": 3, "already_invited": 0}
    await worker.drain()
    assert len(smtp.received) == 3
    message_ids = set()
    for invitee in THREE:
        (received,) = smtp.for_recipient(invitee["email"])
        raw = received.data
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        msg = received.message
        assert msg["X-Notification-Kind"] == "invitation"
        assert msg["Auto-Submitted"] == "auto-generated"
        message_ids.add(msg["Message-ID"])
        assert msg["From"].addresses[0].addr_spec == "events@events.example.org"
        assert msg["From"].addresses[0].display_name == "广东省社会工作师联合会"
        assert msg["Reply-To"].addresses[0].addr_spec == "office@gdswa.example.org"
        assert msg["To"].addresses[0].addr_spec == invitee["email"]
        raw_headers = raw.split(b"\r\n\r\n")[0]
        assert all(b < 128 for b in raw_headers), "non-ASCII headers must be RFC 2047 encoded"
        part, _attachment = calendar_parts(received)
        assert part.get_content_type() == "text/calendar"
        assert part.get_param("method") == "REQUEST"
        assert part.get_param("charset").upper() == "UTF-8"
        assert part["Content-Transfer-Encoding"] == "base64"
        ics = ics_of(received)
        parsed = check_all(ics)  # icalendar, vobject and ical.js agree
        assert parsed["method"] == "REQUEST"
        cal, vevent = vevent_of(received)
        assert cal["METHOD"] == "REQUEST"
        assert str(vevent["UID"]) == ev["uid"]
        assert vevent["SEQUENCE"] == 0
        assert "DTSTAMP" in vevent
        assert vevent["DTSTART"].params["TZID"] == "Asia/Shanghai"
        assert vevent.decoded("DTSTART").isoformat() == "2027-06-10T09:30:00+08:00"
        assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
        assert str(vevent["SUMMARY"]) == "第二届社会工作本色与本土论坛"
        assert str(vevent["LOCATION"]) == "广州市越秀区"
        organizer = vevent["ORGANIZER"]
        reply_to = await reply_address_for(ev["id"], invitee["email"])
        assert str(organizer) == f"mailto:{reply_to}"
        assert organizer.params["CN"] == "广东省社会工作师联合会"
        attendee = vevent["ATTENDEE"]
        assert not isinstance(attendee, list), "each recipient sees only their own ATTENDEE"
        assert str(attendee).lower() == f"mailto:{invitee['email']}".lower()
        assert attendee.params["CN"] == invitee["name"]
        role = {"chair": "CHAIR", "optional": "OPT-PARTICIPANT"}.get(
            invitee.get("role", ""), "REQ-PARTICIPANT"
        )
        assert attendee.params["ROLE"] == role
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"
        assert ics.count(b"BEGIN:VEVENT") == 1
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"https://events.example.org/events/{ev['id']}.ics" in text
        assert "https://meet.example.org/forum" in text
        subject = decoded(msg["Subject"])
        if invitee.get("locale") == "en":
            assert subject.startswith("Invitation: 第二届社会工作本色与本土论坛")
            assert "Thursday, 10 June 2027 09:30–17:00" in text
            assert "Asia/Shanghai, UTC+08:00" in text
            assert "Optional participant" in text
        else:
            assert subject.startswith("邀请：第二届社会工作本色与本土论坛")
            assert "2027年6月10日（星期四）09:30–17:00" in text and "北京时间" in text
            assert "诚邀各位拨冗出席。" in text
        html_body = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "第二届社会工作本色与本土论坛" in html_body and "<script" not in html_body
    assert len(message_ids) == 3


async def test_moving_and_cancelling_send_updates_then_cancels(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], THREE)
    await worker.drain()
    smtp.clear()
    moved = await client.patch(
        f"/events/{ev['id']}",
        json={"starts_at": "2027-06-11T09:30:00", "ends_at": "2027-06-11T17:00:00"},
        headers=auth(key),
    )
    assert moved.json()["sequence"] == 1
    await worker.drain()
    assert len(smtp.received) == 3
    for received in smtp.received:
        assert received.message["X-Notification-Kind"] == "update"
        cal, vevent = vevent_of(received)
        assert cal["METHOD"] == "REQUEST" and vevent["SEQUENCE"] == 1
        assert vevent.decoded("DTSTART").isoformat() == "2027-06-11T09:30:00+08:00"
        assert str(vevent["UID"]) == ev["uid"]
        check_all(ics_of(received))
    smtp.clear()
    # a description-only edit does not raise SEQUENCE and sends nothing
    await client.patch(f"/events/{ev['id']}", json={"description": "新说明"}, headers=auth(key))
    await worker.drain()
    assert smtp.received == []
    cancelled = await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    assert cancelled.json()["sequence"] == 2
    await worker.drain()
    assert len(smtp.received) == 3
    for received in smtp.received:
        assert received.message["X-Notification-Kind"] == "cancellation"
        part, _ = calendar_parts(received)
        assert part.get_param("method") == "CANCEL"
        cal, vevent = vevent_of(received)
        assert cal["METHOD"] == "CANCEL"
        assert vevent["SEQUENCE"] == 2 and vevent["STATUS"] == "CANCELLED"
        assert str(vevent["UID"]) == ev["uid"]
        check_all(ics_of(received))
    again = await _invite(client, key, ev["id"], [{"email": "new@x.example.org"}])
    assert again.status_code == 409


async def test_inviting_again_is_idempotent_case_insensitively(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    first = await _invite(
        client, key, ev["id"], [{"email": "A.B@x.example.org"}, {"email": "a.b@X.example.org"}]
    )
    assert first.json() == {"invited": 1, "already_invited": 0}
    second = await _invite(client, key, ev["id"], [{"email": "a.b@x.example.org"}, *THREE])
    assert second.json() == {"invited": 3, "already_invited": 1}
    await worker.drain()
    assert len(smtp.received) == 4
    assert await Person.count() == 4
    assert await Notification.count() == 4


async def test_a_bad_address_refuses_the_whole_request(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    invitees = [
        {"email": "ok@x.example.org"},
        {"email": "not-an-address"},
        {"email": "two@@x.example.org"},
        {"email": "x@y.example.org\r\nBcc: victim@example.org"},
        {"email": "ok2@x.example.org", "name": "Evil\r\nBcc: victim@example.org"},
    ]
    resp = await _invite(client, key, ev["id"], invitees)
    assert resp.status_code == 422
    fields = [e["field"] for e in resp.json()["errors"]]
    assert fields == [
        "invitees.1.email",
        "invitees.2.email",
        "invitees.3.email",
        "invitees.4.name",
    ]
    assert await Invitation.count() == 0 and await Person.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"invitees": []}, "invitees"),
        ({"invitees": [{"email": "a@x.example.org", "role": "boss"}]}, "invitees.0.role"),
        ({"invitees": [{"email": "a@x.example.org", "locale": "fr"}]}, "invitees.0.locale"),
        ({"invitees": [{"email": "a@x.example.org", "extra": 1}]}, "invitees.0.extra"),
        ({"invitees": [{"name": "x"}]}, "invitees.0.email"),
        ({"invitees": [{"email": "a@x.example.org"}], "message": "x" * 5001}, "message"),
        ({"people": []}, "people"),
    ],
)
async def test_bad_invitation_bodies_name_the_field(
    client: Any, make_org: Any, body: dict[str, Any], field: str
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    resp = await client.post(f"/events/{ev['id']}/invitations", json=body, headers=auth(key))
    assert resp.status_code in (400, 422), resp.text
    assert field in [e["field"] for e in resp.json()["errors"]], resp.json()


async def test_other_orgs_cannot_invite_list_or_uninvite(client: Any, make_org: Any) -> None:
    _a, key_a = await make_org()
    _b, key_b = await make_org()
    ev = await _event(client, key_a, visibility="private")
    await _invite(client, key_a, ev["id"], THREE[:1])
    base = f"/events/{ev['id']}/invitations"
    assert (await _invite(client, key_b, ev["id"], THREE)).status_code == 404
    assert (await client.get(base, headers=auth(key_b))).status_code == 404
    deleted = await client.delete(f"{base}/{THREE[0]['email']}", headers=auth(key_b))
    assert deleted.status_code == 404
    assert await Invitation.count() == 1


async def test_uninvite_sends_one_cancel_and_list_shows_delivery(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], THREE)
    await worker.drain()
    listed = (await client.get(f"/events/{ev['id']}/invitations", headers=auth(key))).json()
    assert [i["email"] for i in listed["items"]] == sorted(
        (i["email"] for i in THREE), key=str.lower
    )
    for item in listed["items"]:
        assert item["rsvp"] == "needs-action"
        assert item["delivery"]["status"] == "sent" and item["delivery"]["attempts"] == 1
        assert item["delivery"]["sent_at"] is not None
    smtp.clear()
    gone = THREE[1]["email"]
    resp = await client.delete(f"/events/{ev['id']}/invitations/{gone.upper()}", headers=auth(key))
    assert resp.status_code == 204
    await worker.drain()
    (received,) = smtp.received
    assert received.recipients == [gone]
    assert received.message["X-Notification-Kind"] == "cancellation"
    cal, vevent = vevent_of(received)
    assert cal["METHOD"] == "CANCEL" and vevent["STATUS"] == "CANCELLED"
    assert str(vevent["UID"]) == ev["uid"]
    listed = (await client.get(f"/events/{ev['id']}/invitations", headers=auth(key))).json()
    assert gone not in [i["email"] for i in listed["items"]]
    again = await client.delete(f"/events/{ev['id']}/invitations/{gone}", headers=auth(key))
    assert again.status_code == 404
    # moving the event now updates only the two still invited
    smtp.clear()
    await client.patch(f"/events/{ev['id']}", json={"location": "北京"}, headers=auth(key))
    await worker.drain()
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(
        i["email"] for i in THREE if i["email"] != gone
    )


async def test_declined_people_get_no_updates_but_do_get_the_cancel(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], THREE)
    await worker.drain()
    person = await Person.select(Person.id).where(Person.email_key == "li.si@gdswa.example.org")
    await Invitation.update({Invitation.rsvp: "declined"}).where(
        Invitation.person == person[0]["id"]
    )
    smtp.clear()
    await client.patch(f"/events/{ev['id']}", json={"location": "北京"}, headers=auth(key))
    await worker.drain()
    assert len(smtp.received) == 2
    assert not smtp.for_recipient("li.si@gdswa.example.org")
    smtp.clear()
    await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    await worker.drain()
    assert len(smtp.received) == 3


async def test_an_update_superseded_before_sending_is_skipped(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], THREE)
    await worker.drain()
    smtp.clear()
    for day in ("11", "12"):
        await client.patch(
            f"/events/{ev['id']}",
            json={"starts_at": f"2027-06-{day}T09:30:00", "ends_at": f"2027-06-{day}T17:00:00"},
            headers=auth(key),
        )
    await worker.drain()
    assert len(smtp.received) == 3  # one per person, not two
    for received in smtp.received:
        _cal, vevent = vevent_of(received)
        assert vevent["SEQUENCE"] == 2
        assert vevent.decoded("DTSTART").isoformat() == "2027-06-12T09:30:00+08:00"
    statuses = await Notification.select(Notification.status, Notification.last_error).where(
        Notification.kind == "update"
    )
    assert sorted(s["status"] for s in statuses) == ["sent"] * 3 + ["skipped"] * 3
    assert {s["last_error"] for s in statuses if s["status"] == "skipped"} == {"superseded"}


@pytest.mark.parametrize("first", ["invitation", "update"])
async def test_invitations_render_the_event_as_it_is_when_sent(
    client: Any, make_org: Any, smtp: Any, worker: Any, first: str
) -> None:
    """A person never gets an update for an invitation not yet sent: the pending invitation
    absorbs the update queued after it, whichever of the two rows a worker claims first."""
    from workers.notifications import send_notification

    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], THREE[:1])
    await client.patch(f"/events/{ev['id']}", json={"location": "北京"}, headers=auth(key))
    rows = {
        r["kind"]: str(r["id"])
        for r in await Notification.select(Notification.id, Notification.kind)
    }
    assert set(rows) == {"invitation", "update"}
    second = "update" if first == "invitation" else "invitation"
    # the claim order is forced: each row is sent by the worker's own job function, in turn
    ctx = {**await worker._ctx(), "smtp": worker.smtp}
    outcomes = {kind: await send_notification(ctx, rows[kind]) for kind in (first, second)}
    assert outcomes == {"invitation": "sent", "update": "skipped"}
    await worker.drain()  # the jobs the API enqueued find nothing more to send
    # the invitation went out with the newest state; the update for that state was not needed
    (received,) = smtp.received
    assert received.message["X-Notification-Kind"] == "invitation"
    _cal, vevent = vevent_of(received)
    assert vevent["SEQUENCE"] == 1 and str(vevent["LOCATION"]) == "北京"
    skipped = await Notification.select(Notification.status, Notification.last_error).where(
        Notification.kind == "update"
    )
    assert skipped == [{"status": "skipped", "last_error": "superseded"}]


async def test_smtp_down_then_up_everything_arrives_once(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    smtp.stop()
    await _invite(client, key, ev["id"], THREE)
    await worker.sweep()  # nothing due yet; the API enqueued the jobs itself

    async def bring_back() -> None:
        await asyncio.sleep(1.0)
        smtp.start()

    restarting = asyncio.create_task(bring_back())
    await worker.drain()  # fails, retries with backoff, and succeeds once the server is back
    await restarting
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(i["email"] for i in THREE)
    rows = await Notification.select(Notification.status, Notification.attempts)
    assert all(r["status"] == "sent" for r in rows)
    assert all(r["attempts"] >= 2 for r in rows)


async def test_a_5xx_reply_marks_the_row_failed_with_the_reply(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    smtp.handler.refuse["li.si@gdswa.example.org"] = "550 5.1.1 mailbox unavailable"
    await _invite(client, key, ev["id"], THREE)
    await worker.drain()
    assert len(smtp.received) == 2
    listed = (await client.get(f"/events/{ev['id']}/invitations", headers=auth(key))).json()
    by_email = {i["email"]: i["delivery"] for i in listed["items"]}
    failed = by_email["li.si@gdswa.example.org"]
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "550" in failed["last_error"] and "mailbox unavailable" in failed["last_error"]
    assert by_email["zhang.san@bjswa.example.org"]["status"] == "sent"


async def test_a_4xx_reply_is_retried(client: Any, make_org: Any, smtp: Any, worker: Any) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    smtp.handler.refuse["li.si@gdswa.example.org"] = "451 4.7.1 greylisted, try later"
    await _invite(client, key, ev["id"], THREE[1:2])

    async def lift() -> None:
        await asyncio.sleep(0.8)
        smtp.handler.refuse.clear()

    lifting = asyncio.create_task(lift())
    await worker.drain()
    await lifting
    assert len(smtp.received) == 1
    row = await Notification.select(Notification.status, Notification.attempts).first()
    assert row is not None and row["status"] == "sent" and row["attempts"] >= 2


async def test_redis_flushed_before_sending_loses_nothing(
    app: Any, settings: Any, client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    invitees = [{"email": f"p{i}@x.example.org"} for i in range(40)]
    await _invite(client, key, ev["id"], invitees)
    await app.state.arq.flushdb()  # every queued job is gone
    await worker.drain()
    assert smtp.received == []
    # rows still queued after the grace period are swept back into the queue
    await Notification.raw(
        "UPDATE notification SET next_attempt_at = next_attempt_at - interval '1 minute'"
    )
    slot = int(time.time() // settings.sweep_grace)
    assert await worker.sweep() == 40
    again = await worker.sweep()
    if int(time.time() // settings.sweep_grace) == slot:
        assert again == 0  # the jobs are in Redis now: same ids, nothing added
    await worker.drain()
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(i["email"] for i in invitees)


async def test_sweep_leaves_rows_to_a_draining_queue(
    app: Any, settings: Any, client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    """While due jobs wait in the queue (a large send draining), a row queued for a minute is
    most likely in one of them: the sweep does not enqueue it again, unless it has waited
    longer than a large send takes (BACKLOG_GRACE)."""
    from events_svc.jobs import due_backlog
    from workers.notifications import BACKLOG_GRACE

    _org, key = await make_org()
    ev = await _event(client, key)
    await _invite(client, key, ev["id"], [{"email": f"q{i}@x.example.org"} for i in range(5)])
    assert await due_backlog(app.state.arq) > 0  # the API's jobs, not yet run
    await Notification.raw(
        "UPDATE notification SET next_attempt_at = next_attempt_at - interval '2 minutes'"
    )
    assert await worker.sweep() == 0
    await Notification.raw(
        "UPDATE notification SET next_attempt_at = next_attempt_at - {} * interval '1 second'",
        BACKLOG_GRACE,
    )
    assert await worker.sweep() == 5  # waited too long: taken for lost, queue or not
    await worker.drain()
    assert len(smtp.received) == 5


async def test_ten_thousand_invitees_in_one_request(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _event(client, key)
    invitees = [
        {"email": f"member{i:05d}@federation.example.org", "name": f"会员{i}"}
        for i in range(10_000)
    ]
    resp = await _invite(client, key, ev["id"], invitees)
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"invited": 10_000, "already_invited": 0}
    assert await Notification.count() == 10_000
    too_many = await _invite(client, key, ev["id"], [*invitees, {"email": "one@more.example.org"}])
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "invitees"
