"""The seed's organizations: 中国社会工作联合会 (a federation) with 北京社会工作者协会 and
广东省社会工作师联合会 as member units, their contacts (会长, 秘书长, 督导 …), CSV imports, and
invitations that reach people through organizations."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from typing import Any

from events_svc.contacts.tables import Contact
from events_svc.invitations.tables import Invitation
from events_svc.orgs.tables import OrgMembership
from tests.conftest import ADMIN_TOKEN
from tests.helpers import auth, event_body

CCSW = {"slug": "ccsw", "name": "中国社会工作联合会", "email": "office@ccsw.example.org",
        "kind": "federation", "region": "全国"}  # fmt: skip
BJSWA = {"slug": "bjswa", "name": "北京社会工作者协会", "email": "office@bjswa.example.org",
         "kind": "provincial_association", "region": "北京市"}  # fmt: skip
GDSWA = {"slug": "gdswa", "name": "广东省社会工作师联合会", "email": "office@gdswa.example.org",
         "kind": "provincial_association", "region": "广东省"}  # fmt: skip


def fields(resp: Any) -> list[str]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return [e["field"] for e in resp.json()["errors"]]


async def _seed(make_org: Any) -> dict[str, str]:
    """The three organizations of the seed; returns their API keys by slug."""
    keys = {}
    for org in (CCSW, BJSWA, GDSWA):
        _row, keys[org["slug"]] = await make_org(**org)
    return keys


async def _federate(client: Any, keys: dict[str, str], *members: str) -> None:
    """ccsw lists the members; each accepts with its own key."""
    resp = await client.post(
        "/orgs/me/members", json={"slugs": list(members)}, headers=auth(keys["ccsw"])
    )
    assert resp.status_code == 200, resp.text
    for slug in members:
        accepted = await client.post("/orgs/me/memberships/ccsw/accept", headers=auth(keys[slug]))
        assert accepted.status_code == 200, accepted.text


async def _contact(client: Any, key: str, **body: Any) -> dict[str, Any]:
    resp = await client.post("/orgs/me/contacts", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _csv(text: str, *, bom: bool = True) -> bytes:
    # Excel's "CSV UTF-8" starts with a BOM and ends lines with CRLF
    data = text.replace("\n", "\r\n").encode()
    return codecs.BOM_UTF8 + data if bom else data


async def _import(client: Any, key: str, body: bytes, **headers: str) -> Any:
    return await client.post(
        "/orgs/me/contacts.csv",
        content=body,
        headers={"Content-Type": "text/csv; charset=utf-8", **auth(key), **headers},
    )


async def _all_contacts(client: Any, key: str, **params: Any) -> list[dict[str, Any]]:
    resp = await client.get("/orgs/me/contacts", params=params, headers=auth(key))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


# --- organizations as they are ------------------------------------------------------------


async def test_kind_and_region_on_create_me_and_patch(client: Any, make_org: Any) -> None:
    created = await client.post("/orgs", json=CCSW, headers=auth(ADMIN_TOKEN))
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    me = (await client.get("/orgs/me", headers=auth(key))).json()
    assert (me["kind"], me["region"]) == ("federation", "全国")
    # organizations made without them keep working, kind and region unset
    _plain, plain_key = await make_org(slug="plain")
    plain = (await client.get("/orgs/me", headers=auth(plain_key))).json()
    assert (plain["kind"], plain["region"]) == (None, None)
    patched = await client.patch(
        "/orgs/me",
        json={"kind": "city_association", "region": "  深圳市 "},
        headers=auth(plain_key),
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["kind"], patched.json()["region"]) == ("city_association", "深圳市")
    cleared = await client.patch(
        "/orgs/me", json={"kind": None, "region": ""}, headers=auth(plain_key)
    )
    assert (cleared.json()["kind"], cleared.json()["region"]) == (None, None)
    for body, field in (
        ({"kind": "association"}, "kind"),
        ({"region": "省" * 101}, "region"),
    ):
        resp = await client.patch("/orgs/me", json=body, headers=auth(plain_key))
        assert resp.status_code == 422 and fields(resp) == [field], resp.text
    bad = await client.post("/orgs", json={**BJSWA, "kind": "ngo"}, headers=auth(ADMIN_TOKEN))
    assert bad.status_code == 422 and fields(bad) == ["kind"]


def test_cli_org_create_takes_kind_and_region() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "events_svc.cli", "org", "create", *args],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=60,
            check=False,
        )

    done = cli("--slug", "gdswa", "--name", GDSWA["name"], "--email", GDSWA["email"],
               "--kind", "provincial_association", "--region", "广东省")  # fmt: skip
    assert done.returncode == 0, done.stderr
    org = json.loads(done.stdout)["organization"]
    assert (org["kind"], org["region"]) == ("provincial_association", "广东省")
    wrong = cli("--slug", "x2", "--name", "X", "--email", "x@x.example.org", "--kind", "ngo")
    assert wrong.returncode == 2 and "--kind" in wrong.stderr
    reserved = cli("--slug", "me", "--name", "X", "--email", "x@x.example.org")
    assert reserved.returncode == 1 and "reserved" in reserved.stderr


async def test_public_profile_without_key_and_me_is_never_a_slug(
    client: Any, make_org: Any
) -> None:
    keys = await _seed(make_org)
    await _federate(client, keys, "bjswa", "gdswa")
    # "me" cannot be taken as a slug, so /orgs/me is always the caller
    taken = await client.post("/orgs", json={**BJSWA, "slug": "me"}, headers=auth(ADMIN_TOKEN))
    assert taken.status_code == 422 and fields(taken) == ["slug"]
    assert (await client.get("/orgs/me")).status_code == 401
    own = (await client.get("/orgs/me", headers=auth(keys["gdswa"]))).json()
    assert own["email"] == GDSWA["email"]

    ccsw = await client.get("/orgs/ccsw")
    assert ccsw.status_code == 200, ccsw.text
    assert ccsw.json() == {
        "slug": "ccsw",
        "name": "中国社会工作联合会",
        "name_en": None,
        "kind": "federation",
        "region": "全国",
        "member_of": [],
        "members_count": 2,
    }
    gd = await client.get("/orgs/gdswa", headers=auth(keys["bjswa"]))  # a key changes nothing
    assert gd.json()["member_of"] == [{"slug": "ccsw", "name": "中国社会工作联合会"}]
    assert gd.json()["members_count"] is None
    for resp in (ccsw, gd):
        assert "@" not in resp.text and "evs_" not in resp.text
        assert "email" not in resp.json() and "id" not in resp.json()
    missing = await client.get("/orgs/nobody")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


# --- federations and member units ---------------------------------------------------------


async def test_a_federation_lists_members_who_accept_and_may_leave(
    client: Any, make_org: Any
) -> None:
    keys = await _seed(make_org)
    fed, bj, gd = auth(keys["ccsw"]), auth(keys["bjswa"]), auth(keys["gdswa"])
    resp = await client.post("/orgs/me/members", json={"slugs": ["bjswa", "gdswa"]}, headers=fed)
    assert resp.status_code == 200 and resp.json() == {"added": 2, "already": 0}
    again = await client.post(
        "/orgs/me/members", json={"slugs": ["gdswa", "bjswa", "bjswa"]}, headers=fed
    )
    assert again.json() == {"added": 0, "already": 2}
    members = (await client.get("/orgs/me/members", headers=fed)).json()
    assert [(m["slug"], m["status"]) for m in members] == [
        ("bjswa", "pending"),
        ("gdswa", "pending"),
    ]
    assert members[0]["name"] == "北京社会工作者协会" and members[0]["accepted_at"] is None
    assert (await client.get("/orgs/ccsw")).json()["members_count"] == 0  # pending only
    asked = (await client.get("/orgs/me/memberships", headers=bj)).json()
    assert [(m["slug"], m["status"], m["kind"]) for m in asked] == [
        ("ccsw", "pending", "federation")
    ]

    accepted = await client.post("/orgs/me/memberships/ccsw/accept", headers=bj)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active" and accepted.json()["accepted_at"]
    twice = await client.post("/orgs/me/memberships/ccsw/accept", headers=bj)
    assert (
        twice.status_code == 200 and twice.json()["accepted_at"] == accepted.json()["accepted_at"]
    )
    # only an invitation that exists can be accepted
    assert (await client.post("/orgs/me/memberships/gdswa/accept", headers=bj)).status_code == 404
    assert (await client.post("/orgs/me/memberships/nope/accept", headers=bj)).status_code == 404
    assert (await client.post("/orgs/me/memberships/ccsw/accept", headers=fed)).status_code == 404
    assert (await client.post("/orgs/me/memberships/ccsw/accept", headers=gd)).status_code == 200
    members = (await client.get("/orgs/me/members", headers=fed)).json()
    assert [m["status"] for m in members] == ["active", "active"]
    assert (await client.get("/orgs/ccsw")).json()["members_count"] == 2

    # the member leaves; the federation ends the other membership
    assert (await client.delete("/orgs/me/memberships/ccsw", headers=bj)).status_code == 204
    assert (await client.get("/orgs/bjswa")).json()["member_of"] == []
    assert (await client.delete("/orgs/me/memberships/ccsw", headers=bj)).status_code == 404
    assert (await client.delete("/orgs/me/members/gdswa", headers=fed)).status_code == 204
    assert (await client.delete("/orgs/me/members/gdswa", headers=fed)).status_code == 404
    assert (await client.get("/orgs/me/members", headers=fed)).json() == []
    assert (await client.get("/orgs/me/memberships", headers=gd)).json() == []
    assert await OrgMembership.count() == 0


async def test_membership_refusals_name_the_field(client: Any, make_org: Any) -> None:
    keys = await _seed(make_org)
    fed = auth(keys["ccsw"])
    not_fed = await client.post(
        "/orgs/me/members", json={"slugs": ["bjswa"]}, headers=auth(keys["gdswa"])
    )
    assert not_fed.status_code == 409 and "only a federation" in not_fed.json()["detail"]
    bad = await client.post(
        "/orgs/me/members", json={"slugs": ["bjswa", "nobody", "ccsw", "Bad Slug"]}, headers=fed
    )
    assert bad.status_code == 422, bad.text
    assert fields(bad) == ["slugs.1", "slugs.2", "slugs.3"]
    assert await OrgMembership.count() == 0  # nothing added from a request with errors
    for body, field in (
        ({"slugs": []}, "slugs"),
        ({"slugs": ["x" * 64]}, "slugs.0"),
        ({"slugs": ["bjswa"], "role": "x"}, "role"),
        ({}, "slugs"),
    ):
        resp = await client.post("/orgs/me/members", json=body, headers=fed)
        assert resp.status_code == 422 and field in fields(resp), (body, resp.text)
    assert (await client.post("/orgs/me/members", json={"slugs": ["bjswa"]})).status_code == 401
    # a federation with member units stays one
    await client.post("/orgs/me/members", json={"slugs": ["bjswa"]}, headers=fed)
    change = await client.patch("/orgs/me", json={"kind": "service_agency"}, headers=fed)
    assert change.status_code == 409 and fields(change) == ["kind"]
    assert (await client.get("/orgs/me", headers=fed)).json()["kind"] == "federation"


# --- contacts -----------------------------------------------------------------------------


async def test_contacts_are_kept_changed_found_by_tag_and_removed(
    client: Any, make_org: Any
) -> None:
    keys = await _seed(make_org)
    gd = auth(keys["gdswa"])
    li = await _contact(
        client, keys["gdswa"], name="李敏兰", email="Li.Minlan@gdswa.example.org",
        title="会长", tags=["会长", "理事", "会长"],
    )  # fmt: skip
    assert li["tags"] == ["会长", "理事"] and li["locale"] == "zh-CN" and li["title"] == "会长"
    await _contact(client, keys["gdswa"], name="王督导", email="wang@gdswa.example.org",
                   title="督导", tags=["督导"])  # fmt: skip
    await _contact(client, keys["gdswa"], name="Jane Doe", email="jane@partner.example.org",
                   locale="en", tags=["partner"])  # fmt: skip
    # another organization keeps its own contact with the same address
    await _contact(client, keys["bjswa"], name="李会长", email="li.minlan@gdswa.example.org")

    dup = await client.post(
        "/orgs/me/contacts", json={"name": "x", "email": "LI.MINLAN@gdswa.example.org"}, headers=gd
    )
    assert dup.status_code == 409 and fields(dup) == ["email"]

    everyone = await _all_contacts(client, keys["gdswa"])
    assert [c["name"] for c in everyone] == ["Jane Doe", "李敏兰", "王督导"]
    tagged = await _all_contacts(client, keys["gdswa"], tag=["督导", "理事"])  # ANY of them
    assert [c["name"] for c in tagged] == ["李敏兰", "王督导"]
    assert await _all_contacts(client, keys["gdswa"], tag="秘书长") == []

    page = await client.get("/orgs/me/contacts", params={"limit": 2}, headers=gd)
    assert len(page.json()["items"]) == 2 and page.json()["next"]
    rest = await client.get(
        "/orgs/me/contacts", params={"limit": 2, "cursor": page.json()["next"]}, headers=gd
    )
    assert [c["name"] for c in rest.json()["items"]] == ["王督导"] and rest.json()["next"] is None

    changed = await client.patch(
        "/orgs/me/contacts/LI.MINLAN@GDSWA.example.org",
        json={"title": "会长 ", "tags": ["会长", "督导"], "locale": "en"},
        headers=gd,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["tags"], changed.json()["locale"]) == (["会长", "督导"], "en")
    moved = await client.patch(
        "/orgs/me/contacts/wang@gdswa.example.org",
        json={"email": "wang.du@gdswa.example.org", "name": "王 督导"},
        headers=gd,
    )
    assert moved.json()["email"] == "wang.du@gdswa.example.org"
    clash = await client.patch(
        "/orgs/me/contacts/wang.du@gdswa.example.org",
        json={"email": "Jane@partner.example.org"},
        headers=gd,
    )
    assert clash.status_code == 409 and fields(clash) == ["email"]
    gone = await client.patch(
        "/orgs/me/contacts/wang@gdswa.example.org", json={"name": "x"}, headers=gd
    )
    assert gone.status_code == 404

    removed = await client.delete("/orgs/me/contacts/JANE@partner.example.org", headers=gd)
    assert removed.status_code == 204
    again = await client.delete("/orgs/me/contacts/jane@partner.example.org", headers=gd)
    assert again.status_code == 404
    assert [c["email"] for c in await _all_contacts(client, keys["gdswa"])] == [
        "Li.Minlan@gdswa.example.org",
        "wang.du@gdswa.example.org",
    ]
    # the other organization's contact was never touched
    (bj_li,) = await _all_contacts(client, keys["bjswa"])
    assert (bj_li["name"], bj_li["tags"]) == ("李会长", [])


async def test_bad_contact_input_names_the_field(client: Any, make_org: Any) -> None:
    keys = await _seed(make_org)
    gd = auth(keys["gdswa"])
    good = {"name": "督导", "email": "du@gdswa.example.org"}
    for body, field in (
        ({**good, "email": "not-an-address"}, "email"),
        ({**good, "email": "a@b.example.org\r\nBcc: x@y.org"}, "email"),
        ({**good, "name": "   "}, "name"),
        ({**good, "name": ""}, "name"),
        ({**good, "locale": "fr"}, "locale"),
        ({**good, "title": "长" * 101}, "title"),
        ({**good, "tags": ["督导;理事"]}, "tags"),
        ({**good, "tags": ["  "]}, "tags"),
        ({**good, "tags": ["x" * 51]}, "tags.0"),
        ({**good, "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({**good, "phone": "123"}, "phone"),
        ({"name": "x"}, "email"),
    ):
        resp = await client.post("/orgs/me/contacts", json=body, headers=gd)
        assert resp.status_code == 422, (body, resp.text)
        assert fields(resp) == [field], (body, resp.text)
    await _contact(client, keys["gdswa"], **good)
    patch = await client.patch(
        "/orgs/me/contacts/du@gdswa.example.org", json={"tags": ["a|b"]}, headers=gd
    )
    assert patch.status_code == 422 and fields(patch) == ["tags"]
    cursor = await client.get("/orgs/me/contacts", params={"cursor": "%%%"}, headers=gd)
    assert cursor.status_code == 422 and fields(cursor) == ["cursor"]
    long_tag = await client.get("/orgs/me/contacts", params={"tag": "x" * 51}, headers=gd)
    assert long_tag.status_code == 422 and fields(long_tag) == ["tag"]
    assert (await client.get("/orgs/me/contacts")).status_code == 401
    assert await Contact.count() == 1


# --- CSV import ---------------------------------------------------------------------------

GOOD_CSV = """Email,NAME, Title ,tags,Locale
liu.jing@ccsw.example.org,刘京,副会长兼秘书长,秘书长、理事,zh-CN

