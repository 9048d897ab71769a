from __future__ import annotations

import asyncio
from typing import Any

import pytest

from events_svc.events.tables import Event
from tests.helpers import auth, event_body


async def _create(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/events", json=event_body(**overrides), headers=auth(key))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def test_create_and_get_event(client: Any, make_org: Any) -> None:
    _org, key = await make_org(slug="gdswa")
    ev = await _create(
        client, key, recurrence="FREQ=WEEKLY;COUNT=6", capacity=120, reminders=[{"before": "P1D"}]
    )
    assert ev["sequence"] == 0 and ev["status"] == "scheduled"
    assert ev["uid"].endswith("@events.example.org") and len(ev["uid"]) > 40
    assert (
        ev["starts_at"] == "2027-06-10T09:30:00" and ev["starts_at_utc"] == "2027-06-10T01:30:00Z"
    )
    assert ev["organization"] == "gdswa"
    assert ev["reminders"] == [{"before": "P1D"}]
    got = await client.get(f"/events/{ev['id']}", headers=auth(key))
    assert got.status_code == 200 and got.json() == ev


async def test_offset_times_are_converted_into_the_zone(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _create(
        client, key, starts_at="2027-06-10T01:30:00Z", ends_at="2027-06-10T11:00:00+08:00"
    )
    assert (ev["starts_at"], ev["ends_at"]) == ("2027-06-10T09:30:00", "2027-06-10T11:00:00")


@pytest.mark.parametrize(
    ("change", "bumps"),
    [
        ({"starts_at": "2027-06-10T10:00:00"}, True),
        ({"ends_at": "2027-06-10T18:00:00"}, True),
        ({"timezone": "Asia/Hong_Kong"}, True),
        ({"recurrence": "FREQ=DAILY;COUNT=2"}, True),
        ({"location": "北京市东城区"}, True),
        ({"title": "新标题"}, False),
        ({"description": "只改说明"}, False),
        ({"capacity": 50, "visibility": "private"}, False),
        ({"location": "广州市越秀区"}, False),  # same value: nothing changed
    ],
)
async def test_sequence_rises_only_on_identity_changes(
    client: Any, make_org: Any, change: dict[str, Any], bumps: bool
) -> None:
    _org, key = await make_org()
    ev = await _create(client, key)
    resp = await client.patch(f"/events/{ev['id']}", json=change, headers=auth(key))
    assert resp.status_code == 200, resp.text
    assert resp.json()["sequence"] == (1 if bumps else 0)
    for field, value in change.items():
        assert resp.json()[field] == value


async def test_patch_is_partial_and_can_clear(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _create(client, key, recurrence="FREQ=WEEKLY;COUNT=3", capacity=10)
    resp = await client.patch(
        f"/events/{ev['id']}", json={"recurrence": None, "capacity": None}, headers=auth(key)
    )
    data = resp.json()
    assert data["recurrence"] is None and data["capacity"] is None
    assert data["title"] == ev["title"] and data["sequence"] == 1


async def test_cancel_raises_sequence_once(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _create(client, key)
    first = await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["sequence"]) == ("cancelled", 1)
    again = await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    assert again.json()["sequence"] == 1
    patched = await client.patch(f"/events/{ev['id']}", json={"title": "x"}, headers=auth(key))
    assert patched.status_code == 409
    assert patched.headers["content-type"].startswith("application/problem+json")


async def test_concurrent_patches_do_not_lose_a_sequence(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _create(client, key)
    times = [f"2027-06-1{d}T09:30:00" for d in range(1, 6)]
    await asyncio.gather(
        *[
            client.patch(
                f"/events/{ev['id']}",
                json={"starts_at": t, "ends_at": t.replace("09:30", "17:00")},
                headers=auth(key),
            )
            for t in times
        ]
    )
    got = (await client.get(f"/events/{ev['id']}", headers=auth(key))).json()
    assert got["sequence"] == 5


async def test_tenancy_other_orgs_private_event_is_404(client: Any, make_org: Any) -> None:
    _a, key_a = await make_org()
    _b, key_b = await make_org()
    ev = await _create(client, key_a, visibility="private")
    for method, path, body in [
        ("GET", f"/events/{ev['id']}", None),
        ("PATCH", f"/events/{ev['id']}", {"title": "hijack"}),
        ("POST", f"/events/{ev['id']}/cancel", None),
    ]:
        resp = await client.request(method, path, json=body, headers=auth(key_b))
        assert resp.status_code == 404, (method, resp.text)
    assert (await client.get(f"/events/{ev['id']}")).status_code == 401
    listed = await client.get("/events", headers=auth(key_b))
    assert listed.json()["items"] == []
    row = await Event.select(Event.title, Event.status).first()
    assert row == {"title": ev["title"], "status": "scheduled"}


async def test_list_filters_and_cursor_pagination(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ids = []
    for day in range(1, 8):
        kind = "training" if day % 2 else "meeting"
        ev = await _create(
            client,
            key,
            kind=kind,
            starts_at=f"2027-07-0{day}T09:00:00",
            ends_at=f"2027-07-0{day}T10:00:00",
        )
        ids.append(ev["id"])
    await client.post(f"/events/{ids[0]}/cancel", headers=auth(key))
    seen: list[str] = []
    url = "/events?limit=3"
    while True:
        page = (await client.get(url, headers=auth(key))).json()
        seen += [e["id"] for e in page["items"]]
        if not page["next"]:
            break
        url = f"/events?limit=3&cursor={page['next']}"
    assert seen == ids
    q = "/events?kind=training&status=scheduled&from=2027-07-02T00:00:00Z&to=2027-07-06"
    got = (await client.get(q, headers=auth(key))).json()["items"]
    assert [e["starts_at"][:10] for e in got] == ["2027-07-03", "2027-07-05"]
    both = (await client.get("/events?kind=training&kind=meeting", headers=auth(key))).json()
    assert len(both["items"]) == 7


async def test_open_series_appears_in_later_windows(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = await _create(client, key, recurrence="FREQ=MONTHLY")
    got = (await client.get("/events?from=2030-01-01", headers=auth(key))).json()["items"]
    assert [e["id"] for e in got] == [ev["id"]]
    limited = await _create(client, key, recurrence="FREQ=DAILY;COUNT=3")
    got = (await client.get("/events?from=2027-06-12T08:00:00Z", headers=auth(key))).json()
    assert limited["id"] in [e["id"] for e in got["items"]]
    got = (await client.get("/events?from=2027-06-12T10:00:00Z", headers=auth(key))).json()
    assert limited["id"] not in [e["id"] for e in got["items"]]
