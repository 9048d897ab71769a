from __future__ import annotations

from typing import Any

from events_svc.orgs.tables import ApiKey
from tests.conftest import ADMIN_TOKEN
from tests.helpers import auth


async def test_admin_creates_org_over_http_and_key_works(client: Any) -> None:
    body = {"slug": "gdswa", "name": "广东省社会工作师联合会", "email": "office@gdswa.example.org"}
    resp = await client.post("/orgs", json=body, headers=auth(ADMIN_TOKEN))
    assert resp.status_code == 201, resp.text
    data = resp.json()
    key = data["api_key"]
    assert data["organization"]["slug"] == "gdswa"
    me = await client.get("/orgs/me", headers=auth(key))
    assert me.status_code == 200 and me.json()["name"] == "广东省社会工作师联合会"
    # the key is stored only as a hash
    rows = await ApiKey.select(ApiKey.key_hash, ApiKey.prefix)
    assert len(rows) == 1 and key not in str(rows) and rows[0]["prefix"] in key


async def test_org_creation_needs_the_admin_token(client: Any) -> None:
    body = {"slug": "x1", "name": "X", "email": "x@x.example.org"}
    for headers in ({}, auth("wrong-token-wrong-token"), {"Authorization": ADMIN_TOKEN}):
        resp = await client.post("/orgs", json=body, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")


async def test_duplicate_slug_is_a_conflict_naming_slug(client: Any, make_org: Any) -> None:
    await make_org(slug="bjswa")
    body = {"slug": "bjswa", "name": "北京社会工作者协会", "email": "a@b.example.org"}
    resp = await client.post("/orgs", json=body, headers=auth(ADMIN_TOKEN))
    assert resp.status_code == 409
    assert resp.json()["errors"][0]["field"] == "slug"


async def test_bad_org_fields_are_named(client: Any) -> None:
    cases = [
        ({"slug": "Bad Slug", "name": "X", "email": "a@b.example.org"}, "slug"),
        ({"slug": "ok", "name": "", "email": "a@b.example.org"}, "name"),
        ({"slug": "ok", "name": "X", "email": "not-an-address"}, "email"),
        ({"slug": "ok", "name": "X", "email": "a@b.example.org\r\nBcc: x@y.org"}, "email"),
        ({"slug": "ok", "name": "X", "email": "a@b.example.org", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        resp = await client.post("/orgs", json=body, headers=auth(ADMIN_TOKEN))
        assert resp.status_code == 422, (body, resp.text)
        assert [e["field"] for e in resp.json()["errors"]] == [field]


async def test_keys_can_be_added_listed_and_revoked(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    created = await client.post("/orgs/me/api-keys", json={"label": "ci"}, headers=auth(key))
    assert created.status_code == 201
    second = created.json()["api_key"]
    listed = await client.get("/orgs/me/api-keys", headers=auth(second))
    assert [k["label"] for k in listed.json()] == ["initial", "ci"]
    assert all("api_key" not in k and "key_hash" not in k for k in listed.json())
    prefix = created.json()["key"]["prefix"]
    revoked = await client.delete(f"/orgs/me/api-keys/{prefix}", headers=auth(key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await client.get("/orgs/me", headers=auth(second))).status_code == 401
    assert (await client.get("/orgs/me", headers=auth(key))).status_code == 200
    missing = await client.delete("/orgs/me/api-keys/000000000000", headers=auth(key))
    assert missing.status_code == 404


async def test_malformed_and_wrong_keys_are_401(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    for header in ("", "Bearer", "Basic abc", f"Bearer {tampered}", "Bearer evs_zz_zz", "Bearer é"):
        headers = {"Authorization": header.encode()} if header else {}
        resp = await client.get("/orgs/me", headers=headers)
        assert resp.status_code == 401, header
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert resp.json()["status"] == 401
