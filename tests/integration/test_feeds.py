"""Calendar feeds: an organization's public events and each person's invitations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from events_svc.events.tables import Event
from tests.helpers import auth, event_body
from tests.interop.parsers import check_all, expand

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _vevents(ics: bytes) -> list[Any]:
    return list(Calendar.from_ical(ics).walk("VEVENT"))


async def _event(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/events", json=event_body(**overrides), headers=auth(key))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_org_feed_lists_public_events_and_keeps_cancelled_ones(
    client: Any, make_org: Any
) -> None:
    _org, key = await make_org(slug="bjswa", name="北京社会工作者协会")
    forum = await _event(client, key)
    course = await _event(
        client,
        key,
        kind="training",
        title="督导人才培养",
        starts_at="2027-03-04T14:00:00",
        ends_at="2027-03-04T17:00:00",
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    await _event(client, key, title="内部会议", visibility="private")
    berlin = await _event(
        client, key, title="Exchange visit", timezone="Europe/Berlin", kind="exchange_visit"
    )
    cancelled = await _event(client, key, title="取消的座谈会", kind="meeting")
    await client.post(f"/events/{cancelled['id']}/cancel", headers=auth(key))

    resp = await client.get("/feeds/orgs/bjswa.ics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/calendar; charset=utf-8"
    assert resp.headers["cache-control"].startswith("public")
    parsed = check_all(resp.content)
    assert parsed["method"] == "PUBLISH"
    cal = Calendar.from_ical(resp.content)
    assert str(cal["X-WR-CALNAME"]) == "北京社会工作者协会"
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Shanghai"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in resp.content
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in resp.content
    assert {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")} == {"Asia/Shanghai", "Europe/Berlin"}
    by_uid = {str(v["UID"]): v for v in cal.walk("VEVENT")}
    # private events never appear; UID and SEQUENCE are the ones the e-mails carry
    assert set(by_uid) == {forum["uid"], course["uid"], berlin["uid"], cancelled["uid"]}
    assert by_uid[cancelled["uid"]]["STATUS"] == "CANCELLED"
    assert by_uid[cancelled["uid"]]["SEQUENCE"] == 1
    assert by_uid[forum["uid"]]["SEQUENCE"] == 0
    assert "ATTENDEE" not in by_uid[forum["uid"]]
    assert b"X-EVENTS-SVC" not in resp.content

    # the six-session course expands to six occurrences at 14:00 Shanghai time
    window = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
    sessions = [o for o in expand(resp.content, *window) if o["uid"] == course["uid"]]
    assert [o["start_utc"].astimezone(SHANGHAI).strftime("%m-%d %H:%M") for o in sessions] == [
        "03-04 14:00",
        "03-11 14:00",
        "03-18 14:00",
        "03-25 14:00",
        "04-01 14:00",
        "04-08 14:00",
    ]

    only = await client.get("/feeds/orgs/bjswa.ics?kind=training&kind=meeting")
    assert {str(v["UID"]) for v in _vevents(only.content)} == {course["uid"], cancelled["uid"]}


async def test_feeds_drop_old_events_and_long_cancelled_ones(client: Any, make_org: Any) -> None:
    _org, key = await make_org(slug="gdswa")
    old = await _event(client, key, title="去年的交流")
    gone = await _event(client, key, title="早已取消")
    await client.post(f"/events/{gone['id']}/cancel", headers=auth(key))
    kept = await _event(client, key, title="下月论坛")
    long_ago = datetime.now(UTC) - timedelta(days=120)
    await Event.raw(
        "UPDATE event SET starts_at_utc = {}, ends_at_utc = {}, series_ends_at_utc = {}"
        " WHERE id = {}",
        long_ago,
        long_ago + timedelta(hours=2),
        long_ago + timedelta(hours=2),
        old["id"],
    )
    await Event.raw(
        "UPDATE event SET updated_at = {} WHERE id = {}",
        datetime.now(UTC) - timedelta(days=31),
        gone["id"],
    )
    feed = await client.get("/feeds/orgs/gdswa.ics")
    assert {str(v["UID"]) for v in _vevents(feed.content)} == {kept["uid"]}


async def test_feed_caching_etag_last_modified_head_gzip(client: Any, make_org: Any) -> None:
    _org, key = await make_org(slug="casw", name="中国社会工作联合会")
    ev = await _event(client, key)
    url = "/feeds/orgs/casw.ics"
    client.headers["Accept-Encoding"] = "identity"  # gzip is checked on its own below
    first = await client.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong
    plain = {"Accept-Encoding": "identity"}
    assert (await client.get(url, headers=plain)).headers["etag"] == etag  # stable

    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert (await client.get(url, headers={"If-None-Match": f'"x", W/{etag}'})).status_code == 304
    since = await client.get(url, headers={"If-Modified-Since": last_modified})
    assert since.status_code == 304
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert (await client.get(url, headers={"If-Modified-Since": earlier})).status_code == 200
    bogus = await client.get(url, headers={"If-Modified-Since": "yesterday"})
    assert bogus.status_code == 200

    head = await client.head(url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(first.content)
    assert head.headers["etag"] == etag

    zipped = await client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == first.content  # httpx decodes it
    assert zipped.headers["etag"] != etag  # a strong tag per representation
    raw = await client.get(url, headers={"If-None-Match": zipped.headers["etag"]})
    assert raw.status_code == 304

    # any change to an event in the feed changes the ETag
    await client.patch(f"/events/{ev['id']}", json={"description": "新的说明"}, headers=auth(key))
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "新的说明" in str(_vevents(changed.content)[0]["DESCRIPTION"])
    # ... and so does a new event, or a renamed organization
    etag = changed.headers["etag"]
    await _event(client, key, title="新活动")
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 200
    etag = (await client.get(url, headers=plain)).headers["etag"]
    await client.patch("/orgs/me", json={"name": "中国社会工作联合会（新）"}, headers=auth(key))
    renamed = await client.get(url, headers={"If-None-Match": etag})
    assert renamed.status_code == 200
    assert str(Calendar.from_ical(renamed.content)["X-WR-CALNAME"]) == "中国社会工作联合会（新）"


async def test_personal_feed_from_the_invitation_email(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _a, key_a = await make_org(slug="bjswa", name="北京社会工作者协会")
    _b, key_b = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    forum = await _event(client, key_a)
    private = await _event(client, key_b, title="理事会", visibility="private", kind="meeting")
    other = await _event(client, key_a, title="别人的活动")
    await client.post(
        f"/events/{forum['id']}/invitations",
        json={"invitees": [{"email": "Wang.Fang@Example.org", "name": "王芳", "role": "chair"}]},
        headers=auth(key_a),
    )
    await client.post(
        f"/events/{private['id']}/invitations",
        json={"invitees": [{"email": "wang.fang@example.org"}]},
        headers=auth(key_b),
    )
    await client.post(
        f"/events/{other['id']}/invitations",
        json={"invitees": [{"email": "li.lei@example.org"}]},
        headers=auth(key_a),
    )
    await worker.drain()
    (mail, *_rest) = smtp.for_recipient("Wang.Fang@Example.org")
    text = mail.message.get_body(("plain",)).get_content()
    https = re.search(r"https://events\.example\.org/feeds/people/[A-Za-z0-9_-]{43}\.ics", text)
    webcal = re.search(r"webcal://events\.example\.org/feeds/people/[A-Za-z0-9_-]{43}\.ics", text)
    assert https and webcal and https.group(0)[8:] == webcal.group(0)[9:]
    html = mail.message.get_body(("html",)).get_content()
    assert https.group(0) in html and webcal.group(0) in html
    url = https.group(0).removeprefix("https://events.example.org")

    resp = await client.get(url)
    assert resp.status_code == 200
    assert resp.headers["cache-control"].startswith("private")
    check_all(resp.content)
    cal = Calendar.from_ical(resp.content)
    assert str(cal["X-WR-CALNAME"]) == "王芳"
    by_uid = {str(v["UID"]): v for v in cal.walk("VEVENT")}
    assert set(by_uid) == {forum["uid"], private["uid"]}  # private: she is invited
    (me,) = [by_uid[forum["uid"]]["ATTENDEE"]]
    assert str(me).lower() == "mailto:wang.fang@example.org"
    assert me.params["PARTSTAT"] == "NEEDS-ACTION" and me.params["ROLE"] == "CHAIR"
    assert by_uid[private["uid"]]["ORGANIZER"].params["CN"] == "广东省社会工作师联合会"

    # un-invited: the event leaves her feed
    etag = resp.headers["etag"]
    await client.delete(
        f"/events/{private['id']}/invitations/wang.fang@example.org", headers=auth(key_b)
    )
    after = await client.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert {str(v["UID"]) for v in _vevents(after.content)} == {forum["uid"]}

    # no organizer can give her link a new address: the feed holds other organizations'
    # invitations too, and she subscribed to it from their mails (her own act: test_feed_link)
    rotate = "/people/wang.fang@example.org/feed-token/rotate"
    for headers in (auth(key_a), auth(key_b), {}):
        assert (await client.post(rotate, headers=headers)).status_code in (404, 405)
    assert (await client.get(url)).status_code == 200
    await worker.drain()
    kinds = [m.message["X-Notification-Kind"] for m in smtp.for_recipient("wang.fang@example.org")]
    assert "feed-link" not in kinds


async def test_feed_bad_requests(client: Any, make_org: Any) -> None:
    await make_org(slug="bjswa")
    for url in (
        "/feeds/orgs/unknown.ics",
        "/feeds/orgs/bjswa",
        "/feeds/orgs/.ics",
        "/feeds/people/short.ics",
        "/feeds/people/" + "A" * 43 + ".ics",
    ):
        resp = await client.get(url)
        assert resp.status_code == 404, url
        assert resp.headers["content-type"] == "application/problem+json"
    nul = await client.get("/feeds/people/" + "A" * 42 + "%00.ics")
    assert nul.status_code == 422 and nul.headers["content-type"] == "application/problem+json"
    bad = await client.get("/feeds/orgs/bjswa.ics?kind=party")
    assert bad.status_code == 422
    assert "kind" in bad.text
    assert (await client.post("/feeds/orgs/bjswa.ics")).status_code == 405
