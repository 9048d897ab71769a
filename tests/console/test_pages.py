"""Console pages over HTTP (no browser): roles, tenancy, errors next to their fields in the
reader's language, nothing half-saved, the language switch."""

from __future__ import annotations

import uuid
from typing import Any

from events_svc.events.tables import Event
from tests.console.helpers import session_for
from tests.helpers import auth, event_body


def _as(client: Any, session: dict[str, str]) -> None:
    client.cookies.set("console_session", session["cookie"], domain="events.example.org")


async def test_an_editor_cannot_reach_admin_pages(app: Any, client: Any, make_org: Any) -> None:
    org, key = await make_org(email="mishu@bjswa.example.org")
    await client.post(
        "/orgs/me/organizers",
        json={"email": "bianji@bjswa.example.org", "role": "editor"},
        headers=auth(key),
    )
    editor = await session_for(app, org_id=uuid.UUID(org["id"]), email="bianji@bjswa.example.org")
    _as(client, editor)
    home = await client.get("/console")
    assert home.status_code == 200
    assert "/console/api-keys" not in home.text  # not offered in the menu either
    for path in ("/console/api-keys", "/console/organizers"):
        refused = await client.get(path)
        assert refused.status_code == 403 and "仅限管理员" in refused.text, path
    made = await client.post("/console/api-keys", data={"label": "x", "_csrf": editor["csrf"]})
    assert made.status_code == 403
    keys = (await client.get("/orgs/me/api-keys", headers=auth(key))).json()
    assert len(keys) == 1  # nothing was created


async def test_one_organization_sees_nothing_of_another(
    app: Any, client: Any, make_org: Any
) -> None:
    org_a, _key_a = await make_org(email="a@a.example.org")
    _org_b, key_b = await make_org(email="b@b.example.org")
    theirs = (
        await client.post("/events", json=event_body(title="乙方内部会议"), headers=auth(key_b))
    ).json()
    session = await session_for(app, org_id=uuid.UUID(org_a["id"]), email="a@a.example.org")
    _as(client, session)
    listed = await client.get("/console/events")
    assert listed.status_code == 200 and "乙方内部会议" not in listed.text
    month = await client.get("/console/events?view=month&month=2027-06")
    assert "乙方内部会议" not in month.text
    for path in ("", "/edit", "/invitations", "/answers", "/answers.csv", "/progress.json"):
        seen = await client.get(f"/console/events/{theirs['id']}{path}")
        assert seen.status_code == 404, (path, seen.status_code)
    cancel = await client.post(
        f"/console/events/{theirs['id']}/cancel", data={"_csrf": session["csrf"]}
    )
    assert cancel.status_code == 404
    still = (await client.get(f"/events/{theirs['id']}", headers=auth(key_b))).json()
    assert still["status"] == "scheduled"


async def test_bad_input_is_shown_by_its_field_and_nothing_is_saved(
    app: Any, client: Any, make_org: Any
) -> None:
    org, _key = await make_org(email="mishu@gd.example.org")
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@gd.example.org")
    _as(client, session)
    form = {
        "_csrf": session["csrf"],
        "title": "督导人才培养",
        "kind": "training",
        "starts_at": "2027-06-10T14:00",
        "ends_at": "2027-06-10T12:00",  # before the start
        "timezone": "Asia/Shanghai",
        "visibility": "public",
        "repeat": "weekly",
        "ends": "count",
        "count": "8",
    }
    page = await client.post("/console/events", data=form)  # no weekday chosen
    assert page.status_code == 422
    assert 'id="recurrence-error">请至少选择一个星期几<' in page.text
    form["days"] = "TU"
    page = await client.post("/console/events", data=form)
    assert page.status_code == 422
    assert 'aria-invalid="true" aria-describedby="ends_at-error"' in page.text
    assert 'value="督导人才培养"' in page.text  # what was typed stays
    client.cookies.set("lang", "en", domain="events.example.org")
    english = await client.post("/console/events", data={**form, "timezone": "Mars/Olympus"})
    assert english.status_code == 422 and 'id="timezone-error"' in english.text
    assert await Event.count() == 0
    client.cookies.delete("lang")
    form["ends_at"] = "2027-06-10T17:00"
    done = await client.post("/console/events", data=form)
    assert done.status_code == 303
    (row,) = await Event.select(Event.recurrence, Event.starts_at)
    assert row["recurrence"] == "FREQ=WEEKLY;BYDAY=TU;COUNT=8"


