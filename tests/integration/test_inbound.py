"""Replies from calendar clients end to end: raw messages posted to /inbound/email (and sent to
`events-svc inbound-smtp`) change the answers in the database, or are refused with a 4xx."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiosmtplib
import httpx
import pytest

from events_svc.inbound.parser import MAX_MESSAGE_BYTES
from events_svc.invitations.tables import Invitation, OccurrenceAnswer
from tests.conftest import INBOUND_TOKEN
from tests.helpers import auth, event_body, reply_address_for
from tests.inbound_messages import (
    apple_reply,
    bare_calendar_message,
    forwarded,
    gmail_reply,
    outlook_ics,
    outlook_reply,
    thunderbird_reply,
)
from tests.unit.test_inbound_parser import HOSTILE, _junk

INVITEES = [
    {"email": "Zhang.San@bjswa.example.org", "name": "张三", "role": "chair"},
    {"email": "li.si@gdswa.example.org", "name": "李四"},
    {"email": "wang.wu@icloud.example.com", "name": "王五"},
    {"email": "Jane.Doe@partner.example.org", "name": "Jane Doe", "locale": "en"},
    {"email": "li.zhe@gdswa.example.org", "name": "李喆"},
]
RFC822 = {"Content-Type": "message/rfc822"}


def inbound_headers(token: str = INBOUND_TOKEN, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **RFC822, **extra}


async def post_message(
    client: Any, raw: bytes, *, recipient: str | None = None, **headers: str
) -> httpx.Response:
    response: httpx.Response = await client.post(
        "/inbound/email",
        content=raw,
        headers=inbound_headers(**headers),
        params={"recipient": recipient} if recipient is not None else None,
    )
    return response


async def to(event: dict[str, Any], email: str) -> str:
    """The reply address in that person's invitation, which their calendar client answers."""
    return await reply_address_for(event["id"], email)


APPLIED = {"replies": 1, "applied": 1, "ignored": [], "held": []}


