"""Organizers over the API: the contact address is the first admin; admins (API keys act as
admins) add, change and remove organizers; the last admin stays."""

from __future__ import annotations

from typing import Any

from tests.helpers import auth


async def test_first_admin_add_change_remove(client: Any, make_org: Any) -> None:
    _org, key = await make_org(email="Office@Assoc.example.org")
    listed = (await client.get("/orgs/me/organizers", headers=auth(key))).json()
    assert [(o["email"], o["role"]) for o in listed] == [("Office@assoc.example.org", "admin")]

    added = await client.post(
        "/orgs/me/organizers",
        json={"email": "Li.Si@Assoc.example.org", "name": "李四", "role": "editor"},
        headers=auth(key),
    )
    assert added.status_code == 201, added.text
    assert added.json()["locale"] == "zh-CN" and added.json()["email"] == "Li.Si@assoc.example.org"
    again = await client.post(
        "/orgs/me/organizers",
        json={"email": "li.si@ASSOC.example.org", "role": "admin"},
        headers=auth(key),
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "email"

    # the last admin can be neither demoted nor removed
    demote = await client.patch(
        "/orgs/me/organizers/office@assoc.example.org", json={"role": "editor"}, headers=auth(key)
    )
    assert demote.status_code == 409 and demote.json()["errors"][0]["field"] == "role"
    remove = await client.delete("/orgs/me/organizers/office@assoc.example.org", headers=auth(key))
    assert remove.status_code == 409

    promoted = await client.patch(
        "/orgs/me/organizers/li.si@assoc.example.org",
        json={"role": "admin", "locale": "en"},
        headers=auth(key),
    )
    assert promoted.json()["role"] == "admin" and promoted.json()["locale"] == "en"
    removed = await client.delete("/orgs/me/organizers/office@assoc.example.org", headers=auth(key))
    assert removed.status_code == 200, removed.text
    listed = (await client.get("/orgs/me/organizers", headers=auth(key))).json()
    assert [o["email"] for o in listed] == ["Li.Si@assoc.example.org"]


async def test_bad_input_names_each_field(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    resp = await client.post(
        "/orgs/me/organizers",
        json={"email": "not an address", "role": "owner", "locale": "fr"},
        headers=auth(key),
    )
    assert resp.status_code in (400, 422), resp.text
    missing = await client.delete("/orgs/me/organizers/nobody@example.org", headers=auth(key))
    assert missing.status_code == 404
    # another organization's organizers are not reachable
    _other, other_key = await make_org()
    listed = (await client.get("/orgs/me/organizers", headers=auth(other_key))).json()
    assert all("office1@" not in o["email"] for o in listed)


async def test_service_names_every_bad_field() -> None:
    import uuid

    import pytest

    from events_svc.errors import InvalidInput
    from events_svc.organizers import service

    with pytest.raises(InvalidInput) as caught:
        await service.add_organizer(
            org_id=uuid.uuid4(), email="x", name="n" * 300, locale="fr", role="owner"
        )
    assert {e.field for e in caught.value.errors} == {"email", "name", "locale", "role"}
