"""Reminders: planned from rules, moved with the event, sent once, on time."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from events_svc.invitations.tables import Invitation
from events_svc.notifications.tables import Notification
from events_svc.reminders import service as reminders
from events_svc.sender import service as sender
from tests.helpers import auth, event_body
from tests.interop.parsers import check_all

SH = ZoneInfo("Asia/Shanghai")
TWO = [
    {"email": "zhang.san@bjswa.example.org", "name": "张三"},
    {"email": "jane@partner.example.org", "name": "Jane", "locale": "en"},
]


async def _event_with_invitees(
    client: Any, key: str, invitees: list[dict[str, Any]] = TWO, **overrides: Any
) -> dict[str, Any]:
    ev = (await client.post("/events", json=event_body(**overrides), headers=auth(key))).json()
    assert "id" in ev, ev
    resp = await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text
    return ev


async def _reminders(client: Any, key: str, event_id: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/events/{event_id}/reminders", headers=auth(key))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def test_rules_per_person_and_the_organization_default(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    patched = await client.patch(
        "/orgs/me", json={"default_reminders": [{"before": "p1d"}]}, headers=auth(key)
    )
    assert patched.status_code == 200 and patched.json()["default_reminders"] == [{"before": "P1D"}]
    ev = await _event_with_invitees(client, key)
    items = await _reminders(client, key, ev["id"])
    assert sorted(i["email"] for i in items) == sorted(i["email"] for i in TWO)
    for item in items:
        assert item["rule"] == {"before": "P1D"} and item["status"] == "pending"
        assert item["occurrence"] == "2027-06-10T09:30:00"
        assert item["due_at"] == "2027-06-09T01:30:00Z"
    own = await _event_with_invitees(
        client,
        key,
        reminders=[{"before": "PT1H"}, {"at": "2027-06-10T07:00:00"}],
    )
    due = sorted(
        (i["rule"].popitem(), i["due_at"]) for i in await _reminders(client, key, own["id"])
    )
    assert due == [
        (("at", "2027-06-10T07:00:00"), "2027-06-09T23:00:00Z"),
        (("at", "2027-06-10T07:00:00"), "2027-06-09T23:00:00Z"),
        (("before", "PT1H"), "2027-06-10T00:30:00Z"),
        (("before", "PT1H"), "2027-06-10T00:30:00Z"),
    ]
    none = await _event_with_invitees(client, key, reminders=[])
    assert await _reminders(client, key, none["id"]) == []
    # a new default moves the reminders of events that rely on it, not of the others
    await client.patch(
        "/orgs/me", json={"default_reminders": [{"before": "PT2H"}]}, headers=auth(key)
    )
    items = await _reminders(client, key, ev["id"])
    assert {(i["rule"]["before"], i["due_at"]) for i in items} == {("PT2H", "2027-06-09T23:30:00Z")}
    assert len(await _reminders(client, key, own["id"])) == 4


async def test_moving_an_event_moves_its_pending_reminders(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _event_with_invitees(client, key, reminders=[{"before": "PT1H"}])
    await client.patch(
        f"/events/{ev['id']}",
        json={"starts_at": "2027-06-11T14:00:00", "ends_at": "2027-06-11T16:00:00"},
        headers=auth(key),
    )
    items = await _reminders(client, key, ev["id"])
    assert len(items) == 2
    assert {(i["occurrence"], i["due_at"]) for i in items} == {
        ("2027-06-11T14:00:00", "2027-06-11T05:00:00Z")
    }
    # changing the rules takes effect at once
    await client.patch(
        f"/events/{ev['id']}", json={"reminders": [{"before": "PT90S"}]}, headers=auth(key)
    )
    items = await _reminders(client, key, ev["id"])
    assert {i["due_at"] for i in items} == {"2027-06-11T05:58:30Z"}
    await client.patch(f"/events/{ev['id']}", json={"reminders": []}, headers=auth(key))
    assert await _reminders(client, key, ev["id"]) == []


async def test_cancelling_uninviting_and_declining_drop_reminders(
    client: Any, make_org: Any
) -> None:
    _org, key = await make_org()
    ev = await _event_with_invitees(client, key, reminders=[{"before": "PT1H"}])
    await client.delete(f"/events/{ev['id']}/invitations/{TWO[1]['email']}", headers=auth(key))
    assert [i["email"] for i in await _reminders(client, key, ev["id"])] == [TWO[0]["email"]]
    await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    items = await _reminders(client, key, ev["id"])
    assert [(i["status"], i["outcome"]) for i in items] == [("skipped", "event cancelled")]

    other = await _event_with_invitees(client, key, reminders=[{"before": "PT1H"}])
    await Invitation.update({Invitation.rsvp: "declined"}).where(
        Invitation.event == uuid.UUID(other["id"])
    )
    async with Invitation._meta.db.transaction():
        await reminders.plan(event_id=uuid.UUID(other["id"]), now=datetime.now(UTC))
    assert await _reminders(client, key, other["id"]) == []


async def test_a_weekly_series_gets_one_reminder_per_occurrence_across_dst(
    client: Any, make_org: Any
) -> None:
    _org, key = await make_org()
    ev = await _event_with_invitees(
        client,
        key,
        invitees=TWO[:1],
        timezone="Europe/Berlin",
        starts_at="2027-03-14T14:00:00",
        ends_at="2027-03-14T16:00:00",
        recurrence="FREQ=WEEKLY;COUNT=3",
        reminders=[{"before": "PT1H"}],
    )
    items = await _reminders(client, key, ev["id"])
    # Berlin moves to summer time on 28 March: 13:00 local is 12:00 UTC, then 11:00 UTC
    assert [(i["occurrence"], i["due_at"]) for i in items] == [
        ("2027-03-14T14:00:00", "2027-03-14T12:00:00Z"),
        ("2027-03-21T14:00:00", "2027-03-21T12:00:00Z"),
        ("2027-03-28T14:00:00", "2027-03-28T11:00:00Z"),
    ]


async def test_time_is_a_parameter_late_reminders_and_started_events(
    client: Any, make_org: Any, settings: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = await _event_with_invitees(client, key, invitees=TWO[:1], reminders=[{"before": "PT1H"}])
    await Notification.update({Notification.status: "sent"}).where(
        Notification.kind == "invitation"
    )
    (row,) = await Notification.select(Notification.id).where(Notification.kind == "reminder")
    start = datetime(2027, 6, 10, 1, 30, tzinfo=UTC)
    # before it is due: nothing happens
    early = await sender.deliver(
        notification_id=row["id"],
        settings=settings,
        smtp=worker.smtp,
        now=start - timedelta(hours=2),
    )
    assert early.status == "noop" and smtp.received == []
    # due 30 minutes ago but the event has not started: still worth sending
    late = await sender.deliver(
        notification_id=row["id"],
        settings=settings,
        smtp=worker.smtp,
        now=start - timedelta(minutes=30),
    )
    assert late.status == "sent" and len(smtp.received) == 1
    msg = smtp.received[0].message
    assert msg["X-Notification-Kind"] == "reminder"
    assert msg.get_content_type() == "multipart/alternative"  # no calendar part
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "2027年6月10日（星期四）09:30–17:00" in text and f"{ev['id']}.ics" in text
    # the person's check-in QR code is on their RSVP page, linked from the reminder
    assert re.search(r"签到二维码（到场时出示）：https://\S+/rsvp/\S+#check-in-qr", text), text
    # a second event whose reminder was missed until after its start: skipped, not sent
    other = await _event_with_invitees(
        client, key, invitees=TWO[:1], reminders=[{"before": "PT1H"}], location="北京"
    )
    (row2,) = await Notification.select(Notification.id).where(
        (Notification.kind == "reminder") & (Notification.event == uuid.UUID(other["id"]))
    )
    missed = await sender.deliver(
        notification_id=row2["id"],
        settings=settings,
        smtp=worker.smtp,
        now=start + timedelta(minutes=1),
    )
    assert missed.status == "skipped" and missed.detail == "late: the event had started"
    assert len(smtp.received) == 1


async def test_a_reminder_arrives_on_time_once_even_after_a_redis_flush(
    app: Any, client: Any, make_org: Any, settings: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    start = datetime.now(SH).replace(microsecond=0) + timedelta(seconds=8)
    ev = await _event_with_invitees(
        client,
        key,
        starts_at=start.replace(tzinfo=None).isoformat(),
        ends_at=(start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
        reminders=[{"before": "PT5S"}],
    )
    await worker.drain()  # the invitations
    smtp.clear()
    assert await worker.schedule() == 1  # one job for both: they are due at the same time
    await app.state.arq.flushdb()  # the scheduled job is lost ...
    assert await worker.schedule() == 1  # ... and scheduled again from the rows
    assert await worker.schedule() == 0  # once
    await worker.drain()  # runs the deferred jobs when they fall due
    arrived = time.time()
    due = (start - timedelta(seconds=5)).timestamp()
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(i["email"] for i in TWO)
    assert due <= arrived < due + 3, "sent within seconds of the due time"
    subjects = {r.message["Subject"] for r in smtp.received}
    assert any(s.startswith("提醒：") for s in subjects)
    assert any(s.startswith("Reminder: ") for s in subjects)
    statuses = await _reminders(client, key, ev["id"])
    assert {(i["status"], i["attempts"]) for i in statuses} == {("sent", 1)}
    assert all(i["sent_at"] for i in statuses)


async def test_invitations_carry_one_valarm_per_rule(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    await _event_with_invitees(
        client,
        key,
        invitees=TWO[:1],
        reminders=[{"before": "P1D"}, {"at": "2027-06-10T07:00:00"}],
    )
    await worker.drain()
    (received,) = smtp.received
    part = next(p for p in received.message.walk() if p.get_content_type() == "text/calendar")
    ics = part.get_payload(decode=True)
    check_all(ics)
    (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
    alarms = vevent.walk("VALARM")
    assert [a["ACTION"] for a in alarms] == ["DISPLAY", "DISPLAY"]
    assert alarms[0]["TRIGGER"].dt == timedelta(days=-1)
    assert alarms[1]["TRIGGER"].dt == datetime(2027, 6, 9, 23, 0, tzinfo=UTC)


async def test_bad_reminder_input_is_refused(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    for body, field in [
        ({"default_reminders": [{"at": "2027-06-10T07:00:00"}]}, "default_reminders.0.at"),
        ({"default_reminders": [{"before": "soon"}]}, "default_reminders.0.before"),
        ({"default_reminders": [{"before": "PT0S"}]}, "default_reminders.0.before"),
        ({"name": ""}, "name"),
        ({"email": "nope"}, "email"),
        ({"slug": "x"}, "slug"),
    ]:
        resp = await client.patch("/orgs/me", json=body, headers=auth(key))
        assert resp.status_code == 422, (body, resp.text)
        assert field in [e["field"] for e in resp.json()["errors"]], resp.json()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    other_org, other_key = await make_org()
    assert (
        await client.get(f"/events/{ev['id']}/reminders", headers=auth(other_key))
    ).status_code == 404


async def test_reminders_page_with_a_next_cursor_like_every_listing(
    client: Any, make_org: Any
) -> None:
    _org, key = await make_org()
    ev = await _event_with_invitees(
        client,
        key,
        [*TWO, {"email": "li.si@gdswa.example.org", "name": "李四"}],
        reminders=[{"before": "P1D"}, {"before": "PT1H"}],
    )
    seen: list[dict[str, Any]] = []
    query = "?limit=4"
    for _page in range(3):
        resp = await client.get(f"/events/{ev['id']}/reminders{query}", headers=auth(key))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"items", "next"}
        seen += body["items"]
        if body["next"] is None:
            break
        query = f"?limit=4&cursor={body['next']}"
    assert len(seen) == 6 and body["next"] is None
    assert len({(i["email"], i["rule"]["before"]) for i in seen}) == 6
    assert [i["due_at"] for i in seen] == sorted(i["due_at"] for i in seen)
    for cursor in ("x", "WyJkZWxpdmVyaWVzIiwgIngiLCAieSJd"):  # junk; another listing's cursor
        resp = await client.get(f"/events/{ev['id']}/reminders?cursor={cursor}", headers=auth(key))
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "cursor"


async def test_reminders_are_scheduled_minutes_ahead_and_again_when_moved(
    app: Any, client: Any, make_org: Any, worker: Any
) -> None:
    """The scheduler runs in the queue it fills, late behind a backlog: it enqueues reminders
    minutes ahead, and a reminder moved after that gets a job at its new time."""
    _org, key = await make_org()
    start = datetime.now(SH).replace(microsecond=0) + timedelta(minutes=4)
    ev = await _event_with_invitees(
        client,
        key,
        starts_at=start.replace(tzinfo=None).isoformat(),
        ends_at=(start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
        reminders=[{"before": "PT3M"}],
    )
    await worker.drain()  # the invitations
    assert await worker.schedule() == 1  # due in a minute: one job for both invitees
    assert await worker.schedule() == 0
    moved = await client.patch(
        f"/events/{ev['id']}", json={"reminders": [{"before": "PT3M30S"}]}, headers=auth(key)
    )
    assert moved.status_code == 200, moved.text
    assert await worker.schedule() == 1  # the new due time: a job of its own