shen.xiaoping@bjswa.example.org,沈小平,副会长兼秘书长,秘书长;理事|京津冀,
"du.1@ccsw.example.org","张督导, 一级",督导,督导,
jane@partner.example.org,Jane Doe,,partner,EN
"""


async def test_csv_import_with_bom_chinese_names_and_update(client: Any, make_org: Any) -> None:
    keys = await _seed(make_org)
    key = keys["ccsw"]
    await _contact(client, key, name="旧名字", email="Liu.Jing@ccsw.example.org", title="旧",
                   tags=["旧"], locale="en")  # fmt: skip
    resp = await _import(client, key, _csv(GOOD_CSV))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"created": 3, "updated": 1}
    by_email = {c["email"].lower(): c for c in await _all_contacts(client, key)}
    assert len(by_email) == 4
    liu = by_email["liu.jing@ccsw.example.org"]
    assert (liu["name"], liu["title"], liu["tags"], liu["locale"]) == (
        "刘京", "副会长兼秘书长", ["秘书长", "理事"], "zh-CN",
    )  # fmt: skip
    assert by_email["shen.xiaoping@bjswa.example.org"]["tags"] == ["秘书长", "理事", "京津冀"]
    assert by_email["shen.xiaoping@bjswa.example.org"]["locale"] == "zh-CN"  # empty cell
    assert by_email["du.1@ccsw.example.org"]["name"] == "张督导, 一级"
    jane = by_email["jane@partner.example.org"]
    assert (jane["locale"], jane["title"]) == ("en", "")

    # without a BOM and without the optional columns: those keep their values
    again = await _import(
        client, key, _csv("name,email\n刘京 先生,LIU.JING@ccsw.example.org\n", bom=False)
    )
    assert again.json() == {"created": 0, "updated": 1}
    liu = next(c for c in await _all_contacts(client, key) if c["name"] == "刘京 先生")
    assert (liu["email"], liu["tags"], liu["title"]) == (
        "LIU.JING@ccsw.example.org", ["秘书长", "理事"], "副会长兼秘书长",
    )  # fmt: skip
    # a header with nothing below it imports nothing; application/csv is CSV too
    empty = await _import(client, key, _csv("email,name\n"), **{"Content-Type": "application/csv"})
    assert empty.status_code == 200 and empty.json() == {"created": 0, "updated": 0}


BAD_CSV = """name,email,locale,tags
刘京,liu.jing@ccsw.example.org,zh-CN,秘书长
沈小平,not-an-address,zh-CN,
,nameless@ccsw.example.org,,
李敏兰,li@gdswa.example.org,fr,会长
王督导,LIU.JING@ccsw.example.org,,督导
张三,zhang@bjswa.example.org,en,a,extra
李四,li.si@bjswa.example.org,en,"一个单元格
跨两行"
王五,wang5@bjswa.example.org,zh,
"""


async def test_a_bad_file_names_every_bad_row_and_imports_nothing(
    client: Any, make_org: Any
) -> None:
    keys = await _seed(make_org)
    key = keys["ccsw"]
    await _contact(client, key, name="原有", email="liu.jing@ccsw.example.org", tags=["原有"])
    resp = await _import(client, key, _csv(BAD_CSV))
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["type"].endswith("/invalid-input")
    assert fields(resp) == [
        "line 3: email",
        "line 4: name",
        "line 5: locale",
        "line 6: email",
        "line 7",
        "line 10: locale",  # the record before it spans lines 8 and 9
    ]
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert "same address as line 2" in messages["line 6: email"]
    assert "6 bad row(s)" in problem["detail"] and "nothing was imported" in problem["detail"]
    # nothing imported, nothing changed: not even the good first row
    (only,) = await _all_contacts(client, key)
    assert (only["name"], only["tags"]) == ("原有", ["原有"])


async def test_csv_header_encoding_media_type_and_limits(client: Any, make_org: Any) -> None:
    keys = await _seed(make_org)
    key = keys["bjswa"]
    cases = [
        (_csv("name,email,phone\n沈小平,s@bjswa.example.org,1\n"), ["line 1: phone"]),
        (_csv("姓名,email\n"), ["line 1: 姓名", "line 1"]),
        (_csv("\n\nname,name,email\n"), ["line 3: name"]),
        (_csv(""), ["line 1"]),
        ("name,email\n沈小平,s@bjswa.example.org\n".encode("gb18030"), ["line 2"]),
        (b"name,email\nx,a@b.example.org\x00\n", ["line 2"]),
        (_csv('name,email\n"x,a@b.example.org\n'), ["line 2"]),
    ]
    for body, expected in cases:
        resp = await _import(client, key, body)
        assert resp.status_code == 422, (body, resp.text)
        assert fields(resp) == expected, (body, resp.text)
    gbk = await _import(client, key, _csv(GOOD_CSV), **{"Content-Type": "text/csv; charset=gbk"})
    assert gbk.status_code == 415 and "UTF-8" in gbk.json()["detail"]
    as_json = await client.post("/orgs/me/contacts.csv", json={"a": 1}, headers=auth(key))
    assert as_json.status_code == 415
    no_key = await _import(client, "evs_000000000000_" + "x" * 40, _csv(GOOD_CSV))
    assert no_key.status_code == 401

    rows = "".join(f"人{i},p{i}@bjswa.example.org\n" for i in range(10_001))
    too_many = await _import(client, key, _csv("name,email\n" + rows))
    assert too_many.status_code == 413 and "10,000 rows" in too_many.json()["detail"]
    huge = await _import(client, key, b"name,email\n" + b"x" * (5 * 2**20 + 1))
    assert huge.status_code == 413 and "5 MiB" in huge.json()["detail"]
    assert fields(huge) == ["body"]
    # exactly 10,000 rows are fine
    ok = await _import(client, key, _csv("name,email\n" + rows.split("人10000")[0]))
    assert ok.status_code == 200 and ok.json() == {"created": 10_000, "updated": 0}
    assert await Contact.count() == 10_000


# --- invitations through organizations ----------------------------------------------------


async def _story(client: Any, make_org: Any) -> dict[str, str]:
    """ccsw with bjswa and gdswa active, shswa only asked; contacts everywhere."""
    keys = await _seed(make_org)
    _sh, keys["shswa"] = await make_org(slug="shswa", name="上海市社会工作者协会",
                                        kind="provincial_association", region="上海市")  # fmt: skip
    await _federate(client, keys, "bjswa", "gdswa")
    await client.post("/orgs/me/members", json={"slugs": ["shswa"]}, headers=auth(keys["ccsw"]))
    people = {
        "ccsw": [("刘京", "liu.jing@ccsw.example.org", "副会长兼秘书长", ["秘书长"]),
                 ("陈督导", "chen@ccsw.example.org", "督导", ["督导"])],
        "bjswa": [("沈小平", "shen.xiaoping@bjswa.example.org", "副会长兼秘书长", ["秘书长"]),
                  ("赵督导", "zhao@bjswa.example.org", "督导", ["督导"]),
                  ("共同", "shared@example.org", "督导", ["督导"])],
        "gdswa": [("李敏兰", "li.minlan@gdswa.example.org", "会长", ["会长"]),
                  ("黄督导", "huang@gdswa.example.org", "督导", ["督导", "培训"]),
                  ("共同 (广东)", "SHARED@example.org", "理事", ["理事"])],
        "shswa": [("孙督导", "sun@shswa.example.org", "督导", ["督导"])],
    }  # fmt: skip
    for slug, contacts in people.items():
        for name, email, title, tags in contacts:
            await _contact(client, keys[slug], name=name, email=email, title=title, tags=tags)
    return keys


async def _event(client: Any, key: str) -> str:
    resp = await client.post("/events", json=event_body(kind="training", title="督导人才培养"),
                             headers=auth(key))  # fmt: skip
    assert resp.status_code == 201, resp.text
    event_id: str = resp.json()["id"]
    return event_id


async def _invitees(client: Any, key: str, event_id: str) -> dict[str, dict[str, Any]]:
    resp = await client.get(f"/events/{event_id}/invitations", headers=auth(key))
    return {i["email"].lower(): i for i in resp.json()["items"]}


async def test_invitations_reach_contacts_by_organization_tag_and_members(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    keys = await _story(client, make_org)
    event_id = await _event(client, keys["ccsw"])
    body = {
        "message": "诚邀各位督导参加培训。",
        "invitees": [{"email": "Shared@Example.org", "name": "共同老师", "role": "chair",
                      "locale": "en"}],
        "organizations": [
            {"slug": "ccsw", "tags": ["督导"], "members": True},  # own + active members' 督导
            {"slug": "bjswa"},  # a member unit named directly: all its contacts
            {"slug": "gdswa", "tags": ["理事"]},  # reaches shared@ a third time
        ],
    }  # fmt: skip
    url = f"/events/{event_id}/invitations"
    resp = await client.post(url, json=body, headers=auth(keys["ccsw"]))
    assert resp.status_code == 202, resp.text
    expected = {
        "shared@example.org",  # explicit, and through bjswa 督导, bjswa and gdswa 理事
        "chen@ccsw.example.org",
        "zhao@bjswa.example.org",
        "huang@gdswa.example.org",
        "shen.xiaoping@bjswa.example.org",
    }
    assert resp.json() == {"invited": len(expected), "already_invited": 0}
    invited = await _invitees(client, keys["ccsw"], event_id)
    assert set(invited) == expected
    # not reached: 秘书长 of ccsw (tag), 会长 of gdswa (tag), shswa (only asked to join)
    shared = invited["shared@example.org"]
    assert (shared["name"], shared["role"], shared["locale"]) == ("共同老师", "chair", "en")
    assert invited["zhao@bjswa.example.org"]["name"] == "赵督导"

    await worker.drain()
    assert len(smtp.received) == len(expected)
    (one,) = smtp.for_recipient("shared@example.org")  # one person, one e-mail
    assert one.message["X-Notification-Kind"] == "invitation"
    for never in ("liu.jing@ccsw.example.org", "li.minlan@gdswa.example.org",
                  "sun@shswa.example.org"):  # fmt: skip
        assert smtp.for_recipient(never) == []

    # the same request again invites nobody new and sends nothing
    again = await client.post(url, json=body, headers=auth(keys["ccsw"]))
    assert again.json() == {"invited": 0, "already_invited": len(expected)}
    # once shswa accepts, its 督导 is reached too
    await client.post("/orgs/me/memberships/ccsw/accept", headers=auth(keys["shswa"]))
    more = await client.post(
        f"/events/{event_id}/invitations",
        json={"organizations": [{"slug": "ccsw", "tags": ["督导"], "members": True}]},
        headers=auth(keys["ccsw"]),
    )
    assert more.json() == {"invited": 1, "already_invited": 4}
    await worker.drain()
    assert len(smtp.for_recipient("sun@shswa.example.org")) == 1
    assert len(smtp.for_recipient("shared@example.org")) == 1


async def test_a_member_unit_invites_its_own_contacts(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    keys = await _story(client, make_org)
    event_id = await _event(client, keys["gdswa"])
    resp = await client.post(
        f"/events/{event_id}/invitations",
        json={"organizations": [{"slug": "gdswa", "tags": ["会长", "培训"]}]},
        headers=auth(keys["gdswa"]),
    )
    assert resp.status_code == 202 and resp.json() == {"invited": 2, "already_invited": 0}
    assert set(await _invitees(client, keys["gdswa"], event_id)) == {
        "li.minlan@gdswa.example.org",
        "huang@gdswa.example.org",
    }
    await worker.drain()
    assert len(smtp.received) == 2


async def test_organizations_outside_the_callers_reach_are_refused(
    client: Any, make_org: Any
) -> None:
    keys = await _story(client, make_org)
    _other, keys["other"] = await make_org(slug="other", kind="service_agency")
    await _contact(client, keys["other"], name="外人", email="outsider@other.example.org")
    fed_event = await _event(client, keys["ccsw"])
    gd_event = await _event(client, keys["gdswa"])
    cases = [
        # (caller, event, organizations, invitees, field)
        ("ccsw", fed_event, [{"slug": "other"}], [], "organizations.0.slug"),
        ("ccsw", fed_event, [{"slug": "nobody"}], [], "organizations.0.slug"),
        ("ccsw", fed_event, [{"slug": "ccsw"}, {"slug": "shswa"}], [], "organizations.1.slug"),
        ("ccsw", fed_event, [{"slug": "bjswa", "members": True}], [], "organizations.0.members"),
        ("gdswa", gd_event, [{"slug": "ccsw"}], [], "organizations.0.slug"),
        ("gdswa", gd_event, [{"slug": "bjswa"}], [], "organizations.0.slug"),
        ("gdswa", gd_event, [{"slug": "gdswa", "members": True}], [], "organizations.0.members"),
        ("ccsw", fed_event, [{"slug": "ccsw", "tags": []}], [], "organizations.0.tags"),
        ("ccsw", fed_event, [{"slug": "ccsw", "tags": ["a;b"]}], [], "organizations.0.tags"),
        ("ccsw", fed_event, [{"slug": "ccsw", "role": "chair"}], [], "organizations.0.role"),
        ("ccsw", fed_event, [{"tags": ["督导"]}], [], "organizations.0.slug"),
        ("ccsw", fed_event, [{"slug": "ccsw", "tags": ["没有"]}], [], "organizations"),
        ("ccsw", fed_event, [], [], "invitees"),
    ]
    for caller, event_id, organizations, invitees, field in cases:
        resp = await client.post(
            f"/events/{event_id}/invitations",
            json={"organizations": organizations, "invitees": invitees},
            headers=auth(keys[caller]),
        )
        assert resp.status_code == 422, (organizations, resp.text)
        assert fields(resp) == [field], (organizations, resp.text)
        assert "@" not in resp.text  # no contact of anyone leaks into the refusal
    # foreign and unknown organizations are refused in the same words
    foreign, unknown = [
        await client.post(
            f"/events/{fed_event}/invitations",
            json={"organizations": [{"slug": slug}]},
            headers=auth(keys["ccsw"]),
        )
        for slug in ("other", "nobody")
    ]
    assert foreign.json()["errors"] == unknown.json()["errors"]
    assert "not your organization or one of your member units" in foreign.json()["detail"]
    # naming its contacts gets nobody into another organization's event
    theirs = await client.post(
        f"/events/{fed_event}/invitations",
        json={"organizations": [{"slug": "gdswa"}]},
        headers=auth(keys["gdswa"]),
    )
    assert theirs.status_code == 404
    assert await Invitation.count() == 0
