"""Signing in to the console from tests: through the e-mail (the real path) or straight into
a session (for tests about what a signed-in organizer may do)."""

from __future__ import annotations

import re
from typing import Any

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
LINK = re.compile(r"https://events\.example\.org(/console/sign-in/\S+)")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


async def ask_for_link(client: Any, email: str) -> Any:
    form = await client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return await client.post("/console/sign-in", data={"email": email, "_csrf": csrf_of(form.text)})


def link_from_mail(smtp: Any, email: str) -> str:
    (mail,) = [
        m for m in smtp.for_recipient(email) if m.message["X-Notification-Kind"] == "sign-in"
    ]
    text = mail.message.get_body(("plain",)).get_content()
    found = LINK.search(text)
    assert found, text
    return found.group(1)


async def redeem(client: Any, path: str) -> Any:
    page = await client.get(path)
    if page.status_code != 200:
        return page
    return await client.post(path, data={"_csrf": csrf_of(page.text), "next": "/console"})


async def signed_in(client: Any, smtp: Any, worker: Any, email: str) -> None:
    """The whole path: ask, the worker sends the mail, open the link, press the button."""
    await ask_for_link(client, email)
    await worker.drain()
    done = await redeem(client, link_from_mail(smtp, email))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console"


async def session_for(app: Any, *, org_id: Any, email: str) -> dict[str, str]:
    """A session cookie and its CSRF token for an organizer, without the e-mail."""
    from events_svc.organizers import service, sessions

    (organizer,) = [
        o for o in await service.organizers_for_address(email=email) if o.org_id == org_id
    ]
    settings = app.state.settings
    cookie = await sessions.start(
        app.state.arq,
        organizer_id=organizer.id,
        org_id=org_id,
        idle=settings.console_session_idle,
        absolute=settings.console_session_absolute,
    )
    session = await sessions.load(
        app.state.arq,
        cookie,
        idle=settings.console_session_idle,
        absolute=settings.console_session_absolute,
    )
    assert session is not None
    return {"cookie": cookie, "csrf": session.csrf}
