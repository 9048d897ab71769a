"""Input that used to crash or stick (issue 12, items 5, 6 and 11): addresses parsed once by
email-validator wherever one is taken, IDN and non-ASCII addresses through real SMTP, text
PostgreSQL cannot store, JSON sent as another type, display names that look like RFC 2047,
one paging rule for every listing, and the last API key."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import io
from typing import Any

from events_svc.contacts.tables import Contact
from events_svc.invitations.tables import Invitation
from events_svc.orgs.tables import Organization
from events_svc.people.tables import Person
from tests.conftest import ADMIN_TOKEN
from tests.helpers import auth, event_body
from tests.integration.test_rsvp import _links

#: each used to give a 500 (or, the last, be accepted and sent as an IP literal)
BAD_ADDRESSES = [
    "<x@evil.example>",
    "a@[1.2.3.4",
    "(a)@b.example.org",
    "[a]@b.example.org",
    ":a@b.example.org",
    "a@[127.0.0.1]",
    "Name <a@b.example.org>",
    '"a b"@b.example.org',
    "a@localhost",
]


def _fields(resp: Any) -> list[str]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return [e["field"] for e in resp.json()["errors"]]


def _csv(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([["email", "name"], *rows])
    return out.getvalue().encode()


async def _counts() -> tuple[int, ...]:
    return (
        await Organization.count(),
        await Person.count(),
        await Contact.count(),
        await Invitation.count(),
    )


async def test_bad_addresses_are_a_422_naming_the_field_everywhere(
    client: Any, make_org: Any
) -> None:
    org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    contact = await client.post(
        "/orgs/me/contacts", json={"email": "c@x.example.org", "name": "陈"}, headers=auth(key)
    )
    assert contact.status_code == 201, contact.text
    before = await _counts()
    for bad in BAD_ADDRESSES:
        speaker = {"email": bad, "name": "王主任"}
        item = {"title": "开幕式", "starts_at": "2027-06-10T09:30:00",
                "ends_at": "2027-06-10T10:00:00", "speakers": [speaker]}  # fmt: skip
        cases: list[tuple[str, str, dict[str, Any], str]] = [
            ("POST", "/orgs", {"slug": "neworg", "name": "新协会", "email": bad}, "email"),
            ("PATCH", "/orgs/me", {"email": bad}, "email"),
            ("POST", "/orgs/me/contacts", {"email": bad, "name": "x"}, "email"),
            ("PATCH", "/orgs/me/contacts/c@x.example.org", {"email": bad}, "email"),
            ("POST", f"/events/{ev['id']}/invitations", {"invitees": [{"email": bad}]},
             "invitees.0.email"),
            ("PUT", f"/events/{ev['id']}/agenda", {"items": [item]}, "items.0.speakers.0.email"),
            ("POST", f"/events/{ev['id']}/attendance",
             {"email": bad, "occurrence": "2027-06-10T09:30:00"}, "email"),
        ]  # fmt: skip
        for method, path, body, field in cases:
            token = ADMIN_TOKEN if path == "/orgs" else key
            resp = await client.request(method, path, json=body, headers=auth(token))
            assert resp.status_code == 422, (bad, path, resp.text)
            assert field in _fields(resp), (bad, path, resp.json())
        imported = await client.post(
            "/orgs/me/contacts.csv",
            content=_csv(["ok@x.example.org", "好"], [bad, "坏"]),
            headers={"Content-Type": "text/csv; charset=utf-8", **auth(key)},
        )
        assert imported.status_code == 422, (bad, imported.text)
        assert _fields(imported) == ["line 3: email"], (bad, imported.json())
    # nothing written: no organization, person, contact or invitation, the e-mail unchanged
    assert await _counts() == before
    me = (await client.get("/orgs/me", headers=auth(key))).json()
    assert me["email"] == org["email"]


async def test_idn_addresses_are_stored_and_sent_as_a_labels(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    url = f"/events/{ev['id']}/invitations"
    first = await client.post(
        url, json={"invitees": [{"email": "Li@ëxample.org", "name": "李"}]}, headers=auth(key)
    )
    assert first.status_code == 202, first.text
    # the A-label spelling, in other case, is the same person
    again = await client.post(
        url, json={"invitees": [{"email": "li@XN--XAMPLE-OVA.org"}]}, headers=auth(key)
    )
    assert again.json() == {"invited": 0, "already_invited": 1}
    await worker.drain()
    (listed,) = (await client.get(url, headers=auth(key))).json()["items"]
    assert listed["email"] == "Li@xn--xample-ova.org"
    assert listed["delivery"]["status"] == "sent", listed
    (mail,) = smtp.received
    assert mail.recipients == ["Li@xn--xample-ova.org"]
    (to,) = mail.message["To"].addresses
    assert to.addr_spec == "Li@xn--xample-ova.org" and to.display_name == "李"
    # contacts and the org's own address take the same form
    contact = await client.post(
        "/orgs/me/contacts", json={"email": "wang@ëxample.org", "name": "王"}, headers=auth(key)
    )
    assert contact.json()["email"] == "wang@xn--xample-ova.org"
    patched = await client.patch(
        "/orgs/me", json={"email": "office@ëxample.org"}, headers=auth(key)
    )
    assert patched.json()["email"] == "office@xn--xample-ova.org"


async def test_non_ascii_local_part_needs_smtputf8(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    url = f"/events/{ev['id']}/invitations"

    async def delivery(address: str) -> dict[str, Any]:
        items = (await client.get(url, headers=auth(key))).json()["items"]
        return dict(next(i["delivery"] for i in items if i["email"] == address))

    # the sink, like aiosmtpd by default, does not offer SMTPUTF8: a permanent failure
    resp = await client.post(
        url, json={"invitees": [{"email": "张三@example.org", "name": "张三"}]}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text
    await worker.drain()
    failed = await delivery("张三@example.org")
    assert failed["status"] == "failed" and "SMTPUTF8" in failed["last_error"], failed
    assert smtp.received == []
    try:
        smtp.restart(smtputf8=True)
        resp = await client.post(
            url,
            json={"invitees": [{"email": "李四@example.org", "name": "李四"}]},
            headers=auth(key),
        )
        await worker.drain()
        assert (await delivery("李四@example.org"))["status"] == "sent"
        (mail,) = smtp.received
        assert mail.recipients == ["李四@example.org"]
        # the headers are UTF-8 (RFC 6532), read as a client does
        message = email.message_from_string(mail.data.decode(), policy=email.policy.default)
        (to,) = message["To"].addresses
        assert (to.display_name, to.addr_spec) == ("李四", "李四@example.org")
    finally:
        smtp.restart(smtputf8=False)


async def test_display_names_and_titles_that_look_encoded_arrive_literally(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    trick = "=?utf-8?q?Bank_=3Cceo@bank.example=3E,_x?="
    _org, key = await make_org(name=trick)
    ev = (await client.post("/events", json=event_body(title=trick), headers=auth(key))).json()
    names = [trick, "=?utf-8?b?QmFuaw==?=", "王 =?gb2312?q?x?=", "Doe, Jane"]
    invitees = [{"email": f"p{i}@x.example.org", "name": n} for i, n in enumerate(names)]
    resp = await client.post(
        f"/events/{ev['id']}/invitations", json={"invitees": invitees}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text
    await worker.drain()
    for i, name in enumerate(names):
        (mail,) = smtp.for_recipient(f"p{i}@x.example.org")
        message = mail.message  # parsed with the email package, as a client would
        (to,) = message["To"].addresses
        assert (to.display_name, to.addr_spec) == (name, f"p{i}@x.example.org")
        for header in ("From", "Reply-To"):
            (sender,) = message[header].addresses
            assert sender.display_name == trick, (header, message[header])
        assert trick in message["Subject"], message["Subject"]  # the title, also as given


async def test_lone_surrogates_and_non_utf8_text_are_a_422(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    json_type = {"Content-Type": "application/json", **auth(key)}
    invite = await client.post(
        f"/events/{ev['id']}/invitations",
        content=b'{"invitees": [{"email": "a@x.example.org", "name": "a\\udc80b"}]}',
        headers=json_type,
    )
    assert invite.status_code == 422 and _fields(invite) == ["invitees.0.name"], invite.text
    patched = await client.patch(
        f"/events/{ev['id']}", content=b'{"title": "\\ud800"}', headers=json_type
    )
    assert patched.status_code == 422 and _fields(patched) == ["title"], patched.text
    # a valid pair is one character, and welcome
    paired = await client.patch(
        f"/events/{ev['id']}", content=b'{"description": "\\ud83d\\ude00"}', headers=json_type
    )
    assert paired.status_code == 200 and paired.json()["description"] == "\U0001f600"

    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "zhang@example.org", "name": "张三"}]},
        headers=auth(key),
    )
    await worker.drain()
    page = _links(smtp, "zhang@example.org")["accepted"].split("?")[0]
    as_json = await client.post(
        page,
        content=b'{"response": "accepted", "comment": "a\\udc80b"}',
        headers={"Content-Type": "application/json"},
    )
    assert as_json.status_code == 422 and _fields(as_json) == ["comment"], as_json.text
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    as_form = await client.post(page, content="response=accepted&comment=a%ED%B2%80b", headers=form)
    assert as_form.status_code == 422 and _fields(as_form) == ["comment"], as_form.text
    latin1 = await client.post(page, content=b"response=accepted&comment=caf\xe9", headers=form)
    assert latin1.status_code == 422 and _fields(latin1) == ["comment"], latin1.text
    multipart = await client.post(
        page,
        content=b'--b\r\nContent-Disposition: form-data; name="comment"\r\n\r\n'
        b"caf\xe9\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert multipart.status_code == 422 and _fields(multipart) == ["body"], multipart.text
    (row,) = (await client.get(f"/events/{ev['id']}/invitations", headers=auth(key))).json()[
        "items"
    ]
    assert row["rsvp"] == "needs-action"  # nothing written

    for path, field in [
        ("/orgs/me/contacts?tag=a%ED%B2%80b", "tag"),
        ("/events?kind=%ED%B2%80", "kind"),
        ("/orgs/me/contacts?cursor=%FF", "cursor"),
        ("/orgs/me/contacts/a%ED%B2%80b@x.example.org", "path"),
    ]:
        resp = await client.request(
            "PATCH" if "contacts/" in path else "GET", path, json={}, headers=auth(key)
        )
        assert resp.status_code == 422 and _fields(resp) == [field], (path, resp.text)


async def test_json_bodies_must_say_they_are_json(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    body = b'{"label": "ci"}'
    for content_type in ["text/plain", None, "application/x-www-form-urlencoded",
                         "application/json; charset=latin-1"]:  # fmt: skip
        headers = auth(key) | ({"Content-Type": content_type} if content_type else {})
        resp = await client.post("/orgs/me/api-keys", content=body, headers=headers)
        assert resp.status_code == 415, (content_type, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    keys = (await client.get("/orgs/me/api-keys", headers=auth(key))).json()
    assert len(keys) == 1  # nothing created
    for content_type in ["application/json", "application/json; charset=UTF-8"]:
        resp = await client.post(
            "/orgs/me/api-keys", content=body, headers={"Content-Type": content_type, **auth(key)}
        )
        assert resp.status_code == 201, resp.text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_one_limit_and_cursor_rule_for_every_listing(
    client: Any,
    make_org: Any,
    allow_private_webhooks: Any,  # the receiver's name resolves nowhere here
) -> None:
    _org, key = await make_org()
    events = [
        (await client.post("/events", json=event_body(title=f"活动{i}"), headers=auth(key))).json()
        for i in range(2)
    ]
    ev = events[0]["id"]
    await client.post(
        f"/events/{ev}/invitations",
        json={"invitees": [{"email": f"p{i}@x.example.org"} for i in range(2)]},
        headers=auth(key),
    )
    for i in range(2):
        await client.post(
            "/orgs/me/contacts",
            json={"email": f"c{i}@x.example.org", "name": "c"},
            headers=auth(key),
        )
    hook = await client.post(
        "/webhooks",
        json={"url": "https://hooks.example.org/in", "events": ["rsvp.changed"]},
        headers=auth(key),
    )
    cursor_listings = ["/events", "/orgs/me/contacts", f"/events/{ev}/invitations"]
    listings = [*cursor_listings, f"/events/{ev}/reminders",
                f"/webhooks/{hook.json()['id']}/deliveries"]  # fmt: skip
    for url in listings:
        for limit in ["0", "1e2", "1e3", "201", "1000", "05", "5.0", "-1", "%2B5", "x", ""]:
            resp = await client.get(f"{url}?limit={limit}", headers=auth(key))
            assert resp.status_code == 422 and _fields(resp) == ["limit"], (url, limit, resp.text)
        for limit in ["1", "200"]:
            resp = await client.get(f"{url}?limit={limit}", headers=auth(key))
            assert resp.status_code == 200, (url, limit, resp.text)
    nexts = {}
    for url in cursor_listings:
        first = (await client.get(f"{url}?limit=1", headers=auth(key))).json()
        assert len(first["items"]) == 1 and first["next"], (url, first)
        nexts[url] = first["next"]
        second = await client.get(f"{url}?limit=1&cursor={first['next']}", headers=auth(key))
        assert second.status_code == 200 and len(second.json()["items"]) == 1, second.text
        assert second.json()["items"] != first["items"]
    for url in cursor_listings:
        others = [c for u, c in nexts.items() if u != url]
        for cursor in [_b64(b"{}"), _b64(b"[]"), _b64(b"1"), _b64(b'"x"'), _b64(b"p0@x.org"),
                       "%%%", "", *others]:  # fmt: skip
            resp = await client.get(f"{url}?cursor={cursor}", headers=auth(key))
            if cursor == "":
                assert resp.status_code == 200  # an empty cursor is the first page
                continue
            assert resp.status_code == 422 and _fields(resp) == ["cursor"], (url, cursor, resp.text)


async def test_the_last_api_key_is_revoked_only_when_confirmed(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    (only,) = (await client.get("/orgs/me/api-keys", headers=auth(key))).json()
    refused = await client.delete(f"/orgs/me/api-keys/{only['prefix']}", headers=auth(key))
    assert refused.status_code == 409 and "confirm_last" in refused.json()["detail"]
    assert (await client.get("/orgs/me", headers=auth(key))).status_code == 200
    created = await client.post("/orgs/me/api-keys", json={"label": "ci"}, headers=auth(key))
    second_key, second = created.json()["api_key"], created.json()["key"]
    # with another valid key, no confirmation is needed
    first_gone = await client.delete(f"/orgs/me/api-keys/{only['prefix']}", headers=auth(key))
    assert first_gone.status_code == 200 and first_gone.json()["revoked_at"]
    last = f"/orgs/me/api-keys/{second['prefix']}"
    for query in ["", "?confirm_last=false"]:
        resp = await client.delete(last + query, headers=auth(second_key))
        assert resp.status_code == 409, resp.text
    confirmed = await client.delete(last + "?confirm_last=true", headers=auth(second_key))
    assert confirmed.status_code == 200 and confirmed.json()["revoked_at"]
    assert (await client.get("/orgs/me", headers=auth(second_key))).status_code == 401


async def test_people_with_non_ascii_local_parts_are_one_person_per_address(
    client: Any, make_org: Any
) -> None:
    # Python and PostgreSQL lower-case `İ` and a final `Σ` differently; keys are Python's
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    url = f"/events/{ev['id']}/invitations"
    people = ["İpek@x.example.org", "ΣΑΣ@x.example.org"]
    first = await client.post(
        url, json={"invitees": [{"email": e} for e in people]}, headers=auth(key)
    )
    assert first.status_code == 202 and first.json()["invited"] == 2, first.text
    again = await client.post(
        url, json={"invitees": [{"email": e.lower()} for e in people]}, headers=auth(key)
    )
    assert again.json() == {"invited": 0, "already_invited": 2}
    for e in people:
        resp = await client.post(
            "/orgs/me/contacts", json={"email": e, "name": "x"}, headers=auth(key)
        )
        assert resp.status_code == 201, resp.text
    imported = await client.post(
        "/orgs/me/contacts.csv",
        content=_csv(*([e.lower(), "y"] for e in people)),
        headers={"Content-Type": "text/csv; charset=utf-8", **auth(key)},
    )
    assert imported.json() == {"created": 0, "updated": 2}, imported.text