async def _event(client: Any, key: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/events", json=event_body(**overrides), headers=auth(key))
    assert resp.status_code == 201, resp.text
    event: dict[str, Any] = resp.json()
    resp = await client.post(
        f"/events/{event['id']}/invitations", json={"invitees": INVITEES}, headers=auth(key)
    )
    assert resp.status_code == 202, resp.text
    return event


@pytest.fixture
async def forum(client: Any, make_org: Any) -> AsyncIterator[tuple[dict[str, Any], str]]:
    _org, key = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    yield await _event(client, key), key


@pytest.fixture
async def course(client: Any, make_org: Any) -> AsyncIterator[tuple[dict[str, Any], str]]:
    """A weekly series from 2027-03-04 14:00 Asia/Shanghai: 03-18 is its third occurrence."""
    _org, key = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    event = await _event(
        client,
        key,
        kind="training",
        title="督导人才培养",
        starts_at="2027-03-04T14:00:00",
        ends_at="2027-03-04T17:00:00",
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    yield event, key


async def people(client: Any, key: str, event_id: str) -> dict[str, dict[str, Any]]:
    """The attendance view, by lower-cased e-mail."""
    resp = await client.get(f"/events/{event_id}/attendance", headers=auth(key))
    assert resp.status_code == 200, resp.text
    return {p["email"].lower(): p for p in resp.json()["people"]}


def assert_problem(resp: httpx.Response, status: int, detail: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == status and problem["type"].startswith("https://")
    if detail is not None:
        assert detail in problem["detail"], problem


# --- answers applied ---------------------------------------------------------------------


async def test_every_clients_reply_is_applied(client: Any, forum: Any) -> None:
    event, key = forum
    uid = event["uid"]
    messages = [
        # Outlook: uppercase MAILTO and an address in another case than the invitation's
        outlook_reply(
            uid=uid,
            attendee="ZHANG.SAN@BJSWA.EXAMPLE.ORG",
            mailto="MAILTO",
            comment="我会准时参加\\, 谢谢。",
            to=await to(event, "zhang.san@bjswa.example.org"),
        ),
        gmail_reply(
            uid=uid,
            attendee="li.si@gdswa.example.org",
            name="李四",
            to=await to(event, "li.si@gdswa.example.org"),
        ),
        apple_reply(
            uid=uid,
            attendee="wang.wu@icloud.example.com",
            comment="那周在北京开会",
            to=await to(event, "wang.wu@icloud.example.com"),
        ),
        thunderbird_reply(
            uid=uid,
            attendee="jane.doe@partner.example.org",
            comment="I may be late",
            to=await to(event, "jane.doe@partner.example.org"),
        ),
        outlook_reply(
            uid=uid,
            attendee="li.zhe@gdswa.example.org",
            charset="gb2312",
            cn="李喆",
            partstat="DECLINED",
            comment="抱歉，那天出差（喆）。",
            to=await to(event, "li.zhe@gdswa.example.org"),
        ),
    ]
    for raw in messages:
        resp = await post_message(client, raw)
        assert resp.status_code == 200, resp.text
        assert resp.json() == APPLIED
    answers = await people(client, key, event["id"])
    got = {email: (p["rsvp"], p["comment"], p["source"]) for email, p in answers.items()}
    assert got == {
        "zhang.san@bjswa.example.org": ("accepted", "我会准时参加, 谢谢。", "email"),
        "li.si@gdswa.example.org": ("accepted", "", "email"),
        "wang.wu@icloud.example.com": ("declined", "那周在北京开会", "email"),
        "jane.doe@partner.example.org": ("tentative", "I may be late", "email"),
        "li.zhe@gdswa.example.org": ("declined", "抱歉，那天出差（喆）。", "email"),
    }
    assert all(p["responded_at"] for p in answers.values())


async def test_a_forwarded_reply_counts_and_a_new_answer_replaces_the_old(
    client: Any, forum: Any
) -> None:
    event, key = forum
    address = await to(event, "jane.doe@partner.example.org")
    first = thunderbird_reply(uid=event["uid"], attendee="Jane.Doe@partner.example.org")
    assert (await post_message(client, forwarded(first, to=address))).json()["applied"] == 1
    again = thunderbird_reply(
        uid=event["uid"], attendee="Jane.Doe@partner.example.org", partstat="ACCEPTED", to=address
    )
    assert (await post_message(client, again)).json()["applied"] == 1
    assert (await people(client, key, event["id"]))["jane.doe@partner.example.org"][
        "rsvp"
    ] == "accepted"


# --- answers ignored -----------------------------------------------------------------------


async def test_unknown_uid_and_people_not_invited_are_ignored_and_logged(
    client: Any, forum: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event, key = forum
    caplog.set_level(logging.INFO, logger="events_svc.inbound")
    resp = await post_message(
        client,
        outlook_reply(uid="no-such-uid@elsewhere.example", attendee="li.si@gdswa.example.org"),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "replies": 1,
        "applied": 0,
        "ignored": [
            {
                "uid": "no-such-uid@elsewhere.example",
                "attendee": "li.si@gdswa.example.org",
                "reason": "unknown UID",
            }
        ],
        "held": [],
    }
    resp = await post_message(client, gmail_reply(uid=event["uid"], attendee="gatecrasher@x.org"))
    assert resp.json()["ignored"] == [
        {"uid": event["uid"], "attendee": "gatecrasher@x.org", "reason": "attendee not invited"}
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "events_svc.inbound"]
    assert any("unknown UID" in m and "no-such-uid@elsewhere.example" in m for m in logged)
    assert any("attendee not invited" in m and "gatecrasher@x.org" in m for m in logged)
    assert all(
        p["rsvp"] == "needs-action" for p in (await people(client, key, event["id"])).values()
    )


async def test_an_older_sequence_is_ignored(client: Any, forum: Any) -> None:
    event, key = forum
    uid, who = event["uid"], "zhang.san@bjswa.example.org"
    for place in ("广州市天河区", "广州市越秀区"):  # two moves: the update sent is SEQUENCE 2
        moved = await client.patch(
            f"/events/{event['id']}", json={"location": place}, headers=auth(key)
        )
        assert moved.status_code == 200, moved.text
    address = await to(event, who)
    resp = await post_message(client, outlook_reply(uid=uid, attendee=who, sequence=2, to=address))
    assert resp.json()["applied"] == 1
    late = outlook_reply(uid=uid, attendee=who, sequence=1, partstat="DECLINED", to=address)
    resp = await post_message(client, late)
    assert resp.json()["ignored"] == [
        {"uid": uid, "attendee": who, "reason": "SEQUENCE 1 is older than 2"}
    ]
    assert (await people(client, key, event["id"]))[who]["rsvp"] == "accepted"
    # the same SEQUENCE again is a change of mind, not an old message
    same = outlook_reply(uid=uid, attendee=who, sequence=2, partstat="TENTATIVE", to=address)
    assert (await post_message(client, same)).json()["applied"] == 1
    assert (await people(client, key, event["id"]))[who]["rsvp"] == "tentative"


async def test_a_reply_to_a_cancelled_event_is_ignored(client: Any, forum: Any) -> None:
    event, key = forum
    resp = await client.post(f"/events/{event['id']}/cancel", headers=auth(key))
    assert resp.status_code == 200, resp.text
    resp = await post_message(
        client, gmail_reply(uid=event["uid"], attendee="li.si@gdswa.example.org")
    )
    assert resp.json()["ignored"][0]["reason"] == "event cancelled"


# --- one occurrence of a series ----------------------------------------------------------


async def test_an_answer_for_one_occurrence_is_stored_for_it_alone(
    client: Any, course: Any
) -> None:
    event, key = course
    uid = event["uid"]
    messages = [
        # the same occurrence, named with Asia/Shanghai, in UTC and with Outlook's Windows zone
        apple_reply(
            uid=uid,
            attendee="wang.wu@icloud.example.com",
            recurrence_id="20270318T140000",
            to=await to(event, "wang.wu@icloud.example.com"),
        ),
        gmail_reply(
            uid=uid,
            attendee="li.si@gdswa.example.org",
            partstat="DECLINED",
            recurrence_id_utc="20270318T060000Z",
            to=await to(event, "li.si@gdswa.example.org"),
        ),
        outlook_reply(
            uid=uid,
            attendee="zhang.san@bjswa.example.org",
            partstat="TENTATIVE",
            recurrence_id="20270318T140000",
            to=await to(event, "zhang.san@bjswa.example.org"),
        ),
        thunderbird_reply(
            uid=uid,
            attendee="jane.doe@partner.example.org",
            partstat="ACCEPTED",
            recurrence_id="20270318T140000",
            to=await to(event, "jane.doe@partner.example.org"),
        ),
    ]
    for raw in messages:
        resp = await post_message(client, raw)
        assert resp.json() == APPLIED, resp.text
    answers = await people(client, key, event["id"])
    occurrence = {
        email: [(o["occurrence"], o["rsvp"]) for o in p["occurrences"]]
        for email, p in answers.items()
    }
    assert occurrence == {
        "wang.wu@icloud.example.com": [("2027-03-18T14:00:00", "declined")],
        "li.si@gdswa.example.org": [("2027-03-18T14:00:00", "declined")],
        "zhang.san@bjswa.example.org": [("2027-03-18T14:00:00", "tentative")],
        "jane.doe@partner.example.org": [("2027-03-18T14:00:00", "accepted")],
        "li.zhe@gdswa.example.org": [],
    }
    # the answer to the series itself is untouched
    assert {p["rsvp"] for p in answers.values()} == {"needs-action"}
    rows = await OccurrenceAnswer.select(OccurrenceAnswer.recurrence_id)
    assert {r["recurrence_id"] for r in rows} == {datetime(2027, 3, 18, 14, 0)}
    invitations = await Invitation.select(Invitation.rsvp)
    assert {r["rsvp"] for r in invitations} == {"needs-action"}


async def test_a_recurrence_id_that_is_no_occurrence_is_ignored(client: Any, course: Any) -> None:
    event, _key = course
    raw = apple_reply(
        uid=event["uid"], attendee="wang.wu@icloud.example.com", recurrence_id="20270319T140000"
    )
    resp = await post_message(client, raw)
    assert resp.json()["ignored"][0]["reason"] == "RECURRENCE-ID is not an occurrence of the series"
    assert await OccurrenceAnswer.count() == 0


async def test_a_series_answer_with_an_override_applies_both(client: Any, course: Any) -> None:
    event, key = course
    raw = outlook_reply(
        uid=event["uid"],
        attendee="zhang.san@bjswa.example.org",
        overrides=[("20270318T140000", "DECLINED")],
        to=await to(event, "zhang.san@bjswa.example.org"),
    )
    resp = await post_message(client, raw)
    assert resp.json() == {"replies": 2, "applied": 2, "ignored": [], "held": []}
    me = (await people(client, key, event["id"]))["zhang.san@bjswa.example.org"]
    assert me["rsvp"] == "accepted"
    assert [(o["occurrence"], o["rsvp"]) for o in me["occurrences"]] == [
        ("2027-03-18T14:00:00", "declined")
    ]


async def test_a_broken_second_vevent_leaves_nothing_half_applied(client: Any, course: Any) -> None:
    event, key = course
    calendar = outlook_ics(
        uid=event["uid"],
        attendee="zhang.san@bjswa.example.org",
        overrides=[("20270318T140000", "DECLINED")],
    )
    # the override's RECURRENCE-ID is garbled: the whole message is refused
    broken = calendar.replace(
        "RECURRENCE-ID;TZID=China Standard Time:20270318T140000",
        "RECURRENCE-ID;TZID=China Standard Time:2027-03-18 afternoon",
    )
    resp = await post_message(client, bare_calendar_message(broken))
    assert_problem(resp, 422, "RECURRENCE-ID")
    me = (await people(client, key, event["id"]))["zhang.san@bjswa.example.org"]
    assert (me["rsvp"], me["occurrences"]) == ("needs-action", [])


# --- refused ---------------------------------------------------------------------------------


async def test_what_is_no_reply_gets_a_422_naming_the_problem(client: Any, forum: Any) -> None:
    event, key = forum
    request = outlook_ics(uid=event["uid"], attendee="li.si@gdswa.example.org").replace(
        "METHOD:REPLY", "METHOD:REQUEST"
    )
    cases = [
        (bare_calendar_message(request), "METHOD is REQUEST, not REPLY"),
        (b"just some bytes, not an e-mail", "not an e-mail message"),
        (
            b"From: li.si@gdswa.example.org\r\nSubject: hello\r\n\r\nSee you!\r\n",
            "no text/calendar part",
        ),
        (bare_calendar_message("not a calendar at all"), "not iCalendar"),
        (
            bare_calendar_message(
                "BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nEND:VCALENDAR\n"
            ),
            "has no ATTENDEE",
        ),
    ]
    for raw, detail in cases:
        assert_problem(await post_message(client, raw), 422, detail)
    assert {p["rsvp"] for p in (await people(client, key, event["id"])).values()} == {
        "needs-action"
    }


async def test_the_token_is_required(client: Any, forum: Any) -> None:
    event, _key = forum
    raw = gmail_reply(uid=event["uid"], attendee="li.si@gdswa.example.org")
    for headers in (
        RFC822,
        {**RFC822, "Authorization": "Bearer wrong-token-0123456789"},
        {**RFC822, "Authorization": f"Basic {INBOUND_TOKEN}"},
        {**RFC822, "Authorization": f"Bearer {INBOUND_TOKEN}x"},
    ):
        resp = await client.post("/inbound/email", content=raw, headers=headers)
        assert_problem(resp, 401)
        assert resp.headers["www-authenticate"].startswith("Bearer")
    assert await Invitation.count().where(Invitation.rsvp != "needs-action") == 0


async def test_unset_token_means_no_endpoint(settings: Any) -> None:
    from events_svc.app import create_app

    # the token is checked before anything touches the database, so no lifespan is needed
    app = create_app(replace(settings, inbound_token=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://e.example.org") as c:
        resp = await c.post("/inbound/email", content=b"x", headers=inbound_headers())
    assert_problem(resp, 404, "INBOUND_TOKEN is not set")


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x", None]
)
async def test_other_media_types_get_415(client: Any, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {INBOUND_TOKEN}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    resp = await client.post("/inbound/email", content=b"From: a@b\r\n\r\nx", headers=headers)
    assert_problem(resp, 415, "message/rfc822")


async def test_message_global_and_parameters_are_accepted(client: Any, forum: Any) -> None:
    event, _key = forum
    raw = apple_reply(
        uid=event["uid"],
        attendee="wang.wu@icloud.example.com",
        to=await to(event, "wang.wu@icloud.example.com"),
    )
    for content_type in ("message/global", "Message/RFC822; charset=utf-8"):
        resp = await post_message(client, raw, **{"Content-Type": content_type})
        assert resp.json()["applied"] == 1, resp.text


async def test_ten_megabytes_get_413(client: Any, forum: Any) -> None:
    event, key = forum
    raw = gmail_reply(
        uid=event["uid"],
        attendee="li.si@gdswa.example.org",
        to=await to(event, "li.si@gdswa.example.org"),
    )
    huge = raw + b"x" * (10 * 1024 * 1024)
    assert_problem(await post_message(client, huge), 413, "5 MiB")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        yield raw
        for _ in range(10):
            yield b"x" * (1024 * 1024)

    resp = await client.post("/inbound/email", content=chunks(), headers=inbound_headers())
    assert_problem(resp, 413, "5 MiB")
    # just under the limit is read (and is a valid reply)
    padded = raw.replace(b"--000000000000d1a2b305f1c4e7a9--", b"") + b"x" * (
        MAX_MESSAGE_BYTES - len(raw) - 100
    )
    assert len(padded) < MAX_MESSAGE_BYTES
    resp = await post_message(client, padded)
    assert resp.status_code == 200, resp.text
    assert (await people(client, key, event["id"]))["li.si@gdswa.example.org"]["rsvp"] == "accepted"


async def test_junk_never_gets_a_500(client: Any, forum: Any) -> None:
    event, key = forum
    junk = _junk() + list(HOSTILE.values())
    junk += [
        gmail_reply(uid=event["uid"] + "\x00", attendee="li.si@gdswa.example.org\x00"),
        outlook_reply(uid=event["uid"], attendee="zhang.san@bjswa.example.org")[:-300],
        outlook_reply(uid=event["uid"], attendee="\\u0000@x.org"),
        bare_calendar_message(
            "BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\n"
            f"UID:{event['uid']}\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{'x' * 100_000}@x.org\n"
            "END:VEVENT\nEND:VCALENDAR\n"
        ),
    ]
    for raw in junk:
        resp = await post_message(client, raw)
        assert resp.status_code < 500, (resp.text, raw[:200])
        if resp.status_code >= 400:
            assert resp.headers["content-type"].startswith("application/problem+json")


# --- the SMTP listener ------------------------------------------------------------------------


async def test_inbound_smtp_applies_replies_and_drops_junk(
    client: Any, forum: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from events_svc.dev.embedded import free_port

    event, key = forum
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - a child that outlives this coroutine's awaits
        [sys.executable, "-m", "events_svc.cli", "inbound-smtp", "--port", str(port)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        await _wait_for_port(port, process)

        address = await to(event, "zhang.san@bjswa.example.org")

        async def send(raw: bytes, recipient: str = address) -> str:
            """The server's reply text; any code but 250 raises."""
            errors, reply = await aiosmtplib.send(
                raw,
                sender="zhang.san@bjswa.example.org",
                recipients=[recipient],
                hostname="127.0.0.1",
                port=port,
                timeout=30,
            )
            assert errors == {}
            return reply

        # the envelope recipient decides, not the To header (the plain address here)
        text = await send(
            outlook_reply(uid=event["uid"], attendee="zhang.san@bjswa.example.org", comment="好的")
        )
        assert text == "2.0.0 1 of 1 answers applied"
        me = (await people(client, key, event["id"]))["zhang.san@bjswa.example.org"]
        assert (me["rsvp"], me["comment"], me["source"]) == ("accepted", "好的", "email")
        # at the plain address, or another invitee's: held, whatever the To header says
        forged = outlook_reply(
            uid=event["uid"], attendee="li.si@gdswa.example.org", partstat="DECLINED", to=address
        )
        for recipient in ("events@events.example.org", address):
            text = await send(forged, recipient)
            assert text == "2.0.0 0 of 1 answers applied, 1 held for the organizer"
        assert (await people(client, key, event["id"]))["li.si@gdswa.example.org"][
            "rsvp"
        ] == "needs-action"
        # junk is accepted and dropped, so the sending server does not retry it
        text = await send(b"From: x@y.org\r\nSubject: hi\r\n\r\nnot a reply\r\n")
        assert text == "2.6.0 Not a calendar reply; dropped"
        text = await send(
            outlook_reply(uid="unknown@elsewhere.example", attendee="zhang.san@bjswa.example.org")
        )
        assert text == "2.0.0 0 of 1 answers applied"
        with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
            await send(b"From: x@y.org\r\n\r\n" + b"x" * (MAX_MESSAGE_BYTES + 10))
        assert too_big.value.code == 552
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=20)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log
    assert "reply applied" in log and "reply ignored" in log and "unknown UID" in log
    assert "inbound message dropped: no text/calendar part" in log


async def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"inbound-smtp exited: {out}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError("inbound-smtp did not start listening")


class _PostgresProxy:
    """A TCP relay to PostgreSQL that the test can cut: a database outage, for real."""

    def __init__(self, target: tuple[str, int] | str) -> None:
        """`target` is (host, port), or the path of a Unix socket (the embedded server's)."""
        from events_svc.dev.embedded import free_port

        self.target = target
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if isinstance(self.target, str):
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}


async def test_inbound_smtp_asks_for_a_retry_while_the_database_is_down(
    client: Any, forum: Any
) -> None:
    from urllib.parse import parse_qs, urlsplit, urlunsplit

    from events_svc.dev.embedded import free_port

    event, key = forum
    url = urlsplit(os.environ["DATABASE_URL"])
    # the embedded server (no DATABASE_URL given to the suite) listens on a Unix socket only
    socket_dir = parse_qs(url.query).get("host", [""])[0]
    target: tuple[str, int] | str = (
        f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
        if socket_dir.startswith("/")
        else (url.hostname or "127.0.0.1", url.port or 5432)
    )
    proxy = _PostgresProxy(target)
    await proxy.start()
    via_proxy = urlunsplit(
        url._replace(netloc=f"{url.username or 'postgres'}@127.0.0.1:{proxy.port}", query="")
    )
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - a child that outlives this coroutine's awaits
        [sys.executable, "-m", "events_svc.cli", "inbound-smtp", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": via_proxy, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    raw = gmail_reply(uid=event["uid"], attendee="li.si@gdswa.example.org")
    address = await to(event, "li.si@gdswa.example.org")
    try:
        await _wait_for_port(port, process)
        await proxy.cut()
        with pytest.raises(aiosmtplib.SMTPDataError) as retry:
            await aiosmtplib.send(
                raw,
                sender="li.si@gdswa.example.org",
                recipients=[address],
                hostname="127.0.0.1",
                port=port,
                timeout=30,
            )
        assert retry.value.code == 451
        assert (await people(client, key, event["id"]))["li.si@gdswa.example.org"][
            "rsvp"
        ] == "needs-action"
        await proxy.start()  # the database is back: the sending server's retry goes through
        _errors, text = await aiosmtplib.send(
            raw,
            sender="li.si@gdswa.example.org",
            recipients=[address],
            hostname="127.0.0.1",
            port=port,
            timeout=30,
        )
        assert text == "2.0.0 1 of 1 answers applied"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=20)
        await proxy.cut()
    assert process.returncode == 0, output.decode(errors="replace")
    assert "database unavailable" in output.decode(errors="replace")
    assert (await people(client, key, event["id"]))["li.si@gdswa.example.org"]["rsvp"] == "accepted"
