"""Check-in by QR code: the RSVP page shows a code that decodes to the signed check-in link;
an organizer of the event who opens it checks the person in for the session under way;
anyone else learns nothing."""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import zxingcpp

from events_svc.invitations.tables import Invitation
from events_svc.notifications.tables import Notification
from events_svc.reminders.tables import CheckinCode
from events_svc.rsvp.checkin_link import checkin_url
from events_svc.rsvp.tokens import make_token
from events_svc.sender import reminder_qr
from events_svc.sender import service as sender
from tests.console.helpers import session_for
from tests.helpers import auth, event_body


class _Gray:
    """A grayscale image for zxing-cpp (its buffer interface, without numpy)."""

    def __init__(self, data: bytes, height: int, width: int) -> None:
        self.__array_interface__ = {
            "shape": (height, width),
            "typestr": "|u1",
            "data": data,
            "version": 3,
        }


def decode_svg_qr(svg: str) -> list[str]:
    """Draw the code of the page's inline SVG (segno's path: M, m and h commands) and let
    zxing-cpp read it, as a phone camera would."""
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg) or re.search(
        r'd="([^"]+)"[^>]*class="qrline"', svg
    )
    assert path, svg[:300]
    size = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1)) // 4
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for cmd, args in re.findall(r"([MmHhVv])([-0-9. ]+)", path.group(1)):
        nums = [float(v) for v in args.split()]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        elif cmd == "h":
            for i in range(int(nums[0])):
                dark.add((int(x) + i, int(y)))
            x += nums[0]
    scale = 6
    side = size * scale
    pixels = bytearray([255]) * (side * side)
    for mx, my in dark:
        for dy in range(scale):
            start = (my * scale + dy) * side + mx * scale
            pixels[start : start + scale] = bytes(scale)
    return [r.text for r in zxingcpp.read_barcodes(_Gray(bytes(pixels), side, side))]


