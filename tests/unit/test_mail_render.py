"""The iMIP message builder, without SMTP: headers, structure, encodings."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from events_svc.calendar.ics import EventData, Party, itip
from events_svc.mail.headers import encoded_words
from events_svc.mail.render import (
    Links,
    MailContext,
    encode_header,
    recipient_header,
    render_message,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EVENT = EventData(
    uid="u1@events.example.org",
    sequence=3,
    title="第二届社会工作本色与本土论坛",
    description="京粤社工交流\n第二行",
    location="广州市越秀区",
    online_url="https://meet.example.org/x",
    url="https://events.example.org/events/x.ics",
    starts_at=datetime(2027, 6, 10, 9, 30),
    ends_at=datetime(2027, 6, 10, 17, 0),
    timezone="Asia/Shanghai",
    recurrence="FREQ=WEEKLY;COUNT=6",
    status="scheduled",
    created_at=NOW,
    updated_at=NOW,
)


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize(
    "name",
    [
        "张三",
        "Jane Doe",
        "Doe, Jane",
        'A "quoted" name',
        "",
        "José Müller",
        "李" * 200,
        "😀a" * 31,
        "x" * 90,
    ],
)
def test_to_header_fast_path_reads_like_the_policy_path(name: str) -> None:
    address = "someone@assoc.example.org"
    line = recipient_header(name, address)
    assert line.endswith(b"\r\n") and all(len(part) <= 998 for part in line.split(b"\r\n"))
    # decoded as RFC 2047 says: whitespace between adjacent encoded words is dropped (the
    # email package's own address parser keeps it, which clients do not)
    raw = line.decode().split(":", 1)[1].replace("\r\n", "")
    display, addr_spec = parseaddr(str(make_header(decode_header(raw))))
    assert addr_spec == address
    assert display == name


@pytest.mark.parametrize(
    "text", ["=?utf-8?q?Bank_=3Cceo@bank.example=3E?=", "李" * 200, "😀a" * 31, "é" * 46, "a"]
)
def test_encoded_words_decode_to_the_text_and_stay_short(text: str) -> None:
    words = encoded_words(text)
    assert all(len(line) <= 76 for line in words.split("\r\n"))
    assert str(make_header(decode_header(words.replace("\r\n", "")))) == text


def test_header_values_never_carry_line_breaks() -> None:
    with pytest.raises(ValueError, match="linefeed|carriage"):
        encode_header("Subject", "hi\r\nBcc: victim@example.org")
    line = recipient_header("Evil\r\nBcc: victim@example.org", "a@x.example.org")
    assert line.count(b"\r\n") == 1
    assert _parse(line + b"\r\n")["Bcc"] is None


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_message_structure_and_encodings(locale: str) -> None:
    ics = itip(
        "REQUEST",
        EVENT,
        organizer=Party("events@events.example.org", "广东省社会工作师联合会"),
        attendee=Party("li.si@gdswa.example.org", "李四"),
    )
    ctx = MailContext(
        kind="update",
        uninvited=False,
        locale=locale,  # type: ignore[arg-type]
        event=EVENT,
        org_name="广东省社会工作师联合会",
        org_email="office@gdswa.example.org",
        mail_from="events@events.example.org",
        recipient_email="li.si@gdswa.example.org",
        recipient_name="李四",
        role="chair",
        note="",
        links=Links(ics=EVENT.url),
        method="REQUEST",
        ics=ics,
        message_id_domain="events.example.org",
    )
    data, message_id = render_message(ctx, now=NOW)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    msg = _parse(data)
    assert msg["Message-ID"] == message_id
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/plain".replace("plain", "html"),
        "text/calendar",
        "application/ics",
    ]
    parts = list(msg.walk())
    assert parts[4].get_payload(decode=True) == ics == parts[5].get_payload(decode=True)
    text = parts[2].get_content()
    if locale == "zh-CN":
        assert msg["Subject"].startswith("更新：第二届社会工作本色与本土论坛")
        assert "每周，共 6 次" in text and "主持人" in text
    else:
        assert msg["Subject"].startswith("Updated: 第二届社会工作本色与本土论坛")
        assert "Weekly, 6 times" in text and "Chair" in text
    # the same context again: a new Message-ID and boundary, the same bodies
    again, other_id = render_message(ctx, now=NOW)
    assert other_id != message_id
    assert _parse(again).get_body(("plain",)).get_content() == text  # type: ignore[union-attr]
