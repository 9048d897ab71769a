"""Every malformed request gets a 4xx problem document naming the field, and changes nothing."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from events_svc.events.tables import Event
from tests.conftest import ADMIN_TOKEN
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


HOSTILE_EVENTS = [
    (event_body(starts_at="0001-01-01T00:00:00Z", ends_at="0001-01-01T05:00:00Z",
                timezone="America/New_York"), "starts_at"),
    (event_body(starts_at="9999-12-31T20:00:00", ends_at="9999-12-31T21:00:00",
                timezone="America/New_York"), "starts_at"),
    (event_body(starts_at="2190-12-30T00:00:00", ends_at="2199-12-31T00:00:00"), "ends_at"),
    (event_body(recurrence="FREQ=YEARLY;UNTIL=99991231"), "recurrence"),
    (event_body(recurrence="FREQ=DAILY;INTERVAL=99999999999999999999"), "recurrence"),
    (event_body(recurrence="FREQ=DAILY;INTERVAL=0"), "recurrence"),
    (event_body(recurrence="FREQ=DAILY;BYSETPOS=5"), "recurrence"),
    (event_body(recurrence="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"), "recurrence"),
    (event_body(reminders=[{"at": "0001-01-01T00:00:00+14:00"}]), "reminders.0.at"),
    (event_body(reminders=[{"before": "PT99999999999999999999H"}]), "reminders.0.before"),
    (event_body(title="a\u0000b"), "title"),
    (event_body(description="\u0000"), "description"),
    (event_body(location="x\u0000"), "location"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), HOSTILE_EVENTS)
async def test_hostile_values_found_by_fuzzing_are_4xx(
    client: Any, make_org: Any, body: dict[str, Any], field: str
) -> None:
    _org, key = await make_org()
    started = time.perf_counter()
    resp = await client.post("/events", json=body, headers=auth(key))
    assert time.perf_counter() - started < 2, "validation must not block the server"
    assert resp.status_code == 422, resp.text
    assert field in [e["field"] for e in resp.json()["errors"]], resp.json()
    assert await Event.count() == 0


async def test_hostile_paths_queries_cursors_and_bodies(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    deep = b"[" * 1000 + b"]" * 1000
    cursor_int = base64.urlsafe_b64encode(b'["2027-01-01T00:00:00",1]').decode().rstrip("=")
    cursor_year1 = base64.urlsafe_b64encode(
        b'["0001-01-01T00:00:00+01:00","00000000-0000-0000-0000-000000000000"]'
    ).decode()
    cases: list[tuple[str, str, Any, int, str]] = [
        ("GET", "/events?from=0001-01-01T00:00:00%2B01:00", None, 422, "from"),
        ("GET", "/events?to=9999-12-31T23:59:59-01:00", None, 422, "to"),
        ("GET", f"/events?cursor={cursor_int}", None, 422, "cursor"),
        ("GET", f"/events?cursor={cursor_year1.rstrip('=')}", None, 422, "cursor"),
        ("GET", f"/events/{ev['id']}/invitations?cursor=YQA", None, 422, "cursor"),
        ("GET", f"/events/{ev['id']}/invitations?cursor=!!!!", None, 422, "cursor"),
        ("GET", "/events?kind=forum%00", None, 422, "kind"),
        ("DELETE", f"/events/{ev['id']}/invitations/a%00@example.org", None, 422, "path"),
        ("POST", f"/events/{ev['id']}/invitations",
         {"invitees": [{"email": "a@x.example.org", "name": "x\u0000"}]}, 422, "invitees.0.name"),
        ("POST", f"/events/{ev['id']}/invitations",
         {"invitees": [{"email": "a@x.example.org"}], "message": "m\u0000"}, 422, "message"),
        ("POST", "/orgs/me/api-keys", {"label": "\u0000"}, 422, "label"),
        ("PATCH", "/orgs/me", {"name": "n\u0000"}, 422, "name"),
        ("PATCH", "/orgs/me", {"default_reminders": [{"before": "PT99999999999999999999H"}]},
         422, "default_reminders.0.before"),
        ("PATCH", f"/events/{ev['id']}", {"description": "\u0000"}, 422, "description"),
    ]  # fmt: skip
    for method, path, body, status, field in cases:
        resp = await client.request(method, path, json=body, headers=auth(key))
        assert resp.status_code == status, (method, path, resp.text)
        assert field in [e["field"] for e in resp.json()["errors"]], (path, resp.json())
    nested = await client.post(
        "/events", content=deep, headers={**auth(key), "Content-Type": "application/json"}
    )
    assert nested.status_code == 400 and nested.json()["errors"][0]["field"] == "body"
    for spelling in (ev["id"].replace("-", ""), "{" + ev["id"] + "}", "urn:uuid:" + ev["id"]):
        assert (await client.get(f"/events/{spelling}.ics")).status_code == 404


async def test_org_slugs_and_names_are_single_lines(client: Any) -> None:
    body = {"slug": "fz-h\n", "name": "X", "email": "a@b.example.org"}
    resp = await client.post("/orgs", json=body, headers=auth(ADMIN_TOKEN))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "slug"
    body = {"slug": "fine", "name": "x\r\ny", "email": "a@b.example.org"}
    created = await client.post("/orgs", json=body, headers=auth(ADMIN_TOKEN))
    assert created.status_code == 201 and created.json()["organization"]["name"] == "x y"


async def test_an_empty_body_says_a_body_is_required(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    resp = await client.post(
        "/events", content=b"", headers={**auth(key), "Content-Type": "application/json"}
    )
    assert resp.status_code in (400, 422)
    assert "'data'" not in resp.text
