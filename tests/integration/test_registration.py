"""Self-registration end to end: event settings through the API, the public form, the
confirmation e-mail (real SMTP), confirming into an invitation, capacity under concurrent
confirmations, and every refusal."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc.registration.service import confirm_token
from events_svc.registration.tables import Registration
from tests.console.helpers import csrf_of
from tests.helpers import auth, event_body

QUESTIONS = [
    {"id": "agency", "label": "所在机构", "type": "short_text", "required": True},
    {"id": "title", "label": "职务", "type": "short_text"},
    {
        "id": "supervisor",
        "label": "督导资格",
        "type": "one_choice",
        "required": True,
        "choices": ["初级", "中级", "高级", "无"],
    },
]
LINK = re.compile(r"https://events\.example\.org(/register/confirm/\S+)")


async def open_event(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    body = event_body(registration="open", registration_questions=QUESTIONS, **overrides)
    resp = await client.post("/events", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def register(client: Any, event_id: str, **fields: Any) -> Any:
    page = await client.get(f"/e/{event_id}")
    assert page.status_code == 200, page.text
    form = {
        "_csrf": csrf_of(page.text),
        "name": "王小明",
        "email": "wang@agency.example.org",
        "locale": "zh-CN",
        "q_agency": "广州市启创社会工作服务中心",
        "q_title": "项目主任",
        "q_supervisor": "中级",
    }
    form.update(fields)
    return await client.post(f"/e/{event_id}/register", data=form)


def confirm_link(smtp: Any, email: str) -> str:
    mails = [
        m
        for m in smtp.for_recipient(email)
        if m.message["X-Notification-Kind"] == "registration-confirm"
    ]
    assert len(mails) == 1, [m.message["Subject"] for m in smtp.for_recipient(email)]
    text = mails[0].message.get_body(("plain",)).get_content()
    found = LINK.search(text)
    assert found, text
    return found.group(1)


async def test_settings_through_the_api_are_checked_field_by_field(client, make_org):
    _, key = await make_org()
    event = await open_event(client, key)
    assert event["registration"] == "open"
    assert [q["id"] for q in event["registration_questions"]] == ["agency", "title", "supervisor"]
    bad = await client.post(
        "/events",
        json=event_body(
            registration_questions=[{"label": "督导资格", "type": "one_choice", "choices": ["a"]}]
        ),
        headers=auth(key),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "registration_questions.0.choices"
    bad_id = await client.post(
        "/events",
        json=event_body(registration_questions=[{"id": "所在机构\n", "label": "所在机构"}]),
        headers=auth(key),
    )
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "registration_questions.0.id"
    eleven = [{"label": f"问题{i}"} for i in range(11)]
    too_many = await client.post(
        "/events", json=event_body(registration_questions=eleven), headers=auth(key)
    )
    assert too_many.status_code == 422 and "registration_questions" in too_many.text
    private = await client.post(
        "/events", json=event_body(registration="open", visibility="private"), headers=auth(key)
    )
    assert private.status_code == 422
    assert private.json()["errors"][0]["field"] == "registration"
    closed = await client.patch(
        f"/events/{event['id']}",
        json={"registration": "closed", "registration_deadline": "2027-06-01T18:00:00"},
        headers=auth(key),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["registration"] == "closed"
    assert closed.json()["registration_deadline"].startswith("2027-06-01T10:00:00")


async def test_register_confirm_invite_and_answers(client, make_org, smtp, worker):
    _, key = await make_org()
    event = await open_event(client, key, capacity=10)
    done = await register(client, event["id"])
    assert done.status_code == 200, done.text
    assert 'data-outcome="sent"' in done.text
    await worker.drain()
    path = confirm_link(smtp, "wang@agency.example.org")
    page = await client.get(path)
    assert page.status_code == 200 and 'id="confirm"' in page.text
    confirmed = await client.post(path)
    assert confirmed.status_code == 200 and 'data-outcome="confirmed"' in confirmed.text
    await worker.drain()
    invitation = [
        m
        for m in smtp.for_recipient("wang@agency.example.org")
        if m.message["X-Notification-Kind"] == "invitation"
    ]
    assert len(invitation) == 1
    # the link works once: again, it says so and changes nothing
    again = await client.post(path)
    assert 'data-outcome="already"' in again.text
    listed = await client.get(f"/events/{event['id']}/registrations", headers=auth(key))
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert item["status"] == "confirmed" and item["answers"]["supervisor"] == "中级"
    attendance = (await client.get(f"/events/{event['id']}/attendance", headers=auth(key))).json()
    (person,) = attendance["people"]
    assert person["rsvp"] == "accepted" and person["answers"]["agency"].startswith("广州")
    assert [q["label"] for q in attendance["questions"]] == ["所在机构", "职务", "督导资格"]
    body = (await client.get(f"/events/{event['id']}/attendance.csv", headers=auth(key))).content
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["所在机构", "职务", "督导资格"]
    assert rows[1][-3:] == ["广州市启创社会工作服务中心", "项目主任", "中级"]


async def test_registering_again_changes_nothing(client, make_org, smtp, worker):
    _, key = await make_org()
    event = await open_event(client, key)
    assert 'data-outcome="sent"' in (await register(client, event["id"])).text
    again = await register(client, event["id"], email="WANG@agency.example.org", name="别人")
    assert 'data-outcome="already"' in again.text
    await worker.drain()
    assert len(smtp.for_recipient("wang@agency.example.org")) == 1
    (row,) = await Registration.select(Registration.name)
    assert row["name"] == "王小明"


async def test_refusals(client, make_org, smtp, worker):
    _, key = await make_org()
    event = await open_event(client, key)
    csrf = csrf_of((await client.get(f"/e/{event['id']}")).text)
    closed = await client.post("/events", json=event_body(), headers=auth(key))
    assert 'id="registration-closed"' in (await client.get(f"/e/{closed.json()['id']}")).text
    refused = await client.post(
        f"/e/{closed.json()['id']}/register", data={"_csrf": csrf, "email": "a@b.example.org"}
    )
    assert refused.status_code == 409 and 'data-outcome="refused"' in refused.text
    private = await client.post("/events", json=event_body(visibility="private"), headers=auth(key))
    assert (await client.get(f"/e/{private.json()['id']}")).status_code == 404
    forged = await client.post(
        f"/e/{private.json()['id']}/register", data={"_csrf": csrf, "email": "a@b.example.org"}
    )
    assert forged.status_code == 404
    late = await open_event(client, key, registration_deadline="2020-01-01T00:00:00Z")
    assert "registration-closed" in (await client.get(f"/e/{late['id']}")).text
    late_post = await client.post(
        f"/e/{late['id']}/register", data={"_csrf": csrf, "email": "a@b.example.org"}
    )
    assert late_post.status_code == 409
    missing = await register(client, event["id"], q_agency="", q_supervisor="不存在")
    assert missing.status_code == 422
    assert 'id="q_agency-error"' in missing.text and 'id="q_supervisor-error"' in missing.text
    bad_mail = await register(client, event["id"], email="not an address")
    assert bad_mail.status_code == 422 and 'id="email-error"' in bad_mail.text
    bot = await register(client, event["id"], website="http://spam.example")
    assert 'data-outcome="sent"' in bot.text
    assert await Registration.count() == 0
    no_csrf = await client.post(f"/e/{event['id']}/register", data={"email": "x@y.example.org"})
    assert no_csrf.status_code == 403
    cancelled = await client.post(f"/events/{event['id']}/cancel", headers=auth(key))
    assert cancelled.status_code in (200, 202), cancelled.text
    shown = await client.get(f"/e/{event['id']}")
    assert 'id="cancelled"' in shown.text and "register-form" not in shown.text
    await worker.drain()
    assert smtp.received == []


async def test_expired_or_forged_links_are_gone(client, make_org, app):
    _, key = await make_org()
    event = await open_event(client, key)
    await register(client, event["id"])
    (row,) = await Registration.select(Registration.id)
    await Registration.update({Registration.expires_at: datetime.now(UTC) - timedelta(1)}).where(
        Registration.id == row["id"]
    )
    token = confirm_token(app.state.settings.secret_key, row["id"])
    gone = await client.post(f"/register/confirm/{token}")
    assert gone.status_code == 410
    forged = await client.post(f"/register/confirm/{row['id'].hex}.AAAAAAAAAAAAAAAAAAAAAAAA")
    assert forged.status_code == 410
    # expired: registering again starts over, with a new link
    again = await register(client, event["id"])
    assert 'data-outcome="sent"' in again.text
    (fresh,) = await Registration.select(Registration.id, Registration.status)
    assert fresh["status"] == "pending" and fresh["id"] != row["id"]


async def test_concurrent_confirmations_respect_capacity(client, make_org, app):
    _, key = await make_org()
    event = await open_event(client, key, capacity=3)
    for i in range(8):
        assert (
            'data-outcome="sent"'
            in (await register(client, event["id"], email=f"p{i}@agency.example.org")).text
        )
    secret = app.state.settings.secret_key
    tokens = [confirm_token(secret, r["id"]) for r in await Registration.select(Registration.id)]
    answers = await asyncio.gather(*(client.post(f"/register/confirm/{t}") for t in tokens))
    outcomes = sorted(re.search(r'data-outcome="(\w+)"', a.text).group(1) for a in answers)
    assert outcomes == ["confirmed"] * 3 + ["waitlisted"] * 5
    attendance = (await client.get(f"/events/{event['id']}/attendance", headers=auth(key))).json()
    assert attendance["counts"]["accepted"] == 3 and attendance["counts"]["waitlisted"] == 5
