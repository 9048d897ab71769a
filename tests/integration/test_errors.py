"""Every malformed request gets a 4xx problem document naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from events_svc.events.tables import Event
from tests.helpers import auth, event_body

BAD_CREATES = [
    (event_body(timezone="Mars/Base"), "timezone"),
    (event_body(timezone="../../../etc/passwd"), "timezone"),
    (event_body(ends_at="2027-06-10T08:00:00"), "ends_at"),
    (event_body(ends_at="2027-06-10T09:30:00"), "ends_at"),
    (event_body(ends_at="2028-07-10T09:30:00"), "ends_at"),
    (event_body(recurrence="FREQ=SOMETIMES"), "recurrence"),
    (event_body(recurrence="FREQ=WEEKLY;BYDAY=XX"), "recurrence"),
    (event_body(title="x" * 301), "title"),
    (event_body(title=""), "title"),
    (event_body(title="   "), "title"),
    (event_body(title="a\r\nBcc: victim@example.org"), "title"),
    (event_body(location="a\nb"), "location"),
    (event_body(surprise=1), "surprise"),
    (event_body(kind="party"), "kind"),
    (event_body(visibility="secret"), "visibility"),
    (event_body(capacity=0), "capacity"),
    (event_body(capacity="many"), "capacity"),
    (event_body(starts_at="next tuesday"), "starts_at"),
    (
        event_body(
            starts_at="2027-03-14T02:30:00",
            ends_at="2027-03-14T04:00:00",
            timezone="America/New_York",
        ),
        "starts_at",
    ),
    (event_body(online_url="javascript:alert(1)"), "online_url"),
    (event_body(reminders=[{"before": "soon"}]), "reminders.0.before"),
    (event_body(reminders=[{"before": "PT1H", "at": "2027-06-10T08:00:00"}]), "reminders.0"),
    (event_body(reminders=[{"after": "PT1H"}]), "reminders.0.after"),
    (event_body(reminders=[{"before": "PT1H"}] * 11), "reminders"),
    ({k: v for k, v in event_body().items() if k != "title"}, "title"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES)
async def test_bad_event_bodies_name_the_field(
    client: Any, make_org: Any, body: dict[str, Any], field: str
) -> None:
    _org, key = await make_org()
    resp = await client.post("/events", json=body, headers=auth(key))
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == resp.status_code and problem["type"].startswith("https://")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert "Traceback" not in resp.text
    assert await Event.count() == 0


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe", b"[1,2", b'{"kind": "forum",}', b"null", b"42", b"[]"],
)
async def test_malformed_json_is_a_problem_naming_the_body(
    client: Any, make_org: Any, raw: bytes
) -> None:
    _org, key = await make_org()
    resp = await client.post(
        "/events", content=raw, headers={**auth(key), "Content-Type": "application/json"}
    )
    assert resp.status_code in (400, 422), resp.text
    problem = resp.json()
    assert problem["errors"][0]["field"] in ("body", "kind")


async def test_oversized_body_is_413(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    big = b'{"title": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    resp = await client.post(
        "/events", content=big, headers={**auth(key), "Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert resp.json()["errors"][0]["field"] == "body"


async def test_bad_patch_changes_nothing(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    for body, field in [
        ({"title": "ok", "ends_at": "2027-06-10T08:00:00"}, "ends_at"),
        ({"location": "new place", "timezone": "Nowhere/City"}, "timezone"),
        ({"title": None}, "title"),
        ({"sequence": 7}, "sequence"),
        ({"uid": "mine@evil"}, "uid"),
    ]:
        resp = await client.patch(f"/events/{ev['id']}", json=body, headers=auth(key))
        assert resp.status_code == 422, resp.text
        assert field in [e["field"] for e in resp.json()["errors"]]
    after = (await client.get(f"/events/{ev['id']}", headers=auth(key))).json()
    assert after == ev


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=party", "kind"),
        ("status=gone", "status"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90LWpzb24", "cursor"),
        ("from=2027-02-01&to=2027-01-01", "to"),
    ],
)
async def test_bad_list_queries_name_the_parameter(
    client: Any, make_org: Any, query: str, field: str
) -> None:
    _org, key = await make_org()
    resp = await client.get(f"/events?{query}", headers=auth(key))
    assert resp.status_code in (400, 422), resp.text
    assert field in [e["field"] for e in resp.json()["errors"]], resp.json()


async def test_unknown_routes_and_methods_are_problems(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    for method, path, status in [
        ("GET", "/nope", 404),
        ("GET", "/events/not-a-uuid", 404),
        ("DELETE", "/events", 405),
        ("GET", "/events/00000000-0000-0000-0000-000000000000", 404),
    ]:
        resp = await client.request(method, path, headers=auth(key))
        assert resp.status_code == status, (path, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
