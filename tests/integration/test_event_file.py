"""GET /events/<id>.ics: the file every invitation links to."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from tests.helpers import auth, event_body
from tests.interop.parsers import check_all


async def test_public_event_file_needs_no_key(client: Any, make_org: Any) -> None:
    _org, key = await make_org(name="北京社会工作者协会")
    ev = (
        await client.post(
            "/events", json=event_body(recurrence="FREQ=WEEKLY;COUNT=6"), headers=auth(key)
        )
    ).json()
    resp = await client.get(f"/events/{ev['id']}.ics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/calendar; charset=utf-8"
    parsed = check_all(resp.content)
    assert parsed["method"] == "PUBLISH"
    (vevent,) = Calendar.from_ical(resp.content).walk("VEVENT")
    assert str(vevent["UID"]) == ev["uid"] and vevent["SEQUENCE"] == 0
    assert vevent["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=6"
    assert "ATTENDEE" not in vevent
    assert vevent["ORGANIZER"].params["CN"] == "北京社会工作者协会"
    etag = resp.headers["etag"]
    again = await client.get(f"/events/{ev['id']}.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    await client.patch(f"/events/{ev['id']}", json={"location": "北京"}, headers=auth(key))
    changed = await client.get(f"/events/{ev['id']}.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    await client.post(f"/events/{ev['id']}/cancel", headers=auth(key))
    cancelled = Calendar.from_ical((await client.get(f"/events/{ev['id']}.ics")).content)
    (vevent,) = cancelled.walk("VEVENT")
    assert vevent["STATUS"] == "CANCELLED" and vevent["SEQUENCE"] == 2


async def test_private_event_file_is_for_its_owner_only(client: Any, make_org: Any) -> None:
    _a, key_a = await make_org()
    _b, key_b = await make_org()
    ev = (
        await client.post("/events", json=event_body(visibility="private"), headers=auth(key_a))
    ).json()
    url = f"/events/{ev['id']}.ics"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=auth(key_b))).status_code == 404
    owner = await client.get(url, headers=auth(key_a))
    assert owner.status_code == 200 and owner.headers["cache-control"].startswith("private")
    assert (await client.get(url, headers=auth("evs_bad"))).status_code == 401


async def test_event_json_still_needs_a_key_and_bad_ids_are_404(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    assert (await client.get(f"/events/{ev['id']}")).status_code == 401
    for ref in ("nope.ics", "123", f"{ev['id']}.ics.ics", f"{ev['id']}.ICS"):
        assert (await client.get(f"/events/{ref}", headers=auth(key))).status_code == 404, ref
    for method, path in (("PATCH", f"/events/{ev['id']}.ics"), ("POST", "/events/x/cancel")):
        resp = await client.request(method, path, json={}, headers=auth(key))
        assert resp.status_code == 404, path


async def test_the_link_in_an_invitation_opens_the_event(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "a@x.example.org", "locale": "en"}]},
        headers=auth(key),
    )
    await worker.drain()
    text = smtp.received[0].message.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.endswith(".ics"))
    resp = await client.get(link.replace("https://events.example.org", ""))
    assert resp.status_code == 200 and ev["uid"].encode() in resp.content
