"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "forum",
        "title": "第二届社会工作本色与本土论坛",
        "description": "京粤社工交流",
        "location": "广州市越秀区",
        "starts_at": "2027-06-10T09:30:00",
        "ends_at": "2027-06-10T17:00:00",
        "timezone": "Asia/Shanghai",
    }
    body.update(overrides)
    return body


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def reply_address_for(event_id: str, email: str) -> str:
    """The reply address of a person's invitation to an event (ORGANIZER of their copy)."""
    from events_svc.invitations.tables import Invitation
    from events_svc.rsvp.tokens import reply_address
    from events_svc.settings import Settings

    rows = await Invitation.raw(
        "SELECT i.id FROM invitation i JOIN person p ON p.id = i.person"
        " WHERE i.event = {} AND p.email_key = lower({})",
        event_id,
        email,
    )
    settings = Settings.from_env()
    return reply_address(settings.reply_address, settings.secret_key, rows[0]["id"])
