"""Through the API: an event whose texts spell the old recipient marker, padded so a fold falls
right after it, still gives one DTSTAMP and one ATTENDEE per VEVENT in the invitation and in
the person's feed, and its texts as written."""

from __future__ import annotations

import re
from typing import Any

from icalendar import Calendar

from tests.helpers import auth, event_body

SPOOF = "X-EVENTS-SVC-RECIPIENT:1"


def _counts(ics: bytes) -> list[tuple[int, int]]:
    """(DTSTAMP, ATTENDEE) lines of each VEVENT, after unfolding."""
    out: list[tuple[int, int]] = []
    for line in ics.replace(b"\r\n ", b"").decode().split("\r\n"):
        if line == "BEGIN:VEVENT":
            out.append((0, 0))
        elif out and line.startswith("DTSTAMP"):
            out[-1] = (out[-1][0] + 1, out[-1][1])
        elif out and line.startswith("ATTENDEE"):
            out[-1] = (out[-1][0], out[-1][1] + 1)
    return out


async def test_spoofed_marker_in_event_texts(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    # icalendar folds after 74 octets: "SUMMARY:" + 42 + 24, so the old marker's bytes (its
    # line and CRLF) appear whole; the location's line simply ends with them
    title = "x" * 42 + SPOOF + "y" * 10
    location = "z" * 41 + SPOOF
    description = "d" * 111 + SPOOF + SPOOF
    created = await client.post(
        "/events",
        json=event_body(title=title, location=location, description=description),
        headers=auth(key),
    )
    assert created.status_code == 201, created.text
    await client.post(
        f"/events/{created.json()['id']}/invitations",
        json={"invitees": [{"email": "wang.fang@example.org", "name": "王芳"}]},
        headers=auth(key),
    )
    await worker.drain()
    (mail,) = smtp.for_recipient("wang.fang@example.org")
    (part,) = [p for p in mail.message.walk() if p.get_content_type() == "text/calendar"]
    invitation = part.get_payload(decode=True)
    text = mail.message.get_body(("plain",)).get_content()
    feed_path = re.search(r"/feeds/people/[A-Za-z0-9_-]{43}\.ics", text)
    assert feed_path
    feed = (await client.get(feed_path.group(0))).content
    for ics in (invitation, feed):
        assert _counts(ics) == [(1, 1)]
        (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
        assert str(vevent["SUMMARY"]) == title
        assert str(vevent["LOCATION"]) == location
        assert str(vevent["DESCRIPTION"]).startswith(description)
        assert str(vevent["ATTENDEE"]).lower() == "mailto:wang.fang@example.org"
        assert ics.count(SPOOF.encode() + b"\r\n") >= 2  # where the old renderer split
