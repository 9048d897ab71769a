"""Signing in by e-mail link: one link per ask, once, for 15 minutes, in the browser that
asked; the same answer for unknown addresses; sessions end on sign-out."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from events_svc.organizers import signin
from tests.console.helpers import ask_for_link, csrf_of, link_from_mail, redeem, signed_in


async def test_link_signs_in_once_in_the_browser_that_asked(
    app: Any, client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    await make_org(email="mishu@bjswa.example.org")
    asked = await ask_for_link(client, "Mishu@BJSWA.example.org")
    assert asked.status_code == 200 and "mishu@bjswa.example.org".lower() in asked.text.lower()
    unknown = await ask_for_link(client, "nobody@example.org")
    # the same page either way (only the address it repeats differs)
    assert unknown.text.replace("nobody@example.org", "X") == asked.text.replace(
        "Mishu@BJSWA.example.org", "X"
    )
    await worker.drain()
    assert not smtp.for_recipient("nobody@example.org")
    path = link_from_mail(smtp, "mishu@bjswa.example.org")

    # another browser (no cookie of the asking one) cannot use it, and does not spend it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://events.example.org"
    ) as other:
        refused = await redeem(other, path)
        assert refused.status_code == 410, refused.text

    done = await redeem(client, path)
    assert done.status_code == 303 and done.headers["location"] == "/console"
    cookie = done.headers["set-cookie"]
    assert (
        "console_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    )
    assert "Secure" in cookie  # PUBLIC_BASE_URL is https in the tests
    home = await client.get("/console")
    assert home.status_code == 200 and "mishu@bjswa.example.org" in home.text

    again = await redeem(client, path)  # used
    assert again.status_code == 410 and 'id="refused"' in again.text


async def test_expired_or_forged_link_is_refused(
    app: Any, client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    await make_org(email="mishu@gdsw.example.org")
    await ask_for_link(client, "mishu@gdsw.example.org")
    await worker.drain()
    path = link_from_mail(smtp, "mishu@gdsw.example.org")
    nonce = path.rsplit("/", 1)[1].split(".")[0]
    # 15 minutes later: the Redis record has expired (its TTL is the link's life)
    assert 0 < await app.state.arq.ttl(signin.PREFIX + nonce) <= signin.LINK_TTL
    await app.state.arq.delete(signin.PREFIX + nonce)
    assert (await redeem(client, path)).status_code == 410
    forged = path[:-4] + "AAAA"
    assert (await redeem(client, forged)).status_code == 410


async def test_the_database_row_alone_signs_nobody_in(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    from events_svc.sidemail.tables import SideMail

    await make_org(email="mishu@shsw.example.org")
    await ask_for_link(client, "mishu@shsw.example.org")
    (row,) = await SideMail.select(SideMail.nonce)
    # without SECRET_KEY's MAC the nonce is no link
    assert (await redeem(client, f"/console/sign-in/{row['nonce']}.x")).status_code == 410
    assert (await redeem(client, f"/console/sign-in/{row['nonce']}")).status_code == 410


async def test_sign_out_and_sign_out_everywhere(
    app: Any, client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    await make_org(email="mishu@szsw.example.org")
    await signed_in(client, smtp, worker, "mishu@szsw.example.org")
    home = await client.get("/console")
    out = await client.post("/console/sign-out", data={"_csrf": csrf_of(home.text)})
    assert out.status_code == 303
    assert (await client.get("/console")).status_code == 303  # back to the sign-in page

    smtp.clear()
    await signed_in(client, smtp, worker, "mishu@szsw.example.org")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://events.example.org"
    ) as phone:
        smtp.clear()
        await signed_in(phone, smtp, worker, "mishu@szsw.example.org")
        home = await phone.get("/console")
        assert home.status_code == 200
        everywhere = await phone.post(
            "/console/sign-out-everywhere", data={"_csrf": csrf_of(home.text)}
        )
        assert everywhere.status_code == 303
        assert (await phone.get("/console")).status_code == 303
    assert (await client.get("/console")).status_code == 303  # the desktop's session too


async def test_a_form_without_its_csrf_token_is_refused(
    app: Any, client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    await make_org(email="mishu@csrf.example.org")
    await signed_in(client, smtp, worker, "mishu@csrf.example.org")
    missing = await client.post("/console/events", data={"title": "论坛"})
    assert missing.status_code == 403 and "表单已过期" in missing.text
    wrong = await client.post("/console/events", data={"title": "论坛", "_csrf": "x" * 32})
    assert wrong.status_code == 403
    # and nothing was created
    from events_svc.events.tables import Event

    assert await Event.count() == 0
    # the sign-in form too
    fresh = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://events.example.org"
    )
    async with fresh:
        await fresh.get("/console/sign-in")
        refused = await fresh.post("/console/sign-in", data={"email": "mishu@csrf.example.org"})
        assert refused.status_code == 403
    assert uuid.UUID  # keeps the import honest for the next test's edits


async def test_sign_in_requests_are_rate_limited_per_address(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    await make_org(email="mishu@limit.example.org")
    for _ in range(5):  # RATE_LIMIT_SIGN_IN_EMAIL: 5 per 15 minutes
        assert (await ask_for_link(client, "mishu@limit.example.org")).status_code == 200
    refused = await ask_for_link(client, "Mishu@Limit.example.org")
    assert refused.status_code == 429 and "请求过于频繁" in refused.text
    # an unknown address is limited the same way (the answer tells nothing)
    for _ in range(5):
        assert (await ask_for_link(client, "nobody@limit.example.org")).status_code == 200
    assert (await ask_for_link(client, "nobody@limit.example.org")).status_code == 429
    await worker.drain()
    assert len(smtp.for_recipient("mishu@limit.example.org")) == 5
