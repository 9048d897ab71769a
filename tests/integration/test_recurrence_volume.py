"""Recurrence rules and reminders that would flood invitees are refused, writing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from events_svc.notifications.tables import Notification
from tests.helpers import auth, event_body

HOURS = ",".join(str(h) for h in range(24))
MINUTES = ",".join(str(m) for m in range(60))
FLOODS = [
    f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES}",
    f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES};BYSECOND={MINUTES}",
    f"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR={HOURS};BYMINUTE=0,15,30,45",
    "FREQ=DAILY;BYHOUR=8,10,12,14,16",  # 5 a day
    "FREQ=DAILY;BYHOUR=8,12,16",  # 3 a day, but 1,200 within the 400-day horizon
    "FREQ=MINUTELY;INTERVAL=5",
    "FREQ=HOURLY",
    "FREQ=SECONDLY",
]
TEN_RULES = [{"before": f"PT{m}M"} for m in (5, 10, 15, 20, 30, 45, 60, 90, 120, 180)]


def _field(resp: Any) -> str:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return str(resp.json()["errors"][0]["field"])


async def _rows(event_id: str) -> int:
    found = await Notification.raw(
        "SELECT count(*) AS n FROM notification WHERE event = {} AND kind = 'reminder'", event_id
    )
    return int(found[0]["n"])


async def test_flooding_rules_are_refused_on_create_and_patch(client: Any, make_org: Any) -> None:
    _org, key = await make_org(slug="bjswa")
    for rule in FLOODS:
        resp = await client.post(
            "/events",
            json=event_body(recurrence=rule, reminders=[{"before": "PT5M"}]),
            headers=auth(key),
        )
        assert _field(resp) == "recurrence", rule
    assert (await client.get("/events", headers=auth(key))).json()["items"] == []

    ev = (
        await client.post("/events", json=event_body(recurrence="FREQ=WEEKLY"), headers=auth(key))
    ).json()
    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "a@bjswa.example.org"}]},
        headers=auth(key),
    )
    for rule in FLOODS:
        resp = await client.patch(
            f"/events/{ev['id']}",
            json={"recurrence": rule, "reminders": [{"before": "PT5M"}]},
            headers=auth(key),
        )
        assert _field(resp) == "recurrence", rule
    after = (await client.get(f"/events/{ev['id']}", headers=auth(key))).json()
    assert (after["recurrence"], after["sequence"], after["reminders"]) == ("FREQ=WEEKLY", 0, None)
    assert await _rows(ev["id"]) == 0


async def test_ordinary_rules_are_accepted(client: Any, make_org: Any) -> None:
    _org, key = await make_org(slug="bjswa")
    for rule in (
        "FREQ=WEEKLY",  # the monthly-to-weekly forum
        "FREQ=DAILY;COUNT=10",  # a ten-day training
        "FREQ=MONTHLY;BYDAY=2TU",  # every second Tuesday
        "FREQ=DAILY;BYHOUR=9,14;COUNT=20",  # morning and afternoon sessions
    ):
        resp = await client.post(
            "/events",
            json=event_body(recurrence=rule, reminders=[{"before": "P1D"}, {"before": "PT1H"}]),
            headers=auth(key),
        )
        assert resp.status_code == 201, (rule, resp.text)


async def test_reminder_rows_are_capped_per_event(client: Any, make_org: Any) -> None:
    """Ten reminders of a daily series (~4,000 rows a person within the horizon) for 30
    invitees would be ~120,000 rows: over MAX_REMINDER_ROWS_PER_EVENT (100,000)."""
    _org, key = await make_org(slug="bjswa")
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None) + timedelta(days=1)
    start = tomorrow.replace(hour=9, minute=0, second=0, microsecond=0)
    daily = event_body(
        kind="training",
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=2)).isoformat(),
        recurrence="FREQ=DAILY",
    )
    thirty = [{"email": f"p{i}@bjswa.example.org"} for i in range(30)]

    # inviting 30 people to it: refused whole, nobody invited, no row written
    ev = await client.post("/events", json={**daily, "reminders": TEN_RULES}, headers=auth(key))
    assert ev.status_code == 201, ev.text
    url = f"/events/{ev.json()['id']}"
    resp = await client.post(f"{url}/invitations", json={"invitees": thirty}, headers=auth(key))
    assert _field(resp) == "invitees"
    assert "MAX_REMINDER_ROWS_PER_EVENT" in resp.json()["detail"]
    assert "100,000" in resp.json()["detail"]
    assert (await client.get(f"{url}/invitations", headers=auth(key))).json()["items"] == []
    assert await _rows(ev.json()["id"]) == 0

    # the same 30 invited while it has no reminders; then adding ten of them is refused
    quiet = await client.post("/events", json={**daily, "reminders": []}, headers=auth(key))
    url = f"/events/{quiet.json()['id']}"
    invited = await client.post(f"{url}/invitations", json={"invitees": thirty}, headers=auth(key))
    assert invited.status_code == 202, invited.text
    resp = await client.patch(url, json={"reminders": TEN_RULES}, headers=auth(key))
    assert _field(resp) == "reminders"
    assert "MAX_REMINDER_ROWS_PER_EVENT" in resp.json()["detail"]
    assert (await client.get(url, headers=auth(key))).json()["reminders"] == []
    assert await _rows(quiet.json()["id"]) == 0

    # an event using the organization's default reminders: a default of ten is refused
    defaults = (await client.post("/events", json=daily, headers=auth(key))).json()
    url = f"/events/{defaults['id']}"
    await client.post(f"{url}/invitations", json={"invitees": thirty}, headers=auth(key))
    resp = await client.patch("/orgs/me", json={"default_reminders": TEN_RULES}, headers=auth(key))
    assert _field(resp) == "default_reminders"
    assert (await client.get("/orgs/me", headers=auth(key))).json()["default_reminders"] is None
    assert await _rows(defaults["id"]) == 0

    # one reminder for the 30 is fine (~12,000 rows)
    one = await client.patch(url, json={"reminders": [{"before": "PT1H"}]}, headers=auth(key))
    assert one.status_code == 200, one.text
    assert 30 * 300 < await _rows(defaults["id"]) <= 30 * 401


async def test_occurrences_moved_onto_one_day_are_capped(client: Any, make_org: Any) -> None:
    _org, key = await make_org(slug="bjswa")
    ev = (
        await client.post(
            "/events",
            json=event_body(
                kind="training",
                starts_at="2027-03-01T09:00:00",
                ends_at="2027-03-01T10:00:00",
                recurrence="FREQ=DAILY;BYHOUR=9,14;COUNT=10",
            ),
            headers=auth(key),
        )
    ).json()
    url = f"/events/{ev['id']}/occurrences"
    for original, new in (
        ("2027-03-02T09:00:00", "2027-03-01T11:00:00"),
        ("2027-03-02T14:00:00", "2027-03-01T16:00:00"),
    ):
        resp = await client.patch(f"{url}/{original}", json={"starts_at": new}, headers=auth(key))
        assert resp.status_code == 200, resp.text
    fifth = await client.patch(
        f"{url}/2027-03-03T09:00:00", json={"starts_at": "2027-03-01T18:00:00"}, headers=auth(key)
    )
    assert _field(fifth) == "starts_at"
    assert "MAX_OCCURRENCES_PER_DAY" in fifth.json()["detail"]
    # moving one away from the day makes room again
    away = await client.patch(
        f"{url}/2027-03-02T09:00:00", json={"starts_at": "2027-03-02T09:00:00"}, headers=auth(key)
    )
    assert away.status_code == 200, away.text
    fifth = await client.patch(
        f"{url}/2027-03-03T09:00:00", json={"starts_at": "2027-03-01T18:00:00"}, headers=auth(key)
    )
    assert fifth.status_code == 200, fifth.text
