"""`events-svc demo`: the seed's story loads, mails go out in Chinese, and a second run adds
nothing."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar

from events_svc.demo import load_demo
from events_svc.events.tables import Event
from tests.helpers import auth
from tests.interop.parsers import check_all

TABLES = [
    "organization", "org_membership", "contact", "partnership", "partnership_party", "event",
    "delegation", "invitation", "notification", "attendance",
]  # fmt: skip


async def _counts() -> dict[str, int]:
    out = {}
    for table in TABLES:
        rows = await Event.raw(f"SELECT count(*) AS n FROM {table}")  # noqa: S608
        out[table] = rows[0]["n"]
    return out


async def test_demo_loads_the_story_once(
    app: Any, settings: Any, client: Any, smtp: Any, worker: Any
) -> None:
    first = await load_demo(settings=settings, queue=app.state.arq)
    assert set(first.organizations) == {"casw", "bjswa", "gdswa"}
    assert all(k.startswith("evs_") for k in first.organizations.values())
    assert first.notes == []
    counts = await _counts()
    assert counts["event"] == 3 and counts["partnership"] == 1 and counts["delegation"] == 2
    assert counts["attendance"] == 4  # two people at the two sessions already held

    second = await load_demo(settings=settings, queue=app.state.arq)
    assert second.events == first.events and second.partnership == first.partnership
    assert await _counts() == counts  # nothing twice

    await worker.drain()
    subjects = {str(m.message["Subject"]) for m in smtp.received}
    assert any(s.startswith("邀请：第二届社会工作本色与本土论坛") for s in subjects), subjects
    assert any(s.startswith("邀请：京粤社工行业组织到访交流座谈会") for s in subjects)
    (forum_mail, *_) = [
        m for m in smtp.for_recipient("chen.dudao@gdswa.example.org")
        if "本色与本土" in str(m.message["Subject"])
    ]  # fmt: skip
    text = forum_mail.message.get_body(("plain",)).get_content()
    assert "议程" in text and "主旨演讲：社会工作的本色与本土" in text
    assert "广东省社会工作师联合会、北京社会工作者协会 邀请您参加" in text

    # the forum is open to the profession: its public page carries the registration form
    forum = first.events["第二届社会工作本色与本土论坛"]
    page = await client.get(f"/e/{forum}")
    assert 'id="register-form"' in page.text
    assert all(q in page.text for q in ("所在机构", "职务", "督导资格"))
    assert "第二届社会工作本色与本土论坛" in (await client.get("/o/gdswa")).text

    deal = first.partnership
    feed = (await client.get(f"/feeds/partnerships/{deal}.ics")).content
    check_all(feed)
    titles = {str(v["SUMMARY"]) for v in Calendar.from_ical(feed).walk("VEVENT")}
    assert titles == {"第二届社会工作本色与本土论坛", "督导人才培养"}
    sessions = (await client.get("/feeds/orgs/gdswa.ics?detail=sessions")).content
    check_all(sessions)
    assert b"SUMMARY:\xe5\xbc\x80\xe5\xb9\x95\xe5\xbc\x8f" in sessions  # 开幕式

    key = first.organizations["bjswa"]
    training = first.events["督导人才培养"]
    completion = (await client.get(f"/events/{training}/completion", headers=auth(key))).json()
    attended = {p["email"]: p["attended"] for p in completion["people"]}
    assert attended["wang.dudao@bjswa.example.org"] == 2
    assert attended["zhao.dudao@bjswa.example.org"] == 0


def test_a_demo_that_cannot_load_says_why_and_exits_non_zero(monkeypatch: Any, capsys: Any) -> None:
    """`events-svc demo` (and so `events-svc dev --demo`) refuses with the reason, never with a
    traceback, and exits 1."""
    from events_svc import cli
    from events_svc.errors import InvalidInput

    async def refuse(settings: Any) -> dict[str, object]:
        raise InvalidInput.field("items.0.starts_at", "not within the event")

    monkeypatch.setattr(cli, "_demo", refuse)
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "events-svc demo: cannot load beside the data there" in err
    assert "items.0.starts_at" in err and "Traceback" not in err
