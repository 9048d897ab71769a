"""A real browser: headless Chromium opens the RSVP link from an e-mail, clicks, and the
organizer's view shows the answer.

Needs Debian's chromium (/usr/bin/chromium; `.ci/run` installs it) and the playwright
package (its driver only: the browser is the system's). Where Chromium is missing the test is
skipped, except in CI (EVENTS_SVC_REQUIRE_BROWSER=1), where that is an error.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from events_svc.dev.embedded import free_port
from tests.helpers import auth, event_body

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("EVENTS_SVC_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not REQUIRED,
    reason="Chromium is not installed (apt-get install chromium)",
)
# As the machine's notes say: without these, Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def served(app: Any) -> AsyncIterator[str]:
    """The app on a real port, in this event loop (its lifespan already ran for the suite)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_invitee_declines_in_a_real_browser(
    client: Any, make_org: Any, smtp: Any, worker: Any, served: str
) -> None:
    from playwright.async_api import async_playwright

    _org, key = await make_org(name="北京社会工作者协会")
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": "wang.wu@example.org", "name": "王五"}]},
        headers=auth(key),
    )
    await worker.drain()
    (mail,) = smtp.for_recipient("wang.wu@example.org")
    text = mail.message.get_body(("plain",)).get_content()
    link = re.search(r"https://events\.example\.org(/rsvp/\S+\?response=declined)", text)
    assert link, text

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(served + link.group(1))
            assert await page.title() == "回复邀请 · 第二届社会工作本色与本土论坛"
            assert await page.is_checked('input[value="declined"]')
            assert "尚未回复" in await page.inner_text("#current")
            await page.fill("#comment", "下次一定参加")
            await page.click("button[type=submit]")
            await page.wait_for_selector("text=已收到您的回复")
            assert "不参加" in await page.inner_text("#current")
            # nothing loaded from anywhere but the service itself
            assert all(u.startswith(served) for u in requests), requests
        finally:
            await browser.close()

    view = (await client.get(f"/events/{ev['id']}/attendance", headers=auth(key))).json()
    assert view["counts"]["declined"] == 1
    assert view["people"][0]["comment"] == "下次一定参加"
    assert view["people"][0]["source"] == "link"