async def test_pasted_lines_that_are_no_address_are_named(
    app: Any, client: Any, make_org: Any
) -> None:
    org, key = await make_org(email="mishu@sz.example.org")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@sz.example.org")
    _as(client, session)
    page = await client.post(
        f"/console/events/{ev['id']}/invitations/preview",
        data={"_csrf": session["csrf"], "pasted": "王五 <wang.wu@example.org>\n张三\n"},
    )
    assert page.status_code == 422 and "第 2 行不是电子邮件地址" in page.text
    sent = await client.post(
        f"/console/events/{ev['id']}/invitations",
        data={"_csrf": session["csrf"], "pasted": "王五 <wang.wu@example.org>\nbad@\n"},
    )
    assert sent.status_code == 422
    listed = (await client.get(f"/events/{ev['id']}/invitations", headers=auth(key))).json()
    assert listed["items"] == []  # nothing half-saved


async def test_every_page_carries_the_strict_csp(app: Any, client: Any, make_org: Any) -> None:
    org, key = await make_org(email="mishu@csp.example.org")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@csp.example.org")
    _as(client, session)
    for path in ("/console", "/console/events", f"/console/events/{ev['id']}", "/console/sign-in"):
        page = await client.get(path)
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "base-uri 'none'" in csp and "unsafe-inline" not in csp, path
        assert "<script>" not in page.text and "style=" not in page.text, path
    css = await client.get("/assets/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    switched = await client.get("/language/en?next=//evil.example.org")
    assert switched.status_code == 303 and switched.headers["location"] == "/console"


async def test_activity_names_who_changed_what(app: Any, client: Any, make_org: Any) -> None:
    org, key = await make_org(email="mishu@audit.example.org")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    await client.patch(f"/events/{ev['id']}", json={"location": "深圳"}, headers=auth(key))
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@audit.example.org")
    _as(client, session)
    moved = await client.post(
        f"/console/events/{ev['id']}/invitations",
        data={"_csrf": session["csrf"], "pasted": "wang.wu@example.org"},
    )
    assert moved.status_code == 303
    refused = await client.post(f"/console/events/{ev['id']}/cancel", data={})  # no CSRF
    assert refused.status_code == 403
    sent = (await client.get(f"/events/{ev['id']}/deliveries", headers=auth(key))).json()
    assert sent["remaining"] == 1  # the invitation, not yet sent
    api = (await client.get(f"/events/{ev['id']}/activity", headers=auth(key))).json()
    assert [(a["action"], a["actor"].split(":")[0]) for a in api] == [
        ("invite", "organizer"),
        ("update_event", "api-key"),
        ("create_event", "api-key"),
    ]
    assert api[0]["actor"] == "organizer:mishu@audit.example.org"
    page = await client.get(f"/console/events/{ev['id']}/activity")
    assert page.status_code == 200 and "发送邀请" in page.text and "修改活动" in page.text


async def test_move_and_cancel_one_occurrence(app: Any, client: Any, make_org: Any) -> None:
    from events_svc.events.tables import Occurrence

    org, key = await make_org(email="mishu@occ.example.org")
    ev = (
        await client.post(
            "/events",
            json=event_body(
                starts_at="2027-06-10T14:00:00",
                ends_at="2027-06-10T16:00:00",
                recurrence="FREQ=WEEKLY;COUNT=4",
            ),
            headers=auth(key),
        )
    ).json()
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@occ.example.org")
    _as(client, session)
    page = await client.get(f"/console/events/{ev['id']}")
    assert 'value="2027-06-17T14:00:00"' in page.text
    bad = await client.post(
        f"/console/events/{ev['id']}/occurrence",
        data={
            "_csrf": session["csrf"],
            "occurrence": "2027-06-17T14:00:00",
            "action": "move",
            "starts_at": "2027-06-18T15:00",
            "ends_at": "2027-06-18T14:00",
        },
    )
    assert bad.status_code == 422 and 'id="occ_ends_at-error"' in bad.text
    assert await Occurrence.count() == 0
    moved = await client.post(
        f"/console/events/{ev['id']}/occurrence",
        data={
            "_csrf": session["csrf"],
            "occurrence": "2027-06-17T14:00:00",
            "action": "move",
            "starts_at": "2027-06-18T15:00",
            "ends_at": "2027-06-18T17:00",
        },
    )
    assert moved.status_code == 303, moved.text
    cancelled = await client.post(
        f"/console/events/{ev['id']}/occurrence",
        data={"_csrf": session["csrf"], "occurrence": "2027-06-24T14:00:00", "action": "cancel"},
    )
    assert cancelled.status_code == 303, cancelled.text
    rows = await Occurrence.select(Occurrence.status).order_by(Occurrence.recurrence_id)
    assert [r["status"] for r in rows] == ["scheduled", "cancelled"]


async def test_contacts_import_names_each_bad_row(app: Any, client: Any, make_org: Any) -> None:
    from events_svc.contacts.tables import Contact

    org, _key = await make_org(email="mishu@contacts.example.org")
    session = await session_for(
        app, org_id=uuid.UUID(org["id"]), email="mishu@contacts.example.org"
    )
    _as(client, session)
    bad = (
        "name,email,tags\r\n王五,wang.wu@example.org,督导\r\n张三,not-an-address,\r\n,li@x.org,\r\n"
    )
    page = await client.post(
        "/console/contacts/import",
        data={"_csrf": session["csrf"]},
        files={"file": ("contacts.csv", bad.encode(), "text/csv")},
    )
    assert page.status_code == 422, page.text
    assert "line 3" in page.text and "line 4" in page.text and 'id="bad-rows"' in page.text
    assert await Contact.count() == 0
    good = "name,email,tags\r\n王五,wang.wu@example.org,督导;理事\r\n"
    page = await client.post(
        "/console/contacts/import",
        data={"_csrf": session["csrf"]},
        files={"file": ("contacts.csv", good.encode(), "text/csv")},
    )
    assert page.status_code == 200 and "新增 1 人" in page.text
    listed = await client.get("/console/contacts?tag=督导")
    assert "wang.wu@example.org" in listed.text


async def test_webhooks_page_shows_the_secret_once(
    app: Any, client: Any, make_org: Any, allow_private_webhooks: Any
) -> None:
    org, key = await make_org(email="mishu@hooks.example.org")
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@hooks.example.org")
    _as(client, session)
    bad = await client.post(
        "/console/webhooks", data={"_csrf": session["csrf"], "url": "ftp://x", "events": "x"}
    )
    assert bad.status_code == 422 and 'id="url-error"' in bad.text
    made = await client.post(
        "/console/webhooks",
        data={
            "_csrf": session["csrf"],
            "url": "https://hooks.example.org/a",
            "events": "rsvp.changed",
        },
    )
    assert made.status_code == 200 and 'id="new-secret"' in made.text
    (hook,) = (await client.get("/webhooks", headers=auth(key))).json()
    again = await client.get("/console/webhooks")
    assert 'id="new-secret"' not in again.text and hook["url"] in again.text
    log = await client.get(f"/console/webhooks/{hook['id']}")
    assert log.status_code == 200


async def test_agenda_editor_reads_lines_and_names_bad_ones(
    app: Any, client: Any, make_org: Any
) -> None:
    org, key = await make_org(email="mishu@agenda.example.org")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@agenda.example.org")
    _as(client, session)
    bad = await client.post(
        f"/console/events/{ev['id']}/agenda",
        data={"_csrf": session["csrf"], "agenda": "2027-06-10 09:30-10:30 | 开幕式\n明天上午 | x"},
    )
    assert bad.status_code == 422 and "第 2 行格式不对" in bad.text
    outside = await client.post(
        f"/console/events/{ev['id']}/agenda",
        data={"_csrf": session["csrf"], "agenda": "2027-06-11 09:30-10:30 | 开幕式"},
    )
    assert outside.status_code == 422 and "第 1 行" in outside.text
    lines = (
        "2027-06-10 09:30-10:30 | 开幕式 | 第一会议室 | 张三 <zhang.san@example.org>\n"
        "2027-06-10 10:45-12:00 | 主旨演讲 | 第一会议室\n"
    )
    done = await client.post(
        f"/console/events/{ev['id']}/agenda", data={"_csrf": session["csrf"], "agenda": lines}
    )
    assert done.status_code == 303, done.text
    page = await client.get(f"/console/events/{ev['id']}/agenda")
    assert (
        "2027-06-10 09:30-10:30 | 开幕式 | 第一会议室 | 张三 &lt;zhang.san@example.org&gt;"
        in page.text
    )
    invited = (await client.get(f"/events/{ev['id']}/invitations", headers=auth(key))).json()
    assert [i["email"] for i in invited["items"]] == ["zhang.san@example.org"]


async def test_an_exchange_visit_with_visitors_and_itinerary(
    app: Any, client: Any, make_org: Any
) -> None:
    org, key = await make_org(email="mishu@visit.example.org")
    await make_org(slug="hkswgu", email="office@hk.example.org")
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@visit.example.org")
    _as(client, session)
    form = {
        "_csrf": session["csrf"],
        "title": "京港社工交流座谈会",
        "kind": "exchange_visit",
        "starts_at": "2027-06-10T09:00",
        "ends_at": "2027-06-10T17:00",
        "timezone": "Asia/Shanghai",
        "visibility": "private",
        "repeat": "none",
        "visiting": "hkswgu, nosuchorg",
        "itinerary": "2027-06-10 09:30-11:00 | 参观服务中心 | 越秀区\n",
    }
    bad = await client.post("/console/events", data=form)
    assert bad.status_code == 422 and 'id="visiting-error"' in bad.text
    form["visiting"] = "hkswgu"
    done = await client.post("/console/events", data=form)
    assert done.status_code == 303, done.text
    event_id = done.headers["location"].rsplit("/", 1)[1]
    made = (await client.get(f"/events/{event_id}", headers=auth(key))).json()
    activity = (await client.get(f"/events/{event_id}/activity", headers=auth(key))).json()
    assert [(a["action"], a["actor"]) for a in activity] == [
        ("create_event", "organizer:mishu@visit.example.org")
    ]
    assert made["visiting"] == ["hkswgu"] and made["itinerary"][0]["title"] == "参观服务中心"
    edit = await client.get(f"/console/events/{event_id}/edit")
    assert "2027-06-10 09:30-11:00 | 参观服务中心 | 越秀区" in edit.text
    delegations = await client.get(f"/console/events/{event_id}/delegations")
    assert delegations.status_code == 200 and "hkswgu" in delegations.text


async def test_invitees_from_a_csv_file_are_previewed(app: Any, client: Any, make_org: Any) -> None:
    org, key = await make_org(email="mishu@csvinv.example.org")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@csvinv.example.org")
    _as(client, session)
    bad = await client.post(
        f"/console/events/{ev['id']}/invitations/preview",
        data={"_csrf": session["csrf"], "pasted": ""},
        files={"file": ("people.csv", "name,email\r\n王五,nope\r\n".encode(), "text/csv")},
    )
    assert bad.status_code == 422 and 'id="file-error"' in bad.text and "line 2" in bad.text
    good = await client.post(
        f"/console/events/{ev['id']}/invitations/preview",
        data={"_csrf": session["csrf"], "pasted": "zhao.liu@example.org"},
        files={
            "file": (
                "people.csv",
                "name,email\r\n王五,wang.wu@example.org\r\n".encode(),
                "text/csv",
            )
        },
    )
    assert good.status_code == 200 and good.text.count("<li>") >= 2
    assert "王五 &lt;wang.wu@example.org&gt;" in good.text


async def test_the_visiting_organization_names_its_delegation(
    app: Any, client: Any, make_org: Any
) -> None:
    host, host_key = await make_org(email="mishu@host.example.org")
    visitor, visitor_key = await make_org(slug="hkswgu", email="office@hk.example.org")
    for address, name in (("lead@hk.example.org", "何团长"), ("chan@hk.example.org", "陈大文")):
        await client.post(
            "/orgs/me/contacts", json={"email": address, "name": name}, headers=auth(visitor_key)
        )
    visit = (
        await client.post(
            "/events",
            json=event_body(kind="exchange_visit", title="京港社工交流座谈会", visiting=["hkswgu"]),
            headers=auth(host_key),
        )
    ).json()
    session = await session_for(app, org_id=uuid.UUID(visitor["id"]), email="office@hk.example.org")
    _as(client, session)
    listed = await client.get("/console/visits")
    assert listed.status_code == 200 and "京港社工交流座谈会" in listed.text
    bad = await client.post(
        f"/console/visits/{visit['id']}",
        data={"_csrf": session["csrf"], "leader": "not an address", "members": ""},
    )
    assert bad.status_code == 422 and 'class="field-error"' in bad.text
    stranger = await client.post(
        f"/console/visits/{visit['id']}",
        data={"_csrf": session["csrf"], "leader": "lead@hk.example.org", "members": "x@y.org"},
    )
    assert stranger.status_code == 422 and "不是本机构的联系人" in stranger.text
    done = await client.post(
        f"/console/visits/{visit['id']}",
        data={
            "_csrf": session["csrf"],
            "leader": "lead@hk.example.org",
            "members": "陈大文 <chan@hk.example.org>\n",
        },
    )
    assert done.status_code == 303, done.text
    seen = (await client.get(f"/events/{visit['id']}/delegations", headers=auth(host_key))).json()
    (delegation,) = seen
    assert delegation["leader"]["email"] == "lead@hk.example.org"
    assert [m["email"] for m in delegation["members"]] == ["chan@hk.example.org"]
    assert host["id"]
