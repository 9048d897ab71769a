"""The console in a real browser (Debian's Chromium through playwright, as the RSVP page
test): sign in with the link from the e-mail, create an event at 14:00 Asia/Shanghai, invite
three people by pasting, watch the progress reach 3/3 and each delivery turn "sent", see a
decline on the answers tab, move the event and see the updates go out.

With EVENTS_SVC_SCREENSHOTS=<folder>, the pages are also photographed in zh-CN and en, at
375 px and on a desktop, for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.console.helpers import LINK
from tests.helpers import auth
from tests.integration.test_rsvp_browser import CHROMIUM, CHROMIUM_ARGS, served

__all__ = ["served"]  # the fixture, shared with the RSVP page test
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("EVENTS_SVC_REQUIRE_BROWSER") != "1",
    reason="Chromium is not installed (apt-get install chromium)",
)
SHOTS = os.environ.get("EVENTS_SVC_SCREENSHOTS")
PEOPLE = (
    "王五 <wang.wu@example.org>\nLi Si <li.si@example.org>,\n"
    "zhao.liu.with.a.long.address@shenzhen-social-workers.example.org\n"
)
LONG = "zhao.liu.with.a.long.address@shenzhen-social-workers.example.org"


def test_a_cjk_font_is_installed_for_the_zh_pages() -> None:
    """Chinese pages need a CJK font in the browser's machine (CI installs fonts-noto-cjk)."""
    import subprocess

    found = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    assert found.stdout.strip(), "no CJK font: apt-get install fonts-noto-cjk"


async def _drain_until(worker: Any, done: Any, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.2)):
        await worker.drain()
        if await done():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the worker did not finish in time")


async def _fits(page: Any) -> None:
    """Nothing widens the page past a phone's width (long addresses, hidden labels)."""
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)


async def _shoot(page: Any, name: str) -> None:
    if not SHOTS:
        return
    await asyncio.to_thread(Path(SHOTS).mkdir, parents=True, exist_ok=True)
    for width, label in ((375, "phone"), (1280, "desktop")):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=f"{SHOTS}/{name}-{label}.png", full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})