def decode_png_qr(png: bytes) -> list[str]:
    """Read a 1-bit greyscale or palette PNG (what segno writes) into grey pixels and let
    zxing-cpp read it."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, palette = 8, b"", b""
    width = height = depth = colour = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, chunk = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"PLTE":
            palette = chunk
        elif kind == b"IDAT":
            data += chunk
    assert depth == 1 and colour in (0, 3), (depth, colour)
    raw = zlib.decompress(data)
    stride = (width + 7) // 8
    pixels = bytearray()
    previous = bytes(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):  # the PNG row filters, one byte a pixel group
            left, up = line[i - 1] if i else 0, previous[i]
            corner = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 255
        previous = bytes(line)
        for x in range(width):
            bit = (line[x // 8] >> (7 - x % 8)) & 1
            pixels.append(palette[bit * 3] if colour == 3 else 255 * bit)
    return [r.text for r in zxingcpp.read_barcodes(_Gray(bytes(pixels), height, width))]


async def _training_now(client: Any, key: str) -> dict[str, Any]:
    start = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    start -= timedelta(minutes=10)
    body = event_body(
        kind="training",
        title="督导实务培训",
        starts_at=start.strftime("%Y-%m-%dT%H:%M:%S"),
        ends_at=(start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    resp = await client.post("/events", json=body, headers=auth(key))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def test_qr_code_checks_in_for_organizers_only(client, make_org, app):
    org, key = await make_org()
    other, _ = await make_org()
    event = await _training_now(client, key)
    invited = await client.post(
        f"/events/{event['id']}/invitations",
        json={"invitees": [{"email": "chen@agency.example.org", "name": "陈社工"}]},
        headers=auth(key),
    )
    assert invited.status_code == 202, invited.text
    (inv,) = await Invitation.select(Invitation.id, Invitation.generation)
    secret = app.state.settings.secret_key
    page = await client.get(f"/rsvp/{make_token(secret, inv['id'], inv['generation'])}")
    assert page.status_code == 200 and 'id="check-in-qr"' in page.text
    (url,) = decode_svg_qr(page.text.split('id="check-in-qr"', 1)[1])
    assert url.startswith("https://events.example.org/check-in/")
    path = url.removeprefix("https://events.example.org")

    # nobody signed in: a page that names nobody
    anonymous = await client.get(path)
    assert anonymous.status_code == 200 and 'data-outcome="nothing"' in anonymous.text
    assert "陈社工" not in anonymous.text and "chen@" not in anonymous.text

    # an organizer of another organization: the same nothing, as a 404
    stranger = await session_for(app, org_id=uuid.UUID(other["id"]), email=other["email"])
    client.cookies.set("console_session", stranger["cookie"], domain="events.example.org")
    refused = await client.get(path)
    assert refused.status_code == 404 and "陈社工" not in refused.text

    # the host's organizer: checked in for the session under way, once
    host = await session_for(app, org_id=uuid.UUID(org["id"]), email=org["email"])
    client.cookies.set("console_session", host["cookie"], domain="events.example.org")
    done = await client.get(path)
    assert done.status_code == 200 and 'data-outcome="recorded"' in done.text
    assert "陈社工" in done.text and event["starts_at"][11:16] in done.text
    again = await client.get(path)
    assert 'data-outcome="already"' in again.text
    forged = await client.get(path[:-4] + "AAAA")
    assert forged.status_code == 404 and 'data-outcome="nothing"' in forged.text
    client.cookies.delete("console_session")
    sheet = await client.get(f"/events/{event['id']}/completion", headers=auth(key))
    assert sheet.status_code == 200, sheet.text
    assert sheet.json()["people"][0]["attended"] == 1


async def test_qr_code_checks_in_at_a_forum(client, make_org, app):
    """Not a training: the check-in is recorded (no course, no certificate) and the
    attendance list and CSV say who came."""
    org, key = await make_org()
    start = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    body = event_body(
        starts_at=(start - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
        ends_at=(start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    event = (await client.post("/events", json=body, headers=auth(key))).json()
    await client.post(
        f"/events/{event['id']}/invitations",
        json={"invitees": [{"email": "zhou@agency.example.org", "name": "周社工"}]},
        headers=auth(key),
    )
    (inv,) = await Invitation.select(Invitation.id, Invitation.generation)
    secret = app.state.settings.secret_key
    page = await client.get(f"/rsvp/{make_token(secret, inv['id'], inv['generation'])}")
    (url,) = decode_svg_qr(page.text.split('id="check-in-qr"', 1)[1])
    host = await session_for(app, org_id=uuid.UUID(org["id"]), email=org["email"])
    client.cookies.set("console_session", host["cookie"], domain="events.example.org")
    done = await client.get(url.removeprefix("https://events.example.org"))
    assert 'data-outcome="recorded"' in done.text and "周社工" in done.text
    client.cookies.delete("console_session")
    attendance = (await client.get(f"/events/{event['id']}/attendance", headers=auth(key))).json()
    assert attendance["people"][0]["checked_in"] is True
    csv = await client.get(f"/events/{event['id']}/attendance.csv", headers=auth(key))
    assert csv.content.decode("utf-8-sig").splitlines()[1].endswith(",yes")


async def test_a_reminder_shows_the_check_in_qr_code_as_an_image(
    client: Any, make_org: Any, settings: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    ev = (
        await client.post(
            "/events", json=event_body(reminders=[{"before": "PT1H"}]), headers=auth(key)
        )
    ).json()
    invited = await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "chen@agency.example.org", "name": "陈社工"}]},
        headers=auth(key),
    )
    assert invited.status_code == 202, invited.text
    await Notification.update({Notification.status: "sent"}).where(
        Notification.kind == "invitation"
    )
    (row,) = await Notification.select(Notification.id).where(Notification.kind == "reminder")
    start = datetime(2027, 6, 10, 1, 30, tzinfo=UTC)  # event_body's 09:30 in Shanghai
    done = await sender.deliver(
        notification_id=row["id"],
        settings=settings,
        smtp=worker.smtp,
        now=start - timedelta(minutes=50),
    )
    assert done.status == "sent" and len(smtp.received) == 1
    msg = smtp.received[0].message
    assert msg["X-Notification-Kind"] == "reminder"
    # no calendar in a reminder: text, then the HTML with its image
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == [
        "text/plain",
        "multipart/related",
    ]
    html = msg.get_body(("html",)).get_content()
    (cid,) = re.findall(r'<img src="cid:([^"]+)"', html)
    (image,) = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == f"<{cid}>"
    # the link to the RSVP page stays, in both bodies
    assert "#check-in-qr" in html and "#check-in-qr" in msg.get_body(("plain",)).get_content()
    (inv,) = await Invitation.select(Invitation.id)
    expected = checkin_url(settings.public_base_url, settings.secret_key, inv["id"])
    assert decode_png_qr(image.get_content()) == [expected]


async def test_reminder_codes_are_rendered_ahead_and_carried_as_stored(
    client: Any, make_org: Any, settings: Any, smtp: Any, worker: Any
) -> None:
    """The codes of reminders due within the hour are rendered ahead; a reminder carries the
    stored image, unless it encodes another URL (a new SECRET_KEY): then one made now."""
    _org, key = await make_org()
    ev = (
        await client.post(
            "/events", json=event_body(reminders=[{"before": "PT1H"}]), headers=auth(key)
        )
    ).json()
    emails = ["chen@agency.example.org", "li@agency.example.org"]
    invited = await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": e} for e in emails]},
        headers=auth(key),
    )
    assert invited.status_code == 202, invited.text
    await Notification.update({Notification.status: "sent"}).where(
        Notification.kind == "invitation"
    )
    start = datetime(2027, 6, 10, 1, 30, tzinfo=UTC)  # event_body's 09:30 in Shanghai
    # due at start - 1 h: not yet within the hour two hours before the start
    assert (
        await reminder_qr.prepare(settings=settings, now=start - timedelta(hours=2, minutes=1)) == 0
    )
    assert await reminder_qr.prepare(settings=settings, now=start - timedelta(minutes=90)) == 2
    assert await reminder_qr.prepare(settings=settings, now=start - timedelta(minutes=90)) == 0
    urls = {
        r["email"]: checkin_url(settings.public_base_url, settings.secret_key, r["id"])
        for r in await Invitation.raw(
            "SELECT i.id, p.email FROM invitation i JOIN person p ON p.id = i.person"
        )
    }
    codes = {
        r["email"]: bytes(r["png"])
        for r in await CheckinCode.raw(
            "SELECT c.png, p.email FROM checkin_code c JOIN invitation i ON i.id = c.invitation"
            " JOIN person p ON p.id = i.person"
        )
    }
    for email in emails:
        assert decode_png_qr(codes[email]) == [urls[email]]
    # Li's code was made under another secret: it encodes a URL that no longer checks in
    await CheckinCode.raw(
        "UPDATE checkin_code SET digest = {} WHERE invitation = (SELECT i.id FROM invitation i"
        " JOIN person p ON p.id = i.person WHERE p.email = {})",
        "0" * 64,
        emails[1],
    )
    rows = await Notification.select(Notification.id).where(Notification.kind == "reminder")
    outcomes, blocked = await sender.deliver_many(
        notification_ids=[r["id"] for r in rows],
        settings=settings,
        smtp=worker.smtp,
        now=start - timedelta(minutes=50),
    )
    assert [o.status for o in outcomes] == ["sent", "sent"] and blocked == []
    images = {}
    for received in smtp.received:
        msg = received.message
        (image,) = [p for p in msg.walk() if p.get_content_type() == "image/png"]
        images[msg["To"].addresses[0].addr_spec] = image.get_content()
    assert images[emails[0]] == codes[emails[0]]
    assert decode_png_qr(images[emails[1]]) == [urls[emails[1]]]
