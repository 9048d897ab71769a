"""Issue 12, item 2: a REPLY counts only when it comes to the reply address of the invitation
it answers for (the ORGANIZER of that person's copy and feed); anything else is held for the
organizer, or refused when its SEQUENCE was never sent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import replace
from typing import Any

import aiosmtplib
import dkim
import pytest
from icalendar import Calendar

from events_svc.inbound import service as inbound
from events_svc.inbound.tables import HeldReply
from events_svc.invitations.tables import Invitation
from events_svc.people.tables import Person
from events_svc.rsvp.tokens import make_reply_token
from tests.helpers import auth, event_body
from tests.inbound_messages import ORGANIZER, apple_reply, gmail_reply, outlook_reply
from tests.integration.test_inbound import (
    APPLIED,
    _event,
    _wait_for_port,
    people,
    post_message,
    to,
)
from tests.integration.test_invitations import ics_of

LI_SI = "li.si@gdswa.example.org"
ZHANG = "zhang.san@bjswa.example.org"

#: a test-only 1024-bit RSA key (dkimpy's minimum) and its public half as DNS publishes it
DKIM_KEY = b"""-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDGTA8jA83eywedkOgq63St0054Z8dXatFII3GD+HSkPtefrNML
jCuaVycUckrLMqkshmH8/qVulEqwf1fGaalQdoZZaMJlVtXalbChV4RIsZ/neTiZ
+ZD5fC56Lb/tG1txRXLuCTMkGCDF7+7gq0TdqoowMhjQX+AVx/nTOE8b6wIDAQAB
AoGBAIkCCj9WJIr32rYqZc8pyf9EDWaxxZCHtDvUiVz2cJj+9npTram/2myUJONC
qJzGzw59dvyXcPP7L7PM+HeVj65YC2WzXj0OPR58kZwdCfIjTjhv7a5D49lLxmEQ
UhjK22XsU0+MggrKRRdDanKag1ntYxayan9FPpQCFgzo8vGZAkEA/UVV8KFjqisn
fZUGI+gM6OETjTsC3dRVi/CzXdWq7vNkxsVtE6UWQHv9SvYdhXhkNqefK9mIAuUp
Wgyt/1N23wJBAMhvEyL8fNXLryTiZ7MNlkBcqREbD7IzZJSx1COtfMpDyETYjQTy
Pscs60lm+SJLM+R2++Qqkdgk9lHFauz3OHUCQAY/vLQYN05OjEXj9GfUZOUmEIZu
i06P26B9St+o0vPcW4MwAdX3P8pNhN1hny7Y3pgeoKXDU0DHCLMpFu3y0D8CQQCK
XwRbFuwnvOJBGHx2xF6COHYPdRs07v31GX9W0iJgkMLlpIpWa9ajMoOMvSYpYrmE
dBAZyLm++mWCtkPHLDUxAkEAht7ECnUnZq9UtnbHdR9vFQ5hb4Hk7M24qcDU1h1/
OUFr1euh0KB2/DXOgctdw+Uh0JSA+fqX/FiRwo8PSalJ/g==
-----END RSA PRIVATE KEY-----
"""
DKIM_PUBLIC = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDGTA8jA83eywedkOgq63St0054Z8dXatFII3GD+HSk"
    "PtefrNMLjCuaVycUckrLMqkshmH8/qVulEqwf1fGaalQdoZZaMJlVtXalbChV4RIsZ/neTiZ+ZD5fC56"
    "Lb/tG1txRXLuCTMkGCDF7+7gq0TdqoowMhjQX+AVx/nTOE8b6wIDAQAB"
)


@pytest.fixture
async def forum(client: Any, make_org: Any) -> tuple[dict[str, Any], str]:
    _org, key = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    return await _event(client, key), key


def _answers(rows: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {email: p["rsvp"] for email, p in rows.items()}


# --- forged replies ------------------------------------------------------------------------


async def test_forged_replies_are_held_or_refused_never_applied(client: Any, forum: Any) -> None:
    event, key = forum
    uid = event["uid"]
    mine, other = await to(event, LI_SI), await to(event, ZHANG)
    # a well-formed token whose MAC is wrong (the invitation id of Li Si's, another key)
    forged_token = make_reply_token("another-secret-" + "y" * 40, _invitation_of(mine))
    cases = [
        # knowing the address and the public UID is not enough: the plain address ...
        (gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED"), None),
        (gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED"), ORGANIZER),
        # ... a token that was never made ...
        (gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED", to=f"events+{forged_token}"
                     "@events.example.org"), None),
        # ... another attendee's own address (Zhang San answering for Li Si)
        (gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED", to=other), None),
        (gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED"), other),
    ]  # fmt: skip
    for raw, recipient in cases:
        resp = await post_message(client, raw, recipient=recipient)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["applied"], len(body["held"]), body["ignored"]) == (0, 1, []), body
    assert await HeldReply.count().where(HeldReply.status == "held") == len(cases)
    held = await HeldReply.select(HeldReply.reason, HeldReply.recipient)
    # the organizer of this event never learns the token of another invitation
    assert {r["recipient"] for r in held} == {
        ORGANIZER,
        "events+[token]@events.example.org",
    }
    reasons = [r["reason"] for r in held]
    assert set(reasons) == {
        "not sent to this invitation's reply address",
        "sent to the reply address of another invitation",
    }
    # a huge SEQUENCE, even at the right address: refused and not remembered, so the real
    # client's answers (SEQUENCE 0) still count
    huge = gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED", sequence=2**31 - 1, to=mine)
    body = (await post_message(client, huge)).json()
    assert body["applied"] == 0 and body["held"] == []
    assert body["ignored"][0]["reason"] == "SEQUENCE 2147483647 is above the 0 sent"
    assert await HeldReply.count() == len(cases)
    (inv,) = await Invitation.select(Invitation.reply_sequence).where(
        Invitation.id == _invitation_of(mine)
    )
    assert inv["reply_sequence"] is None
    assert set(_answers(await people(client, key, event["id"])).values()) == {"needs-action"}
    # a huge SEQUENCE stored before it was bounded locks nobody out either
    await Invitation.update({Invitation.reply_sequence: 2**31 - 1}).where(
        Invitation.id == _invitation_of(mine)
    )
    real = gmail_reply(uid=uid, attendee=LI_SI, partstat="ACCEPTED", to=mine)
    assert (await post_message(client, real)).json() == APPLIED
    assert _answers(await people(client, key, event["id"]))[LI_SI] == "accepted"


def _invitation_of(address: str) -> Any:
    from events_svc.rsvp.tokens import read_reply_token

    token = address.split("+", 1)[1].split("@", 1)[0]
    return read_reply_token(os.environ["SECRET_KEY"], token)


async def test_the_token_address_applies_by_recipient_or_headers_in_any_case(
    client: Any, forum: Any
) -> None:
    event, key = forum
    uid = event["uid"]
    mine = await to(event, LI_SI)
    plain = gmail_reply(uid=uid, attendee=LI_SI, partstat="TENTATIVE")  # To: the plain address
    # the provider's hook passes the envelope recipient; an MTA that lowercased it, or one
    # that uppercased the whole address, changes nothing
    for recipient in (mine, mine.lower(), mine.upper(), f"Events <{mine.upper()}>"):
        assert (await post_message(client, plain, recipient=recipient)).json() == APPLIED
    # without `recipient`: Delivered-To, X-Original-To, or To
    for header in ("Delivered-To", "X-Original-To"):
        raw = f"{header}: {mine.upper()}\r\n".encode() + plain
        assert (await post_message(client, raw)).json() == APPLIED
    to_header = gmail_reply(uid=uid, attendee=LI_SI, partstat="DECLINED", to=mine.lower())
    assert (await post_message(client, to_header)).json() == APPLIED
    assert _answers(await people(client, key, event["id"]))[LI_SI] == "declined"
    assert await HeldReply.count() == 0
    # the recipient given wins over the headers: at the plain address the reply is held
    resp = await post_message(client, to_header, recipient=ORGANIZER)
    assert resp.json()["held"] == [
        {"uid": uid, "attendee": LI_SI, "reason": "not sent to this invitation's reply address"}
    ]


async def test_real_clients_answer_the_address_in_their_invitation_and_feed(
    client: Any, forum: Any, smtp: Any, worker: Any
) -> None:
    event, key = forum
    await worker.drain()
    feed_tokens = {
        r["email"].lower(): r["feed_token"]
        for r in await Person.select(Person.email, Person.feed_token)
    }
    for email, reply in (
        (LI_SI, gmail_reply),
        ("wang.wu@icloud.example.com", apple_reply),
        (ZHANG, outlook_reply),
    ):
        (mail,) = smtp.for_recipient(email)
        (vevent,) = Calendar.from_ical(ics_of(mail)).walk("VEVENT")
        address = str(vevent["ORGANIZER"]).removeprefix("mailto:")
        assert address == await to(event, email)
        assert len(address.split("@")[0]) <= 64
        # the personal feed names the same address
        feed = await client.get(f"/feeds/people/{feed_tokens[email]}.ics")
        (in_feed,) = Calendar.from_ical(feed.content).walk("VEVENT")
        assert str(in_feed["ORGANIZER"]) == f"mailto:{address}"
        assert in_feed["ORGANIZER"].params["CN"] == "广东省社会工作师联合会"
        # the client answers the ORGANIZER it was given
        raw = reply(uid=event["uid"], attendee=email, to=address)
        assert (await post_message(client, raw)).json() == APPLIED, email
    answers = _answers(await people(client, key, event["id"]))
    assert answers[LI_SI] == "accepted" and answers[ZHANG] == "accepted"
    assert answers["wang.wu@icloud.example.com"] == "declined"
    # a public feed has no invitation: the plain address stays there
    org_feed = await client.get("/feeds/orgs/gdswa.ics")
    (public,) = Calendar.from_ical(org_feed.content).walk("VEVENT")
    assert str(public["ORGANIZER"]) == f"mailto:{ORGANIZER}"


async def test_inbound_smtp_applies_replies_sent_to_the_token_address(
    client: Any, forum: Any
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
        mine = await to(event, LI_SI)
        raw = gmail_reply(uid=event["uid"], attendee=LI_SI, to=mine)
        for recipient, text in (
            (ORGANIZER, "2.0.0 0 of 1 answers applied, 1 held for the organizer"),
            (mine.upper(), "2.0.0 1 of 1 answers applied"),
        ):
            errors, reply = await aiosmtplib.send(
                raw,
                sender=LI_SI,
                recipients=[recipient],
                hostname="127.0.0.1",
                port=port,
                timeout=30,
            )
            assert (errors, reply) == ({}, text)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=20)
    assert process.returncode == 0, output.decode(errors="replace")
    assert _answers(await people(client, key, event["id"]))[LI_SI] == "accepted"
    assert await HeldReply.count().where(HeldReply.status == "held") == 1


# --- the organizer decides -----------------------------------------------------------------


async def test_held_replies_are_listed_applied_and_discarded(
    client: Any, make_org: Any, forum: Any
) -> None:
    event, key = forum
    replies = f"/events/{event['id']}/replies"
    for email, partstat in (
        (LI_SI, "DECLINED"),
        (ZHANG, "TENTATIVE"),
        ("li.zhe@gdswa.example.org", "ACCEPTED"),
    ):
        raw = outlook_reply(uid=event["uid"], attendee=email, partstat=partstat, comment="出差")
        assert len((await post_message(client, raw)).json()["held"]) == 1
    first = await client.get(replies, params={"status": "held", "limit": 2}, headers=auth(key))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["attendee"] for r in page["items"]] == [LI_SI, ZHANG] and page["next"]
    rest = await client.get(
        replies, params={"status": "held", "cursor": page["next"]}, headers=auth(key)
    )
    (third,) = rest.json()["items"]
    assert rest.json()["next"] is None
    held = page["items"][0]
    assert (held["partstat"], held["comment"], held["status"]) == ("DECLINED", "出差", "held")
    assert held["recipient"] == ORGANIZER and held["sender"] == LI_SI
    assert held["reason"] == "not sent to this invitation's reply address"

    applied = await client.post(f"{replies}/{held['id']}/apply", headers=auth(key))
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied" and applied.json()["decided_at"]
    me = (await people(client, key, event["id"]))[LI_SI]
    assert (me["rsvp"], me["comment"], me["source"]) == ("declined", "出差", "email")
    again = await client.post(f"{replies}/{held['id']}/discard", headers=auth(key))
    assert again.status_code == 409 and "already applied" in again.json()["detail"]

    dropped = await client.post(f"{replies}/{page['items'][1]['id']}/discard", headers=auth(key))
    assert dropped.json()["status"] == "discarded"
    assert _answers(await people(client, key, event["id"]))[ZHANG] == "needs-action"
    left = await client.get(replies, params={"status": "held"}, headers=auth(key))
    assert [r["id"] for r in left.json()["items"]] == [third["id"]]
    everything = await client.get(replies, headers=auth(key))
    assert {r["status"] for r in everything.json()["items"]} == {"held", "applied", "discarded"}

    # another organization sees nothing and decides nothing; junk ids and cursors are 4xx
    _other, stranger = await make_org(slug="shswa", name="上海市社会工作者协会")
    assert (await client.get(replies, headers=auth(stranger))).status_code == 404
    resp = await client.post(f"{replies}/{third['id']}/apply", headers=auth(stranger))
    assert resp.status_code == 404
    assert (await client.post(f"{replies}/nope/apply", headers=auth(key))).status_code == 404
    resp = await client.get(replies, params={"cursor": "%%%"}, headers=auth(key))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "cursor"
    resp = await client.get(replies, params={"status": "maybe"}, headers=auth(key))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "status"
    assert (await client.get(replies)).status_code == 401


async def test_a_cohost_decides_like_the_host(client: Any, make_org: Any) -> None:
    from tests.integration.test_partnerships import _agreement

    _gd, gd = await make_org(slug="gdswa", name="广东省社会工作师联合会")
    _bj, bj = await make_org(slug="bjswa", name="北京社会工作者协会")
    deal = await _agreement(client, gd, "bjswa")
    await client.post(f"/partnerships/{deal['id']}/accept", headers=auth(bj))
    resp = await client.post(
        "/events", json=event_body(partnership=deal["id"], cohosts=["bjswa"]), headers=auth(gd)
    )
    assert resp.status_code == 201, resp.text
    event = resp.json()
    await client.post(
        f"/events/{event['id']}/invitations",
        json={"invitees": [{"email": LI_SI}]},
        headers=auth(gd),
    )
    await post_message(client, gmail_reply(uid=event["uid"], attendee=LI_SI))
    listed = await client.get(f"/events/{event['id']}/replies", headers=auth(bj))
    (held,) = listed.json()["items"]
    resp = await client.post(f"/events/{event['id']}/replies/{held['id']}/apply", headers=auth(bj))
    assert resp.status_code == 200, resp.text
    assert (await people(client, gd, event["id"]))[LI_SI]["rsvp"] == "accepted"


async def test_a_held_reply_that_no_longer_applies_stays_held(client: Any, forum: Any) -> None:
    event, key = forum
    await post_message(client, gmail_reply(uid=event["uid"], attendee=LI_SI))
    (held,) = (await client.get(f"/events/{event['id']}/replies", headers=auth(key))).json()[
        "items"
    ]
    await client.post(f"/events/{event['id']}/cancel", headers=auth(key))
    resp = await client.post(f"/events/{event['id']}/replies/{held['id']}/apply", headers=auth(key))
    assert resp.status_code == 409 and "no longer applies" in resp.json()["detail"]
    assert await HeldReply.count().where(HeldReply.status == "held") == 1


# --- DKIM at the plain address -------------------------------------------------------------


def _signed(raw: bytes, domain: str) -> bytes:
    signature = dkim.sign(
        raw,
        b"sel",
        domain.encode(),
        DKIM_KEY,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return signature + raw


def _dns(domain: str) -> Any:
    """In-process DNS: the public key at sel._domainkey.<domain>, nothing elsewhere."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        if name.decode().rstrip(".") == f"sel._domainkey.{domain}":
            return b"v=DKIM1; k=rsa; p=" + DKIM_PUBLIC.encode()
        return None

    return lookup


