"""Training courses: check-ins per session, completion (JSON and CSV), certificates."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from events_svc.training import service as training
from tests.helpers import auth, event_body

SHANGHAI = ZoneInfo("Asia/Shanghai")
CERT_LINK = re.compile(r"https://events\.example\.org/certificates/([A-Za-z0-9_-]{22})")
BJ = "北京市社会工作者协会"


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _weekly(first: datetime, count: int = 6) -> list[datetime]:
    return [first + timedelta(weeks=i) for i in range(count)]


def _today_local() -> datetime:
    now = datetime.now(SHANGHAI).replace(tzinfo=None)
    return now.replace(hour=14, minute=0, second=0, microsecond=0)


async def _course(client: Any, key: str, first: datetime, **overrides: Any) -> dict[str, Any]:
    body = event_body(
        kind="training",
        title="督导人才培养",
        location="北京市东城区社工服务中心",
        starts_at=_iso(first),
        ends_at=_iso(first + timedelta(hours=3)),
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    body.update(overrides)
    resp = await client.post("/events", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def _enrol(client: Any, key: str, event_id: str, *people: dict[str, str]) -> None:
    resp = await client.post(
        f"/events/{event_id}/invitations", json={"invitees": list(people)}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text


async def _check_in(client: Any, key: str, event_id: str, email: str, when: datetime | str) -> Any:
    occurrence = when if isinstance(when, str) else _iso(when)
    return await client.post(
        f"/events/{event_id}/attendance",
        json={"email": email, "occurrence": occurrence},
        headers=auth(key),
    )


def _field(resp: Any) -> str:
    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["errors"]
    return str(error["field"])


def _certificate_mails(smtp: Any, email: str) -> list[Any]:
    return [
        m for m in smtp.for_recipient(email) if m.message["X-Notification-Kind"] == "certificate"
    ]


async def test_five_of_six_sessions_complete_the_course_and_the_certificate_verifies(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(slug="bjswa", name=BJ)
    # weekly from five weeks ago: five sessions held, the sixth is tomorrow
    sessions = _weekly(_today_local() - timedelta(weeks=5) + timedelta(days=1))
    ev = await _course(client, key, sessions[0])
    assert ev["completion_threshold"] == 0.8
    await _enrol(
        client,
        key,
        ev["id"],
        {"email": "zhang.san@bjswa.example.org", "name": "张三"},
        {"email": "jane@partner.example.org", "name": "Jane Doe", "locale": "en"},
        {"email": "li.si@bjswa.example.org", "name": "=李四"},
    )
    await worker.drain()
    smtp.clear()

    for when in sessions[:4]:
        resp = await _check_in(client, key, ev["id"], "zhang.san@bjswa.example.org", when)
        assert resp.status_code == 201, resp.text
        await _check_in(client, key, ev["id"], "jane@partner.example.org", when)
    state = resp.json()
    assert state["checked_in_by"]["organization"] == "bjswa"
    assert state["completion"]["attended"] == 4 and state["completion"]["completed"] is False
    assert state["completion"]["held"] == 5 and state["completion"]["total"] == 6

    # the fifth completes the course (5/6 = 0.83 >= 0.8) before the sixth is held
    resp = await _check_in(
        client, key, ev["id"], "ZHANG.SAN@bjswa.example.org", sessions[4].strftime("%Y%m%dT%H%M%S")
    )
    assert resp.status_code == 201, resp.text
    done = resp.json()["completion"]
    assert done["completed"] is True and done["attended"] == 5 and done["hours"] == 15.0
    code = done["certificate"]["code"]
    # checking in again is harmless: nothing new, no second certificate
    again = await _check_in(client, key, ev["id"], "zhang.san@bjswa.example.org", sessions[4])
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert again.json()["checked_in_at"] == resp.json()["checked_in_at"]
    assert again.json()["completion"]["certificate"]["code"] == code

    await worker.drain()
    (mail,) = _certificate_mails(smtp, "zhang.san@bjswa.example.org")
    assert mail.message.get_content_type() == "multipart/alternative"  # no calendar
    assert "结业证书" in str(mail.message["Subject"]) and "督导人才培养" in str(
        mail.message["Subject"]
    )
    text = mail.message.get_body(("plain",)).get_content()
    assert "15.0 小时" in text and "5 / 6" in text and BJ in text and "/rsvp/" not in text
    (link_code,) = CERT_LINK.findall(text)
    assert link_code == code
    html_mail = mail.message.get_body(("html",)).get_content()
    assert f"https://events.example.org/certificates/{code}" in html_mail
    # four of six is not enough
    assert _certificate_mails(smtp, "jane@partner.example.org") == []

    page = await client.get(f"/certificates/{code}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-robots-tag"] == "noindex"
    for expected in ("张三", "督导人才培养", "15.0 小时", BJ, "真实有效", 'lang="zh-CN"'):
        assert expected in page.text, expected
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no assets
    english = await client.get(f"/certificates/{code}?lang=en")
    assert "Certificate of completion" in english.text and "15.0 hours" in english.text
    data = (
        await client.get(f"/certificates/{code}", headers={"Accept": "application/json"})
    ).json()
    assert data["status"] == "valid" and data["name"] == "张三"
    assert data["course"] == "督导人才培养" and data["hours"] == 15.0
    assert data["issued_by"] == [BJ]
    assert (data["sessions_attended"], data["sessions_total"]) == (5, 6)
    assert data["first_session"] == sessions[0].date().isoformat()
    assert data["last_session"] == sessions[4].date().isoformat()

    # only an issuer revokes; then the code says so
    _other, other_key = await make_org(slug="gdswa")
    assert (
        await client.post(f"/certificates/{code}/revoke", headers=auth(other_key))
    ).status_code == 404
    revoked = await client.post(f"/certificates/{code}/revoke", headers=auth(key))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    data = (
        await client.get(f"/certificates/{code}", headers={"Accept": "application/json"})
    ).json()
    assert data["status"] == "revoked" and data["revoked_at"] is not None
    assert "已于" in (await client.get(f"/certificates/{code}")).text
    unknown = await client.get("/certificates/" + "A" * 22, headers={"Accept": "application/json"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/certificates/not-a-code")).status_code == 404

    # completion: JSON and CSV (BOM, Chinese names, Excel-safe cells)
    view = (await client.get(f"/events/{ev['id']}/completion", headers=auth(key))).json()
    assert (view["threshold"], view["held"], view["total"]) == (0.8, 5, 6)
    people = {p["email"]: p for p in view["people"]}
    assert people["zhang.san@bjswa.example.org"]["certificate"]["revoked_at"] is not None
    jane = people["jane@partner.example.org"]
    assert (jane["attended"], jane["hours"], jane["completed"], jane["certificate"]) == (
        4,
        12.0,
        False,
        None,
    )
    assert people["li.si@bjswa.example.org"]["attended"] == 0
    resp = await client.get(f"/events/{ev['id']}/completion.csv", headers=auth(key))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert resp.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["email", "name", "attended"]
    by_email = {r[0]: r for r in rows[1:]}
    assert by_email["zhang.san@bjswa.example.org"][1:7] == ["张三", "5", "5", "6", "15.0", "yes"]
    assert by_email["zhang.san@bjswa.example.org"][7] == f"{code} (revoked)"
    assert by_email["li.si@bjswa.example.org"][1] == "'=李四"  # no formula in Excel

    # a revoked certificate is not issued again by the next check-in
    await _check_in(client, key, ev["id"], "zhang.san@bjswa.example.org", sessions[3])
    await worker.drain()
    assert len(_certificate_mails(smtp, "zhang.san@bjswa.example.org")) == 1
    # a lower threshold completes Jane's four of six at her next check-in, even a repeated one
    resp = await client.patch(
        f"/events/{ev['id']}", json={"completion_threshold": 0.6}, headers=auth(key)
    )
    assert resp.status_code == 200 and resp.json()["completion_threshold"] == 0.6
    resp = await _check_in(client, key, ev["id"], "jane@partner.example.org", sessions[0])
    assert resp.status_code == 200 and resp.json()["completion"]["completed"] is True
    await worker.drain()
    (mail,) = _certificate_mails(smtp, "jane@partner.example.org")
    assert "4 of 6" in mail.message.get_body(("plain",)).get_content()


async def test_check_in_refusals_and_thresholds(client: Any, make_org: Any) -> None:
    _org, key = await make_org(name=BJ)
    sessions = _weekly(_today_local() - timedelta(weeks=5) + timedelta(days=1))
    ev = await _course(client, key, sessions[0])
    await _enrol(
        client,
        key,
        ev["id"],
        {"email": "zhang.san@bjswa.example.org", "name": "张三"},
        {"email": "gone@bjswa.example.org", "name": "王五"},
    )
    resp = await client.delete(
        f"/events/{ev['id']}/invitations/gone@bjswa.example.org", headers=auth(key)
    )
    assert resp.status_code == 204
    who = "zhang.san@bjswa.example.org"

    assert _field(await _check_in(client, key, ev["id"], "nobody@x.example.org", sessions[0])) == (
        "email"
    )
    assert _field(
        await _check_in(client, key, ev["id"], "gone@bjswa.example.org", sessions[0])
    ) == ("email")
    assert _field(await _check_in(client, key, ev["id"], "not an address", sessions[0])) == "email"
    # a start the series does not have, something that is no time, a session still ahead
    off = sessions[0] + timedelta(hours=1)
    assert _field(await _check_in(client, key, ev["id"], who, off)) == "occurrence"
    assert _field(await _check_in(client, key, ev["id"], who, "next tuesday")) == "occurrence"
    assert (
        _field(await _check_in(client, key, ev["id"], who, "2026-02-30T14:00:00")) == "occurrence"
    )
    later = sessions[-1] + timedelta(weeks=1)
    assert _field(await _check_in(client, key, ev["id"], who, later)) == "occurrence"
    ahead = await _check_in(client, key, ev["id"], who, sessions[5])
    assert _field(ahead) == "occurrence" and "not started" in ahead.text
    missing = await client.post(
        f"/events/{ev['id']}/attendance", json={"email": who}, headers=auth(key)
    )
    assert _field(missing) == "occurrence"
    # a cancelled session takes no check-ins
    resp = await client.patch(
        f"/events/{ev['id']}/occurrences/{_iso(sessions[1])}",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    assert resp.status_code == 200, resp.text
    cancelled = await _check_in(client, key, ev["id"], who, sessions[1])
    assert _field(cancelled) == "occurrence" and "cancelled" in cancelled.text
    # another organization's course does not exist for it
    _other, other_key = await make_org()
    assert (await _check_in(client, other_key, ev["id"], who, sessions[0])).status_code == 404
    assert (
        await client.get(f"/events/{ev['id']}/completion", headers=auth(other_key))
    ).status_code == 404
    # a forum takes no check-ins
    forum = await client.post("/events", json=event_body(), headers=auth(key))
    resp = await _check_in(client, key, forum.json()["id"], who, "2027-06-10T09:30:00")
    assert resp.status_code == 409
    assert (
        await client.get(f"/events/{forum.json()['id']}/completion", headers=auth(key))
    ).status_code == 409
    # the GET attendance view (answers) still answers on the same path
    assert (
        await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))
    ).status_code == 200

    # thresholds: 0 < t <= 1
    for bad in (0, -0.1, 1.5, "high"):
        resp = await client.post(
            "/events", json=event_body(kind="training", completion_threshold=bad), headers=auth(key)
        )
        assert _field(resp) == "completion_threshold", bad
        resp = await client.patch(
            f"/events/{ev['id']}", json={"completion_threshold": bad}, headers=auth(key)
        )
        assert _field(resp) == "completion_threshold", bad
    resp = await client.patch(
        f"/events/{ev['id']}", json={"completion_threshold": 1}, headers=auth(key)
    )
    assert resp.status_code == 200 and resp.json()["completion_threshold"] == 1.0
    resp = await client.post(
        "/events", json=event_body(kind="training", completion_threshold=0.5), headers=auth(key)
    )
    assert resp.status_code == 201 and resp.json()["completion_threshold"] == 0.5


async def test_moved_and_cancelled_sessions_count_right(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(name=BJ)
    # all six sessions lie in the past
    sessions = _weekly(_today_local() - timedelta(weeks=7))
    ev = await _course(client, key, sessions[0])
    await _enrol(client, key, ev["id"], {"email": "zhao@bjswa.example.org", "name": "赵六"})
    who = "zhao@bjswa.example.org"
    # the second is cancelled: the course has five sessions now
    await client.patch(
        f"/events/{ev['id']}/occurrences/{_iso(sessions[1])}",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    # the third moved a day earlier and lasts two hours; the fourth moved to next week
    moved = sessions[2] - timedelta(days=1)
    resp = await client.patch(
        f"/events/{ev['id']}/occurrences/{_iso(sessions[2])}",
        json={"starts_at": _iso(moved), "ends_at": _iso(moved + timedelta(hours=2))},
        headers=auth(key),
    )
    assert resp.status_code == 200, resp.text
    ahead = _today_local() + timedelta(weeks=1)
    await client.patch(
        f"/events/{ev['id']}/occurrences/{_iso(sessions[3])}",
        json={"starts_at": _iso(ahead), "ends_at": _iso(ahead + timedelta(hours=3))},
        headers=auth(key),
    )
    await worker.drain()
    smtp.clear()

    # a moved session is named by its original start, not its new one
    assert _field(await _check_in(client, key, ev["id"], who, moved)) == "occurrence"
    assert _field(await _check_in(client, key, ev["id"], who, sessions[3])) == "occurrence"
    for when in (sessions[0], sessions[2], sessions[4]):
        assert (await _check_in(client, key, ev["id"], who, when)).status_code == 201
    view = (await client.get(f"/events/{ev['id']}/completion", headers=auth(key))).json()
    assert (view["held"], view["total"]) == (4, 5)
    (person,) = view["people"]
    assert (person["attended"], person["hours"], person["completed"]) == (3, 8.0, False)
    # four of five (0.8) completes it
    resp = await _check_in(client, key, ev["id"], who, sessions[5])
    done = resp.json()["completion"]
    assert (done["attended"], done["hours"], done["completed"]) == (4, 11.0, True)
    await worker.drain()
    (mail,) = _certificate_mails(smtp, who)
    (code,) = CERT_LINK.findall(mail.message.get_body(("plain",)).get_content())
    data = (
        await client.get(f"/certificates/{code}", headers={"Accept": "application/json"})
    ).json()
    assert (data["sessions_attended"], data["sessions_total"], data["hours"]) == (4, 5, 11.0)
    assert data["first_session"] == sessions[0].date().isoformat()
    assert data["last_session"] == sessions[5].date().isoformat()


async def test_a_single_session_training_completes_with_its_one_session(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(name=BJ)
    start = _today_local() - timedelta(days=2)
    ev = await _course(client, key, start, recurrence=None)
    await _enrol(client, key, ev["id"], {"email": "jane@partner.example.org", "locale": "en"})
    await worker.drain()
    smtp.clear()
    resp = await _check_in(client, key, ev["id"], "jane@partner.example.org", start)
    assert resp.status_code == 201 and resp.json()["completion"]["completed"] is True
    await worker.drain()
    (mail,) = _certificate_mails(smtp, "jane@partner.example.org")
    assert "Your certificate" in str(mail.message["Subject"])
    text = mail.message.get_body(("plain",)).get_content()
    assert "3.0 hours" in text and "1 of 1" in text
    (code,) = CERT_LINK.findall(text)
    page = await client.get(f"/certificates/{code}")
    assert 'lang="en"' in page.text and "genuine" in page.text


def test_an_endless_series_is_measured_against_the_sessions_held() -> None:
    tz = SHANGHAI
    first = datetime(2026, 1, 5, 14, 0)
    event = {
        "starts_at": first,
        "ends_at": first + timedelta(hours=2),
        "timezone": "Asia/Shanghai",
        "starts_at_utc": first.replace(tzinfo=tz).astimezone(UTC),
        "ends_at_utc": (first + timedelta(hours=2)).replace(tzinfo=tz).astimezone(UTC),
        "series_ends_at_utc": None,
        "recurrence": "FREQ=WEEKLY",
    }
    now = datetime(2026, 2, 3, 0, 0, tzinfo=UTC)  # after the fifth session
    course = training.course_sessions(event, [], now=now)
    assert (course.held, course.total, course.measured_against()) == (5, None, 5)
    standing = training.progress(
        course, [first + timedelta(weeks=i) for i in range(4)], threshold=0.8
    )
    assert (standing.attended, standing.hours, standing.completed) == (4, 8.0, True)
