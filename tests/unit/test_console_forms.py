"""The console's form readers (pure): pasted addresses, the event form's recurrence, the
agenda's lines, and the Chinese wording of the services' messages."""

from __future__ import annotations

from events_svc.calendar.agenda import agenda_entries
from events_svc.web.agenda_page import as_text, parse
from events_svc.web.event_form import EventForm
from events_svc.web.forms import parse_pasted, say


def test_pasted_addresses_as_mail_programs_copy_them() -> None:
    found, bad = parse_pasted(
        '王五 <wang.wu@example.org>,\n\n  li.si@example.org;\n"Zhao, Liu" <zl@example.org>\n张三\n'
    )
    assert [(p.name, p.email, p.line) for p in found] == [
        ("王五", "wang.wu@example.org", 1),
        ("", "li.si@example.org", 3),
        ("Zhao, Liu", "zl@example.org", 4),
    ]
    assert bad == [(5, "张三")]


def test_weekly_recurrence_from_the_form() -> None:
    form = EventForm(repeat="weekly", days=["TU", "MO"], ends="count", count="8")
    assert form.recurrence() == "FREQ=WEEKLY;BYDAY=MO,TU;COUNT=8"
    # until a local date: the end of that day in the event's zone, as UTC (RFC 5545)
    until = EventForm(repeat="weekly", days=["FR"], ends="until", until="2027-07-02")
    assert until.recurrence() == "FREQ=WEEKLY;BYDAY=FR;UNTIL=20270702T155959Z"
    assert EventForm(repeat="rrule", rrule="FREQ=DAILY;COUNT=3").recurrence() == (
        "FREQ=DAILY;COUNT=3"
    )
    assert EventForm().recurrence() is None


def test_agenda_lines_round_trip() -> None:
    items, numbers, bad = parse(
        "2027-06-10 9:30-10:30 | 开幕式 | 第一会议室 | 张三 <zhang@example.org>; li@example.org\n"
        "\n2027-06-10 10:45-12:00 | 主旨演讲\nnot a line\n"
    )
    assert bad == ["4"] and numbers == [1, 3]
    assert items[0].starts_at.isoformat() == "2027-06-10T09:30:00"
    assert [s.email for s in items[0].speakers] == ["zhang@example.org", "li@example.org"]
    stored = [
        {
            "id": "a1",
            "title": "开幕式",
            "starts_at": "2027-06-10T09:30:00",
            "ends_at": "2027-06-10T10:30:00",
            "room": "第一会议室",
            "speakers": [{"email": "zhang@example.org", "name": "张三"}],
        }
    ]
    assert (
        as_text(agenda_entries(stored))
        == "2027-06-10 09:30-10:30 | 开幕式 | 第一会议室 | 张三 <zhang@example.org>"
    )


def test_service_messages_in_chinese() -> None:
    assert say("must be after starts_at", "zh-CN") == "结束时间必须晚于开始时间"
    assert say("must be after starts_at", "en") == "must be after starts_at"
    assert say("something new", "zh-CN") == "输入有误（something new）"
