"""The public pages over HTTP: the reader's language, a series' schedule with moved and
cancelled sessions, what the organization page lists, and what never shows (private events,
speakers' addresses)."""

from __future__ import annotations

from typing import Any

from tests.helpers import auth, event_body


async def test_org_page_event_page_and_series_schedule(client: Any, make_org: Any) -> None:
    _org, key = await make_org(
        slug="bjswa",
        name="北京社会工作者协会",
        name_en="Beijing Social Workers Association",
        kind="city_association",
        region="北京市",
    )
    series = await client.post(
        "/events",
        json=event_body(
            kind="training",
            title="督导人才培养",
            starts_at="2027-03-11T14:00:00",
            ends_at="2027-03-11T17:00:00",
            recurrence="FREQ=WEEKLY;COUNT=6",
        ),
        headers=auth(key),
    )
    ev = series.json()
    moved = await client.patch(
        f"/events/{ev['id']}/occurrences/2027-03-18T14:00:00",
        json={"starts_at": "2027-03-19T15:00:00", "ends_at": "2027-03-19T18:00:00"},
        headers=auth(key),
    )
    assert moved.status_code == 200, moved.text
    cancelled = await client.patch(
        f"/events/{ev['id']}/occurrences/2027-04-01T14:00:00",
        json={"status": "cancelled"},
        headers=auth(key),
    )
    assert cancelled.status_code == 200, cancelled.text
    forum = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    agenda = await client.put(
        f"/events/{forum['id']}/agenda",
        json={
            "items": [
                {
                    "title": "主旨演讲",
                    "starts_at": "2027-06-10T09:30:00",
                    "ends_at": "2027-06-10T10:30:00",
                    "speakers": [{"email": "liu.jing@casw.example.org", "name": "刘京"}],
                }
            ]
        },
        headers=auth(key),
    )
    assert agenda.status_code == 200, agenda.text
    await client.post(
        "/events", json=event_body(title="内部会议", visibility="private"), headers=auth(key)
    )

    org = await client.get("/o/bjswa", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert org.status_code == 200
    assert "default-src 'none'" in org.headers["content-security-policy"]
    assert '<html lang="en">' in org.text and "Beijing Social Workers Association" in org.text
    assert "City association" in org.text and "北京市" in org.text
    assert "督导人才培养" in org.text and "第二届社会工作本色与本土论坛" in org.text
    assert "内部会议" not in org.text
    assert 'href="webcal://events.example.org/feeds/orgs/bjswa.ics"' in org.text
    assert "calendar.google.com/calendar/r?cid=webcal%3A%2F%2F" in org.text
    assert "outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2F" in org.text
    assert (await client.get("/o/nobody")).status_code == 404

    page = await client.get(f"/e/{ev['id']}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert "已改期（原定 2027-03-18 14:00）" in page.text and "2027-03-19 15:00" in page.text
    assert '<li class="occ-cancelled"><s>2027-04-01 14:00</s>' in page.text
    assert "RRULE%3AFREQ%3DWEEKLY%3BCOUNT%3D6" in page.text  # Google Calendar repeats it too
    talk = await client.get(f"/e/{forum['id']}")
    assert "主旨演讲" in talk.text and "刘京" in talk.text
    assert "liu.jing@" not in talk.text  # speakers by name only
    assert (await client.get("/e/not-an-id")).status_code == 404
    assert (await client.get("/e/00000000-0000-0000-0000-000000000000")).status_code == 404
