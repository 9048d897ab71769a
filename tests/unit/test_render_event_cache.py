"""The sender makes each event's EventData once per version of the event, not per message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc.sender.render import _event

BASE = "https://events.example.org"


def _ctx(**changes: Any) -> dict[str, Any]:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    ctx: dict[str, Any] = {
        "event_id": uuid.UUID(int=1),
        "uid": "u1@events.example.org",
        "event_sequence": 0,
        "title": "第二届社会工作本色与本土论坛",
        "description": "",
        "itinerary": None,
        "location": "广州",
        "online_url": "",
        "starts_at": datetime(2027, 6, 10, 1, 30, tzinfo=UTC),
        "ends_at": datetime(2027, 6, 10, 9, 0, tzinfo=UTC),
        "timezone": "Asia/Shanghai",
        "recurrence": None,
        "status": "scheduled",
        "event_created_at": now,
        "event_updated_at": now,
        "reminders": None,
        "org_default_reminders": None,
        "agenda": None,
    }
    ctx.update(changes)
    return ctx


def test_the_same_event_is_made_once_and_any_change_makes_it_anew() -> None:
    first = _event(_ctx(), BASE)
    assert _event(_ctx(), BASE) is first
    for column, value in [
        ("title", "另一个标题"),
        ("event_sequence", 1),
        ("reminders", '[{"before": "PT1H"}]'),
        ("org_default_reminders", '[{"before": "P1D"}]'),
        ("location", "北京"),
    ]:
        changed = _event(_ctx(**{column: value}), BASE)
        assert changed is not first and changed != first, column
    assert _event(_ctx(), "https://other.example.org").url.startswith("https://other.")


def test_values_that_cannot_be_a_key_still_make_the_event() -> None:
    ctx = _ctx(agenda=[], itinerary=[])
    assert _event(ctx, BASE).title == ctx["title"]
