"""The event form's registration settings over HTTP: the same service rules as the API,
bad question lines shown by their field in the reader's language, nothing half-saved."""

from __future__ import annotations

import uuid
from typing import Any

from events_svc.events.tables import Event
from tests.console.helpers import session_for
from tests.helpers import auth


async def test_registration_with_questions_through_the_form(
    app: Any, client: Any, make_org: Any
) -> None:
    org, key = await make_org(email="mishu@reg.example.org")
    session = await session_for(app, org_id=uuid.UUID(org["id"]), email="mishu@reg.example.org")
    client.cookies.set("console_session", session["cookie"], domain="events.example.org")
    form = {
        "_csrf": session["csrf"],
        "title": "第二届“本色与本土”社会工作论坛",
        "kind": "forum",
        "starts_at": "2027-06-10T09:00",
        "ends_at": "2027-06-10T17:00",
        "timezone": "Asia/Shanghai",
        "visibility": "public",
        "repeat": "none",
        "registration": "open",
        "registration_deadline": "2027-06-08T18:00",
        "registration_questions": (
            "所在机构 | short_text | required\n督导资格 | yes_no | optional\n"
        ),
    }
    bad = await client.post("/console/events", data=form)
    assert bad.status_code == 422
    assert 'id="registration_questions-error">第 2 行：题型应为' in bad.text
    assert "督导资格 | yes_no | optional" in bad.text  # what was typed stays
    client.cookies.set("lang", "en", domain="events.example.org")
    form["registration_questions"] = (
        "所在机构 | short_text | required\n督导资格 | one_choice | required | 初级"
    )
    english = await client.post("/console/events", data=form)
    assert english.status_code == 422
    assert 'id="registration_questions-error">needs two or more choices<' in english.text
    assert await Event.count() == 0
    client.cookies.delete("lang")

    form["registration_questions"] = (
        "所在机构 | short_text | required\n督导资格 | one_choice | 必填 | 初级；中级; 高级\n"
    )
    done = await client.post("/console/events", data=form)
    assert done.status_code == 303, done.text
    event_id = done.headers["location"].rsplit("/", 1)[1]
    made = (await client.get(f"/events/{event_id}", headers=auth(key))).json()
    assert made["registration"] == "open"
    assert made["registration_deadline"].startswith("2027-06-08T10:00:00")  # 18:00 in Shanghai
    assert made["registration_questions"] == [
        {"id": "q1", "label": "所在机构", "type": "short_text", "required": True, "choices": []},
        {
            "id": "q2",
            "label": "督导资格",
            "type": "one_choice",
            "required": True,
            "choices": ["初级", "中级", "高级"],
        },
    ]

    # the edit form shows them back; a question added at the top keeps the others' ids
    edit = await client.get(f"/console/events/{event_id}/edit")
    assert "督导资格 | one_choice | required | 初级; 中级; 高级" in edit.text
    assert (
        'name="registration_deadline" type="datetime-local" value="2027-06-08T18:00"' in edit.text
    )
    form["registration_questions"] = "职务 | short_text\n" + form["registration_questions"]
    changed = await client.post(f"/console/events/{event_id}/edit", data=form)
    assert changed.status_code == 303, changed.text
    after = (await client.get(f"/events/{event_id}", headers=auth(key))).json()
    assert [(q["id"], q["label"]) for q in after["registration_questions"]] == [
        ("q3", "职务"),
        ("q1", "所在机构"),
        ("q2", "督导资格"),
    ]
    assert after["registration_deadline"] == made["registration_deadline"]

    # a private event cannot open registration: the service's rule, by its field
    form["visibility"] = "private"
    refused = await client.post(f"/console/events/{event_id}/edit", data=form)
    assert refused.status_code == 422
    assert 'id="registration-error">只有公开活动才能开放报名<' in refused.text
