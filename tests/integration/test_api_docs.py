"""The API docs at /schema work offline: Swagger UI comes from the app's own files, under a
strict CSP, and no page there names another host; the OpenAPI patterns are ones JavaScript
(JSON Schema's regex dialect) reads as Python does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.integration.test_rsvp_browser import CHROMIUM, CHROMIUM_ARGS, REQUIRED, served

HAVE_CHROMIUM = os.path.exists(CHROMIUM)

__all__ = ["served"]  # the fixture, shared with the RSVP browser test

_URL_ATTR_RE = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


async def test_no_page_under_schema_references_another_host(client: Any, app: Any) -> None:
    pages = [
        r.path
        for r in app.routes
        if r.path == "/schema" or (r.path.startswith("/schema/") and "{" not in r.path)
    ]
    assert "/schema/swagger-ui/swagger-ui-bundle.js" in pages
    for path in pages:
        resp = await client.get(path)
        assert resp.status_code == 200, path
        csp = resp.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp, path
        assert "unsafe-eval" not in csp and "https:" not in csp, path
        if resp.headers["content-type"].startswith("text/html"):
            for target in _URL_ATTR_RE.findall(resp.text):
                assert target.startswith(("/", "data:")) and not target.startswith("//"), (
                    path,
                    target,
                )
            assert "<script>" not in resp.text  # nothing inline (the CSP would block it)
    page = (await client.get("/schema")).text
    assert 'data-url="/schema/openapi.json"' in page
    assert "cdn" not in page.lower()


async def test_openapi_patterns_are_portable(client: Any) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    patterns: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert patterns, "the document declares no pattern at all"
    for pattern in patterns:
        # Python-only syntax: \\Z and \\A anchors, (?P<name>...) groups, inline flags
        assert not re.search(r"\\[AZ]|\(\?P|\(\?[aiLmsux]", pattern), pattern
    node = shutil.which("node")
    if node is None:
        return
    samples = ["gdswa", "gdswa\n", "-x", "bjswa-2", "a" * 64]
    script = (
        "const [ps, ss] = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(ps.map(p => ss.map(s => new RegExp(p, 'u').test(s)))));"
    )
    out = subprocess.run(  # noqa: S603, ASYNC221 - a short check, nothing else runs meanwhile
        [node, "-e", script, json.dumps([sorted(patterns), samples])],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    in_js = json.loads(out.stdout)
    for pattern, js in zip(sorted(patterns), in_js, strict=True):
        py = [re.search(pattern, s) is not None for s in samples]
        assert py == js, (pattern, samples, py, js)


async def test_swagger_ui_renders_offline_in_a_browser(served: str) -> None:
    if not HAVE_CHROMIUM:
        if REQUIRED:
            pytest.fail("Chromium is required here")
        pytest.skip("Chromium is not installed")
    from playwright.async_api import async_playwright

    elsewhere: list[str] = []
    violations: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()

            async def only_here(route: Any) -> None:
                if route.request.url.startswith(served):
                    await route.continue_()
                else:  # offline: nothing else answers
                    elsewhere.append(route.request.url)
                    await route.abort()

            await page.route("**/*", only_here)

            def note(message: Any) -> None:
                if "Content Security Policy" in message.text:
                    violations.append(message.text)

            page.on("console", note)
            await page.goto(f"{served}/schema")
            await page.wait_for_selector(".opblock-tag", timeout=30_000)
            assert await page.locator(".opblock").count() > 20
            assert "events-svc" in await page.locator(".info .title").inner_text()
        finally:
            await browser.close()
    assert elsewhere == []
    assert violations == []
