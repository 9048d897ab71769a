"""One occurrence of a series moved or cancelled: its own SEQUENCE, iTIP with RECURRENCE-ID,
overrides and EXDATE in feeds, reminders that follow it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.helpers import auth, event_body
from tests.integration.test_invitations import decoded, ics_of
from tests.interop.parsers import Occurrence, check_all, expand

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
COURSE = {
    "kind": "training",
    "title": "督导人才培养",
    "starts_at": "2027-03-04T14:00:00",
    "ends_at": "2027-03-04T17:00:00",
    "recurrence": "FREQ=WEEKLY;COUNT=6",
}
PEOPLE = [{"email": "zhang.san@bjswa.example.org", "name": "张三"},
          {"email": "jane@partner.example.org", "name": "Jane", "locale": "en"}]  # fmt: skip


async def _course(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post(
        "/events", json=event_body(**{**COURSE, **overrides}), headers=auth(key)
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _expand(ics: bytes, uid: str) -> list[Occurrence]:
    """The series' occurrences as recurring-ical-events expands them, cross-checked with the
    strict ical parser and ical.js."""
    found = expand(ics, datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
    return [o for o in found if o["uid"] == uid]


async def test_move_and_cancel_one_occurrence(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org(slug="bjswa", name="北京社会工作者协会")
    ev = await _course(client, key)
    await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": PEOPLE}, headers=auth(key)
    )
    await worker.drain()
    smtp.clear()

    moved = await client.patch(
        f"/events/{ev['id']}/occurrences/2027-03-18T14:00:00",
        json={"starts_at": "2027-03-19T15:00:00", "ends_at": "2027-03-19T18:00:00"},
        headers=auth(key),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json() | {"starts_at_utc": None, "ends_at_utc": None} == {
        "event": ev["id"],
        "recurrence_id": "2027-03-18T14:00:00",
        "starts_at": "2027-03-19T15:00:00",
        "ends_at": "2027-03-19T18:00:00",
        "timezone": "Asia/Shanghai",
        "starts_at_utc": None,
        "ends_at_utc": None,
        "status": "scheduled",
        "sequence": 1,
    }
    cancelled = await client.patch(
        f"/events/{ev['id']}/occurrences/20270401T140000",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    assert cancelled.status_code == 200 and cancelled.json()["sequence"] == 1
    # the same change again changes nothing and sends nothing
    again = await client.patch(
        f"/events/{ev['id']}/occurrences/2027-04-01T14:00:00",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    assert again.json()["sequence"] == 1
    series = (await client.get(f"/events/{ev['id']}", headers=auth(key))).json()
    assert series["sequence"] == 0  # the series itself did not change

    await worker.drain()
    for person in PEOPLE:
        got = smtp.for_recipient(person["email"])
        assert len(got) == 2, [decoded(m.message["Subject"]) for m in got]
        by_kind = {m.message["X-Notification-Kind"]: m for m in got}
        update = ics_of(by_kind["update"])
        parsed = check_all(update)
        assert parsed["method"] == "REQUEST"
        (vevent,) = Calendar.from_ical(update).walk("VEVENT")
        assert str(vevent["UID"]) == ev["uid"] and vevent["SEQUENCE"] == 1
        assert vevent["RECURRENCE-ID"].dt == datetime(2027, 3, 18, 14, tzinfo=SHANGHAI)
        assert vevent["RECURRENCE-ID"].params["TZID"] == "Asia/Shanghai"
        assert vevent["DTSTART"].dt == datetime(2027, 3, 19, 15, tzinfo=SHANGHAI)
        assert "RRULE" not in vevent
        assert b'method="REQUEST"' in by_kind["update"].data
        cancel = ics_of(by_kind["cancellation"])
        assert check_all(cancel)["method"] == "CANCEL"
        (vevent,) = Calendar.from_ical(cancel).walk("VEVENT")
        assert vevent["RECURRENCE-ID"].dt == datetime(2027, 4, 1, 14, tzinfo=SHANGHAI)
        assert vevent["STATUS"] == "CANCELLED" and vevent["SEQUENCE"] == 1
        assert "RRULE" not in vevent

    for url in ("/feeds/orgs/bjswa.ics", f"/events/{ev['id']}.ics"):
        body = (await client.get(url)).content
        check_all(body)
        cal = Calendar.from_ical(body)
        master, override = sorted(cal.walk("VEVENT"), key=lambda v: "RECURRENCE-ID" in v)
        assert master["SEQUENCE"] == 0 and "RRULE" in master
        assert [d.dt for d in master["EXDATE"].dts] == [datetime(2027, 4, 1, 14, tzinfo=SHANGHAI)]
        assert override["SEQUENCE"] == 1
        assert override["RECURRENCE-ID"].dt == datetime(2027, 3, 18, 14, tzinfo=SHANGHAI)
        occurrences = _expand(body, ev["uid"])
        starts = [o["start_utc"].astimezone(SHANGHAI) for o in occurrences]
        assert [o["sequence"] for o in occurrences] == [0, 0, 1, 0, 0]
        assert [s.strftime("%m-%d %H:%M") for s in starts] == [
            "03-04 14:00",
            "03-11 14:00",
            "03-19 15:00",
            "03-25 14:00",
            "04-08 14:00",
        ]

    # a new invitee gets the series with its exceptions, so nothing is undone
    smtp.clear()
    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "late@example.org"}]},
        headers=auth(key),
    )
    await worker.drain()
    (late,) = smtp.for_recipient("late@example.org")
    invitation = ics_of(late)
    check_all(invitation)
    assert len(_expand(invitation, ev["uid"])) == 5
    assert b"ATTENDEE" in invitation.split(b"RECURRENCE-ID")[1]  # the override names her too


async def test_occurrence_changes_move_and_drop_reminders(
    client: Any, make_org: Any, worker: Any
) -> None:
    _org, key = await make_org()
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(
        hour=14, minute=0, second=0, microsecond=0, tzinfo=None
    )
    ev = await _course(
        client,
        key,
        starts_at=tomorrow.isoformat(),
        ends_at=(tomorrow + timedelta(hours=3)).isoformat(),
        recurrence="FREQ=DAILY;COUNT=3",
        reminders=[{"before": "PT1H"}],
    )
    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "a@example.org"}]},
        headers=auth(key),
    )
    second, third = tomorrow + timedelta(days=1), tomorrow + timedelta(days=2)
    await client.patch(
        f"/events/{ev['id']}/occurrences/{second.isoformat()}",
        json={"starts_at": (second + timedelta(hours=2)).isoformat()},
        headers=auth(key),
    )
    await client.patch(
        f"/events/{ev['id']}/occurrences/{third.isoformat()}",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    listing = (await client.get(f"/events/{ev['id']}/reminders", headers=auth(key))).json()
    dues = {r["occurrence"]: r["due_at"] for r in listing["items"] if r["status"] == "pending"}
    expected_second = (second + timedelta(hours=1)).replace(tzinfo=SHANGHAI).astimezone(UTC)
    assert set(dues) == {tomorrow.isoformat(), second.isoformat()}
    assert datetime.fromisoformat(dues[second.isoformat()]) == expected_second
    # restoring the cancelled occurrence brings its reminder back
    await client.patch(
        f"/events/{ev['id']}/occurrences/{third.isoformat()}",
        json={"status": "scheduled"},
        headers=auth(key),
    )
    listing = (await client.get(f"/events/{ev['id']}/reminders", headers=auth(key))).json()
    assert len([r for r in listing["items"] if r["status"] == "pending"]) == 3


async def test_a_series_across_a_dst_change_keeps_its_wall_clock_time(
    client: Any, make_org: Any
) -> None:
    _org, key = await make_org(slug="partner")
    ev = await _course(
        client,
        key,
        title="Exchange visit preparation",
        timezone="Europe/Berlin",
        starts_at="2027-03-15T09:00:00",
        ends_at="2027-03-15T10:30:00",
        recurrence="FREQ=WEEKLY;COUNT=4",
    )
    await client.patch(
        f"/events/{ev['id']}/occurrences/2027-03-29T09:00:00",
        json={"starts_at": "2027-03-30T09:00:00"},
        headers=auth(key),
    )
    body = (await client.get("/feeds/orgs/partner.ics")).content
    check_all(body)
    occurrences = _expand(body, ev["uid"])
    local = [o["start_local"].strftime("%m-%d %H:%M") for o in occurrences]  # type: ignore[union-attr]
    assert local == ["03-15 09:00", "03-22 09:00", "03-30 09:00", "04-05 09:00"]
    assert all(o["start_local"].tzinfo == BERLIN for o in occurrences)  # type: ignore[union-attr]
    utc_hours = [o["start_utc"].hour for o in occurrences]
    assert utc_hours == [8, 8, 7, 7]  # CET before 28 March, CEST after


async def test_bad_occurrence_requests(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    _other, other_key = await make_org()
    ev = await _course(client, key)
    single = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    url = f"/events/{ev['id']}/occurrences/2027-03-11T14:00:00"
    cases = [
        (f"/events/{ev['id']}/occurrences/2027-03-12T14:00:00", {"status": "cancelled"}, 404),
        (f"/events/{ev['id']}/occurrences/2027-05-13T14:00:00", {"status": "cancelled"}, 404),
        (f"/events/{ev['id']}/occurrences/yesterday", {"status": "cancelled"}, 404),
        (f"/events/{ev['id']}/occurrences/9999-03-11T14:00:00", {"status": "cancelled"}, 404),
        (f"/events/{single['id']}/occurrences/2027-06-10T09:30:00", {"status": "cancelled"}, 409),
        (url, {"starts_at": "2027-03-11T18:00:00", "ends_at": "2027-03-11T17:00:00"}, 422),
        (url, {"status": "postponed"}, 422),
        (url, {"colour": "red"}, 422),
        (url, {"starts_at": "2027-03-28T02:30:00"}, 200),  # Shanghai has no DST gap
    ]
    for path, body, status in cases:
        resp = await client.patch(path, json=body, headers=auth(key))
        assert resp.status_code == status, (path, body, resp.text)
        if status >= 400:
            assert resp.headers["content-type"] == "application/problem+json"
    assert (
        await client.patch(url, json={"status": "cancelled"}, headers=auth(other_key))
    ).status_code == 404
    berlin = await _course(
        client,
        key,
        timezone="Europe/Berlin",
        starts_at="2027-03-21T09:00:00",
        ends_at="2027-03-21T10:00:00",
    )
    gap = await client.patch(
        f"/events/{berlin['id']}/occurrences/2027-03-28T09:00:00",
        json={"starts_at": "2027-03-28T02:30:00"},
        headers=auth(key),
    )
    assert gap.status_code == 422 and gap.json()["errors"][0]["field"] == "starts_at"
    await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    assert (
        await client.patch(url, json={"status": "cancelled"}, headers=auth(key))
    ).status_code == 409