async def test_organizer_runs_an_event_from_the_browser(
    client: Any, make_org: Any, smtp: Any, worker: Any, served: str
) -> None:
    from playwright.async_api import async_playwright, expect

    _org, key = await make_org(name="北京社会工作者协会", email="mishu@bjswa.example.org")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))

            # sign in: the address, the e-mail, the link, the button
            await page.goto(served + "/console")
            assert "/console/sign-in" in page.url
            await _shoot(page, "sign-in")
            await page.fill("#email", "mishu@bjswa.example.org")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#sent")
            await worker.drain()
            (mail,) = smtp.for_recipient("mishu@bjswa.example.org")
            link = LINK.search(mail.message.get_body(("plain",)).get_content())
            assert link, mail.message
            await page.goto(served + link.group(1))
            await _shoot(page, "sign-in-link")
            await page.click("#sign-in")
            await page.wait_for_url(served + "/console")
            await _fits(page)
            await _shoot(page, "home-empty")

            # create an event at 14:00 Asia/Shanghai (the zone is the form's default)
            await page.click("text=新建活动")
            assert await page.input_value("#timezone") == "Asia/Shanghai"
            await page.fill("#title", "第二届社会工作本色与本土论坛")
            await page.fill("#starts_at", "2027-06-10T14:00")
            await page.fill("#ends_at", "2027-06-10T17:00")
            await page.fill("#location", "广州市越秀区")
            await page.check('input[name=reminders][value="P1D"]')
            await _fits(page)
            await _shoot(page, "event-form")
            await page.click("button.primary[type=submit]")
            await page.wait_for_selector("text=SEQUENCE")
            event_id = page.url.rsplit("/", 1)[1]
            made = (await client.get(f"/events/{event_id}", headers=auth(key))).json()
            assert made["starts_at"] == "2027-06-10T14:00:00"
            assert made["timezone"] == "Asia/Shanghai"
            assert made["starts_at_utc"].startswith("2027-06-10T06:00:00")

            # invite three people by pasting; the preview shows who, then send
            await page.click("text=邀请")
            await page.fill("#pasted", PEOPLE)
            await page.click("text=预览邀请名单")
            assert await page.locator("#preview li").count() == 3
            await _shoot(page, "invitations-preview")
            await page.click("#send-invitations")
            await page.wait_for_selector("text=wang.wu@example.org")

            # the worker sends; the page's own script shows 3/3 and every row "sent"
            async def all_sent() -> bool:
                return len(smtp.for_recipient(LONG)) == 1

            await _drain_until(worker, all_sent)
            # (expect, not wait_for_function: the page's CSP forbids eval, even playwright's)
            await expect(page.locator(".progress .sent-count")).to_have_text("3", timeout=15_000)
            assert await page.inner_text("[data-field=total]") == "3"
            for address in ("wang.wu@example.org", "li.si@example.org", LONG):
                cell = page.locator(f'[data-row="{address}"]')
                await expect(cell).to_have_text("已发送", timeout=15_000)
                assert "state-sent" in (await cell.get_attribute("class") or "")
            await _shoot(page, "invitations-sent")
            await _fits(page)

            # one invitee declines on the RSVP page; the answers tab shows it
            (invitation,) = smtp.for_recipient("li.si@example.org")
            text = invitation.message.get_body(("plain",)).get_content()
            rsvp = re.search(r"https://events\.example\.org(/rsvp/\S+)\?response=declined", text)
            assert rsvp, text
            invitee = await context.new_page()
            await invitee.goto(served + rsvp.group(1) + "?response=declined")
            await _shoot(invitee, "rsvp")
            await invitee.click("button[type=submit]")
            await invitee.wait_for_selector("text=已收到您的回复")
            await _shoot(invitee, "rsvp-answered")
            await page.click("text=回复")
            assert await page.inner_text("[data-count=declined]") == "1"
            assert await page.inner_text("[data-count=needs-action]") == "2"
            await _fits(page)
            await _shoot(page, "answers")

            # move the event an hour later: the two who did not decline get an update
            await page.click("text=详情")
            await page.click("text=修改活动")
            await page.fill("#starts_at", "2027-06-10T15:00")
            await page.fill("#ends_at", "2027-06-10T18:00")
            await page.click("button.primary[type=submit]")
            await page.wait_for_selector("text=SEQUENCE")

            async def updated() -> bool:
                kinds = [
                    m.message["X-Notification-Kind"]
                    for a in ("wang.wu@example.org", LONG)
                    for m in smtp.for_recipient(a)
                ]
                return kinds.count("update") == 2

            await _drain_until(worker, updated)
            assert [
                m.message["X-Notification-Kind"] for m in smtp.for_recipient("li.si@example.org")
            ] == ["invitation"]
            await page.click("text=邀请")
            assert await page.locator(".state-sent[data-row]").count() == 3

            if SHOTS:  # the same pages in English
                await page.click("text=English")
                await page.wait_for_selector("text=Invitations")
                await _shoot(page, "en-invitations")
                await page.goto(served + "/console")
                await _shoot(page, "en-home")
                await page.goto(served + f"/console/events/{event_id}")
                await _shoot(page, "en-event")
                await page.goto(served + "/console/events?view=month&month=2027-06")
                await _shoot(page, "en-month")
                await page.goto(served + f"/console/events/{event_id}/edit")
                await _shoot(page, "en-event-form")
                await page.click("text=中文")
                for name in (
                    "contacts",
                    "visits",
                    "organizers",
                    "api-keys",
                    "webhooks",
                    "agreements",
                    "members",
                ):
                    await page.goto(served + f"/console/{name}")
                    await _shoot(page, name)
                for tab in ("activity", "agenda", "check-in"):
                    await page.goto(served + f"/console/events/{event_id}/{tab}")
                    await _shoot(page, tab)
                await page.goto(served + "/console")
                await _shoot(page, "home")

            # nothing loaded from anywhere but the service itself
            assert all(u.startswith(served) for u in requests), requests
        finally:
            await browser.close()