async def test_dkim_signed_by_the_attendees_domain_applies_at_the_plain_address(
    client: Any, forum: Any, settings: Any
) -> None:
    event, key = forum
    on = replace(settings, inbound_verify_dkim=True)
    dns = _dns("gdswa.example.org")
    reply = gmail_reply(uid=event["uid"], attendee=LI_SI, partstat="DECLINED")
    signed = _signed(reply, "gdswa.example.org")

    async def handle(raw: bytes, settings: Any = on, dnsfunc: Any = dns) -> Any:
        return await inbound.handle_message(
            raw=raw, queue=None, recipients=[ORGANIZER], settings=settings, dnsfunc=dnsfunc
        )

    # without INBOUND_VERIFY_DKIM, or unsigned, or signed by another domain, or altered after
    # signing, or signed by the domain but From someone else there: held
    assert len((await handle(signed, settings=settings)).held) == 1
    assert len((await handle(reply)).held) == 1
    assert (
        len(
            (
                await handle(_signed(reply, "elsewhere.example"), dnsfunc=_dns("elsewhere.example"))
            ).held
        )
        == 1
    )
    assert len((await handle(signed + b"appended after signing\r\n")).held) == 1
    colleague = reply.replace(f"<{LI_SI}>".encode(), b"<li.zhe@gdswa.example.org>")
    assert len((await handle(_signed(colleague, "gdswa.example.org"))).held) == 1
    assert _answers(await people(client, key, event["id"]))[LI_SI] == "needs-action"
    # signed by the attendee's domain, From the attendee: applied
    result = await handle(signed)
    assert (result.applied, result.held) == (1, [])
    assert _answers(await people(client, key, event["id"]))[LI_SI] == "declined"
