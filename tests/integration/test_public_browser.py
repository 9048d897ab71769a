"""The public pages in a real browser (Chromium, phone width, Chinese): a social worker finds
the forum on its organization's page, registers, confirms from the e-mail the SMTP sink
received, gets the iMIP invitation, and the organizer's answers page shows their answers; a
second person lands on the waitlist; registering again changes nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.console.helpers import session_for
from tests.helpers import auth, event_body
from tests.integration.test_invitations import ics_of
from tests.integration.test_registration import QUESTIONS
from tests.integration.test_rsvp_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark, served

__all__ = ["pytestmark", "served"]
LINK = re.compile(r"https://events\.example\.org(/register/confirm/\S+)")


def _mail_link(smtp: Any, email: str) -> str:
    (mail,) = [
        m
        for m in smtp.for_recipient(email)
        if m.message["X-Notification-Kind"] == "registration-confirm"
    ]
    assert "请确认报名" in mail.message["Subject"]
    found = LINK.search(mail.message.get_body(("plain",)).get_content())
    assert found
    return found.group(1)


async def _register(page: Any, base: str, event_id: str, name: str, email: str) -> str:
    await page.goto(f"{base}/e/{event_id}")
    await page.fill("#name", name)
    await page.fill("#email", email)
    await page.fill("#q_agency", "广州市启创社会工作服务中心")
    await page.fill("#q_title", "项目主任")
    await page.check('input[name="q_supervisor"][value="中级"]')
    await page.click("#register-submit")
    await page.wait_for_selector("#outcome")
    outcome: str = await page.get_attribute("#outcome", "data-outcome")
    return outcome


async def test_find_register_confirm_and_waitlist(
    client: Any, make_org: Any, smtp: Any, worker: Any, served: str, app: Any
) -> None:
    from playwright.async_api import async_playwright

    org, key = await make_org(slug="gdswa", name="广东省社会工作师联合会", region="广东省")
    forum = await client.post(
        "/events",
        json=event_body(registration="open", registration_questions=QUESTIONS, capacity=1),
        headers=auth(key),
    )
    assert forum.status_code == 201, forum.text
    event_id = forum.json()["id"]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 375, "height": 812}, locale="zh-CN", timezone_id="Europe/Berlin"
            )
            page = await context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            # a failed page resource (a script the CSP refused, a missing asset); the favicon
            # Chromium asks for on its own is no part of the pages
            page.on(
                "response",
                lambda r: (
                    errors.append(r.url)
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and "Failed to load resource" not in m.text
                    else None
                ),
            )

            # the organization's page lists the forum, and offers the feed
            await page.goto(f"{served}/o/gdswa")
            assert await page.inner_text("h1") == "广东省社会工作师联合会"
            assert (await page.get_attribute("#feed-webcal", "href")).startswith("webcal://")
            await page.click("text=第二届社会工作本色与本土论坛")
            assert page.url.endswith(f"/e/{event_id}")
            # the event's zone, and the reader's own beside it (Berlin, from the browser)
            assert "Asia/Shanghai" in await page.inner_text("#event-time")
            await page.wait_for_selector(".reader-time:not([hidden])")
            assert "Europe/Berlin" in await page.inner_text(".reader-time")
            assert (await page.get_attribute("#add-ics", "href")).endswith(".ics")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"the page scrolls sideways at 375 px: {width}"
            await page.screenshot(path="/tmp/public_event_375.png", full_page=True)

            # register; the form is usable by keyboard (tab reaches the fields in order)
            await page.focus("#name")
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "email"
            assert await _register(page, served, event_id, "王小明", "wang@agency.example.org") == (
                "sent"
            )
            await worker.drain()
            await page.goto(served + _mail_link(smtp, "wang@agency.example.org"))
            await page.click("#confirm")
            await page.wait_for_selector('#outcome[data-outcome="confirmed"]')
            assert "报名成功" in await page.inner_text("h1")

            # the invitation, as an invited guest gets it
            await worker.drain()
            (invitation,) = [
                m
                for m in smtp.for_recipient("wang@agency.example.org")
                if m.message["X-Notification-Kind"] == "invitation"
            ]
            ics = ics_of(invitation)
            assert b"METHOD:REQUEST" in ics and b"wang@agency.example.org" in ics

            # the same address again: nothing changes, and the page says so
            again = await _register(page, served, event_id, "别人", "wang@agency.example.org")
            assert again == "already"

            # the event is full (capacity 1): the next person waits
            assert await _register(page, served, event_id, "李四", "li@agency.example.org") == (
                "sent"
            )
            await worker.drain()
            await page.goto(served + _mail_link(smtp, "li@agency.example.org"))
            await page.click("#confirm")
            await page.wait_for_selector('#outcome[data-outcome="waitlisted"]')

            # the organizer's answers page shows what they answered
            session = await session_for(app, org_id=uuid.UUID(org["id"]), email=org["email"])
            await context.add_cookies(
                [{"name": "console_session", "value": session["cookie"], "url": served}]
            )
            await page.goto(f"{served}/console/events/{event_id}/answers")
            table = await page.inner_text("table")
            assert "所在机构" in table and "广州市启创社会工作服务中心" in table and "中级" in table
            assert "王小明" in table and "李四" in table

            assert not errors, errors
            assert all(u.startswith(served) for u in requests), requests
        finally:
            await browser.close()
