"""Reading calendar clients' REPLY messages: every shape they come in, and every kind of junk."""

from __future__ import annotations

import base64
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from events_svc.inbound.parser import (
    MAX_COMMENT,
    MAX_MESSAGE_BYTES,
    MessageTooLarge,
    NotAReply,
    Reply,
    decode_text,
    describe,
    parse_replies,
)
from tests.inbound_messages import (
    apple_reply,
    bare_calendar_message,
    crlf,
    forwarded,
    gmail_reply,
    outlook_ics,
    outlook_reply,
    thunderbird_reply,
)

UID = "c0a8e9f2-5a1b-4c3d-9e8f-7a6b5c4d3e2f@events.example.org"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def one(raw: bytes) -> Reply:
    (reply,) = parse_replies(raw)
    return reply


# --- what the clients send ---------------------------------------------------------------


def test_outlook_accept_with_comment() -> None:
    raw = outlook_reply(
        uid=UID,
        attendee="Zhang.San@bjswa.example.org",
        comment="我会准时参加\\, 谢谢。\\n会后需要发票。",
        sequence=3,
    )
    assert b"X-MS-OLK" not in raw  # the calendar is base64, as Exchange sends it
    reply = one(raw)
    assert reply.uid == UID
    assert reply.attendee == "Zhang.San@bjswa.example.org"  # as given: matching ignores case
    assert reply.partstat == "ACCEPTED"
    assert reply.comment == "我会准时参加, 谢谢。\n会后需要发票。"
    assert reply.sequence == 3
    assert reply.recurrence_id is None
    assert reply.dtstamp == datetime(2027, 3, 1, 9, 2, 3, tzinfo=UTC)


def test_outlook_uppercase_mailto() -> None:
    reply = one(outlook_reply(uid=UID, attendee="ZHANG.SAN@BJSWA.EXAMPLE.ORG", mailto="MAILTO"))
    assert reply.attendee == "ZHANG.SAN@BJSWA.EXAMPLE.ORG"


def test_chinese_outlook_labelled_gb2312_written_as_gbk() -> None:
    # 喆 is in GBK but not in GB2312: decoding by the label alone would fail
    raw = outlook_reply(
        uid=UID,
        attendee="li.zhe@gdswa.example.org",
        charset="gb2312",
        cn="李喆",
        comment="抱歉，那天在外地出差（喆）。",
        partstat="DECLINED",
    )
    assert b'charset="gb2312"' in raw
    reply = one(raw)
    assert (reply.partstat, reply.comment) == ("DECLINED", "抱歉，那天在外地出差（喆）。")


def test_outlook_occurrence_in_a_windows_zone() -> None:
    reply = one(
        outlook_reply(
            uid=UID, attendee="zhang.san@bjswa.example.org", recurrence_id="20270318T140000"
        )
    )
    assert reply.recurrence_id is not None
    assert reply.recurrence_id.astimezone(UTC) == datetime(2027, 3, 18, 6, 0, tzinfo=UTC)


def test_outlook_series_answer_with_an_override_is_two_replies() -> None:
    raw = outlook_reply(
        uid=UID,
        attendee="zhang.san@bjswa.example.org",
        overrides=[("20270318T140000", "DECLINED")],
    )
    master, override = parse_replies(raw)
    assert (master.partstat, master.recurrence_id) == ("ACCEPTED", None)
    assert override.partstat == "DECLINED"
    assert override.recurrence_id is not None
    assert override.recurrence_id.astimezone(SHANGHAI).replace(tzinfo=None) == datetime(
        2027, 3, 18, 14, 0
    )


def test_gmail_quoted_printable_with_attachment() -> None:
    raw = gmail_reply(uid=UID, attendee="li.si@gdswa.example.org")
    # soft line breaks fall inside parameters of the calendar part
    assert b"CN=\r\n=3DLi Si" in raw
    reply = one(raw)  # the invite.ics copy does not count twice
    assert (reply.attendee, reply.partstat, reply.sequence) == (
        "li.si@gdswa.example.org",
        "ACCEPTED",
        0,
    )


def test_gmail_occurrence_in_utc() -> None:
    reply = one(
        gmail_reply(
            uid=UID,
            attendee="li.si@gdswa.example.org",
            partstat="DECLINED",
            recurrence_id_utc="20270318T060000Z",
        )
    )
    assert reply.recurrence_id == datetime(2027, 3, 18, 6, 0, tzinfo=UTC)


def test_apple_single_part_without_method_parameter() -> None:
    raw = apple_reply(
        uid=UID, attendee="wang.wu@icloud.example.com", comment="那周在北京开会", sequence=1
    )
    assert b"method=" not in raw.split(b"\n\n")[0]
    assert b"\r\n" not in raw  # bare LF line ends
    reply = one(raw)
    assert (reply.attendee, reply.partstat, reply.comment, reply.sequence) == (
        "wang.wu@icloud.example.com",
        "DECLINED",
        "那周在北京开会",
        1,
    )


def test_apple_occurrence_with_tzid() -> None:
    reply = one(
        apple_reply(uid=UID, attendee="wang.wu@icloud.example.com", recurrence_id="20270318T140000")
    )
    assert reply.recurrence_id == datetime(2027, 3, 18, 14, 0, tzinfo=SHANGHAI)


def test_apple_principal_uri_gives_way_to_email_parameter() -> None:
    reply = one(
        apple_reply(
            uid=UID,
            attendee="wang.wu@icloud.example.com",
            address="urn:uuid:0c8e2f4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b",
        )
    )
    assert reply.attendee == "wang.wu@icloud.example.com"


def test_thunderbird_tentative_with_comment() -> None:
    raw = thunderbird_reply(
        uid=UID, attendee="Jane.Doe@partner.example.org", comment="I may be late; see you there"
    )
    reply = one(raw)
    assert (reply.attendee, reply.partstat, reply.comment) == (
        "Jane.Doe@partner.example.org",
        "TENTATIVE",
        "I may be late; see you there",
    )


def test_thunderbird_occurrence() -> None:
    reply = one(
        thunderbird_reply(
            uid=UID,
            attendee="jane.doe@partner.example.org",
            partstat="ACCEPTED",
            recurrence_id="20270318T140000",
        )
    )
    assert reply.recurrence_id == datetime(2027, 3, 18, 14, 0, tzinfo=SHANGHAI)


def test_forwarded_reply_inside_an_attached_message() -> None:
    inner = thunderbird_reply(uid=UID, attendee="jane.doe@partner.example.org")
    assert one(forwarded(inner)).attendee == "jane.doe@partner.example.org"


# --- the calendar's own quirks -------------------------------------------------------------


def _reply_calendar(*vevent_lines: str, head: str = "METHOD:REPLY\n") -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//y//EN\n"
        + head
        + "BEGIN:VEVENT\n"
        + "\n".join(vevent_lines)
        + "\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def test_tab_folds_inside_a_quoted_cn_and_lowercase_method() -> None:
    calendar = _reply_calendar(
        f"UID:{UID}",
        'ATTENDEE;PARTSTAT=ACCEPTED;CN="Zhang,\n\tSan":mailto:zhang.san@\n\tbjswa.example.org',
        "DTSTAMP:20270301T000000Z",
        head="METHOD:reply\n",
    )
    reply = one(bare_calendar_message(calendar))
    assert (reply.attendee, reply.partstat) == ("zhang.san@bjswa.example.org", "ACCEPTED")


def test_method_after_the_vevent() -> None:
    calendar = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\n"
        f"UID:{UID}\nATTENDEE;PARTSTAT=DECLINED:mailto:a@example.org\n"
        "END:VEVENT\nMETHOD:REPLY\nEND:VCALENDAR\n"
    )
    assert one(bare_calendar_message(calendar)).partstat == "DECLINED"


def test_calendar_method_wins_over_the_mime_parameter() -> None:
    # Google has sent COUNTER with method=REPLY on the part
    calendar = _reply_calendar(
        f"UID:{UID}", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org", head="METHOD:COUNTER\n"
    )
    with pytest.raises(NotAReply, match="METHOD is COUNTER, not REPLY"):
        parse_replies(bare_calendar_message(calendar))


def test_missing_method_falls_back_to_the_mime_parameter() -> None:
    calendar = _reply_calendar(
        f"UID:{UID}", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org", head=""
    )
    assert one(bare_calendar_message(calendar)).partstat == "ACCEPTED"
    with pytest.raises(NotAReply, match="no METHOD"):
        parse_replies(bare_calendar_message(calendar, content_type="text/calendar"))


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/ics", "base64"),  # Horde
        ("application/octet-stream; name=reply.ics", "base64"),
        ("text/plain; charset=utf-8", "quoted-printable"),  # a calendar pasted as the body
        ("text/x-vcalendar; charset=utf-8", "7bit"),
    ],
)
def test_calendar_in_other_parts(content_type: str, encoding: str) -> None:
    calendar = _reply_calendar(f"UID:{UID}", "ATTENDEE;PARTSTAT=ACCEPTED:MAILTO:a@example.org")
    raw = bare_calendar_message(calendar, content_type=content_type, encoding=encoding)
    assert one(raw).attendee == "a@example.org"


def test_several_attendees_echoed_the_sender_answers() -> None:
    calendar = _reply_calendar(
        f"UID:{UID}",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:first@example.org",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:other@example.org",
        "ATTENDEE;PARTSTAT=DECLINED:mailto:Me@Example.org",
    )
    reply = one(bare_calendar_message(calendar, sender="Me <me@example.org>"))
    assert (reply.attendee, reply.partstat) == ("Me@Example.org", "DECLINED")
    reply = one(bare_calendar_message(calendar, sender="stranger@example.org"))
    assert reply.attendee == "first@example.org"  # no sender among them: the first


def test_attendee_without_partstat_is_needs_action() -> None:
    calendar = _reply_calendar(f"UID:{UID}", "ATTENDEE:mailto:a@example.org")
    assert one(bare_calendar_message(calendar)).partstat == "NEEDS-ACTION"


def test_floating_and_date_recurrence_ids() -> None:
    floating = _reply_calendar(
        f"UID:{UID}",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
        "RECURRENCE-ID:20270318T140000",
    )
    assert one(bare_calendar_message(floating)).recurrence_id == datetime(2027, 3, 18, 14, 0)
    day = _reply_calendar(
        f"UID:{UID}",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
        "RECURRENCE-ID;VALUE=DATE:20270318",
    )
    assert one(bare_calendar_message(day)).recurrence_id == datetime(2027, 3, 18, 0, 0)
    offset = _reply_calendar(
        f"UID:{UID}",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
        "RECURRENCE-ID;TZID=Europe/Berlin:20270318T070000",
    )
    got = one(bare_calendar_message(offset)).recurrence_id
    assert got is not None and got.utcoffset() == timedelta(hours=1)
    assert got.astimezone(timezone(timedelta(hours=8))).hour == 14


def test_comment_is_bounded() -> None:
    calendar = _reply_calendar(
        f"UID:{UID}",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
        "COMMENT:" + "长" * 5000,
    )
    assert len(one(bare_calendar_message(calendar)).comment) == MAX_COMMENT


def test_utf8_bom_and_nul_characters_are_dropped() -> None:
    calendar = _reply_calendar(f"UID:{UID}\x00", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org")
    raw = bare_calendar_message("\ufeff" + calendar, encoding="base64")
    assert one(raw).uid == UID


# --- what is refused ----------------------------------------------------------------------

GOOD = _reply_calendar(f"UID:{UID}", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org")

REFUSED = [
    (b"", "not an e-mail message"),
    (b"hello world", "not an e-mail message"),
    (b'{"uid": "x", "partstat": "ACCEPTED"}', "not an e-mail message"),
    (crlf(GOOD).encode(), "not an e-mail message"),  # a bare calendar is no e-mail
    (
        b"From: a@example.org\r\nSubject: hi\r\n\r\nSee you there!\r\n",
        "no text/calendar part",
    ),
    (
        bare_calendar_message("hello, this is not a calendar"),
        "not iCalendar",
    ),
    (
        bare_calendar_message("BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nUID:x\n"),
        "not valid iCalendar",
    ),
    (
        bare_calendar_message(GOOD.replace("METHOD:REPLY", "METHOD:REQUEST")),
        "METHOD is REQUEST, not REPLY",
    ),
    (
        bare_calendar_message(GOOD.replace("METHOD:REPLY", "METHOD:CANCEL")),
        "METHOD is CANCEL, not REPLY",
    ),
    (
        bare_calendar_message("BEGIN:VCALENDAR\nMETHOD:REPLY\nEND:VCALENDAR\n"),
        "no VEVENT",
    ),
    (
        bare_calendar_message(_reply_calendar(f"UID:{UID}", "SUMMARY:x")),
        "has no ATTENDEE",
    ),
    (
        bare_calendar_message(_reply_calendar("ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.org")),
        "has no UID",
    ),
    (
        bare_calendar_message(GOOD.replace("END:VEVENT", "SEQUENCE:soon\nEND:VEVENT")),
        "SEQUENCE of VEVENT .* is not a number",
    ),
    (
        bare_calendar_message(GOOD.replace("END:VEVENT", "SEQUENCE:99999999999\nEND:VEVENT")),
        "SEQUENCE of VEVENT .* out of range",
    ),
    (
        bare_calendar_message(GOOD.replace("END:VEVENT", "RECURRENCE-ID:tuesday\nEND:VEVENT")),
        "RECURRENCE-ID of VEVENT .* is not a date-time",
    ),
    (
        bare_calendar_message(
            GOOD.replace("END:VEVENT", "RECURRENCE-ID:99991231T235959Z\nEND:VEVENT")
        ),
        "RECURRENCE-ID of VEVENT .* out of range",
    ),
    (
        # Outlook sent the REQUEST back (a forward, not an answer)
        bare_calendar_message(
            outlook_ics(uid=UID, attendee="a@example.org").replace("METHOD:REPLY", "METHOD:REQUEST")
        ),
        "METHOD is REQUEST, not REPLY",
    ),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(NotAReply, match=reason):
        parse_replies(raw)


def test_one_broken_vevent_refuses_the_whole_message() -> None:
    calendar = (
        "BEGIN:VCALENDAR\nMETHOD:REPLY\n"
        f"BEGIN:VEVENT\nUID:{UID}\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org\nEND:VEVENT\n"
        f"BEGIN:VEVENT\nUID:{UID}\nRECURRENCE-ID:never\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:a@example.org\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    with pytest.raises(NotAReply, match="RECURRENCE-ID"):
        parse_replies(bare_calendar_message(calendar))


def test_a_request_copy_does_not_hide_the_reply_attached_after_it() -> None:
    both = forwarded(bare_calendar_message(GOOD)).replace(
        b"See the attached reply.", b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR"
    )
    assert one(both).partstat == "ACCEPTED"


def test_too_large_is_refused_before_parsing() -> None:
    raw = outlook_reply(uid=UID, attendee="a@example.org")
    padded = raw + b" " * (MAX_MESSAGE_BYTES + 1 - len(raw))
    with pytest.raises(MessageTooLarge):
        parse_replies(padded)
    assert parse_replies(raw)  # the same message within the limit is fine


# --- junk of every kind: a NotAReply or replies, never another exception ------------------


def _junk() -> list[bytes]:
    rng = random.Random(20270318)
    good = outlook_reply(uid=UID, attendee="zhang.san@bjswa.example.org")
    gmail = gmail_reply(uid=UID, attendee="li.si@gdswa.example.org")
    out = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 4000))) for _ in range(40)]
    out += [good[:n] for n in range(0, len(good), 97)]  # truncated anywhere
    out += [gmail[:n] for n in range(0, len(gmail), 131)]
    out += [
        good.replace(b"\r\n", b"\r"),
        good.replace(b"base64", b"x-uuencode"),
        good.replace(
            b"Content-Transfer-Encoding: base64\r\n\r\nQk",
            b"Content-Transfer-Encoding: base64\r\n\r\n*** not base64 ***Qk",
        ),  # fmt: skip
        bare_calendar_message(GOOD, content_type="text/calendar; charset=no-such-charset"),
        bare_calendar_message(GOOD, content_type="text/calendar; charset=base64"),
        bare_calendar_message(GOOD, content_type="text/calendar; charset=idna"),
        bare_calendar_message(GOOD, content_type="text/calendar; charset=utf-16"),
        bare_calendar_message(GOOD, content_type="text/calendar; charset*=utf-8''%ZZ"),
        bare_calendar_message(
            GOOD.replace("a@example.org", "+2D3-@example.org"),
            content_type="text/calendar; charset=utf-7; method=REPLY",
        ),
        bare_calendar_message(GOOD, content_type='text/calendar; method="REPLY'),
        bare_calendar_message(GOOD, content_type="multipart/mixed"),  # no boundary
        bare_calendar_message(GOOD, content_type="multipart/mixed; boundary=\x00"),
        b"Subject: " + b"x" * 1_000_000 + b"\r\nFrom: a@b\r\n\r\nbody",
        b"From: " + b"<" * 50_000 + b"\r\n\r\n",
        b"From: a@example.org\r\nContent-Type: text/calendar; " + b"a=b; " * 20_000 + b"\r\n\r\n",
        b"From: a\x00@b\r\nContent-Type: text/calendar\r\n\r\n\x00BEGIN:VCALENDAR\x00",
        b"\x00" * 10_000,
        _nested(2000),
        _many_parts(5000),
        bare_calendar_message(
            "BEGIN:VCALENDAR\nMETHOD:REPLY\n" + "BEGIN:VEVENT\n" * 500 + "END:VCALENDAR\n"
        ),
        bare_calendar_message(
            "BEGIN:VCALENDAR\nMETHOD:REPLY\n"
            + f"BEGIN:VEVENT\nUID:{UID}\nATTENDEE:mailto:a@b.org\nEND:VEVENT\n" * 200
            + "END:VCALENDAR\n"
        ),
        bare_calendar_message(
            GOOD.replace("ATTENDEE;PARTSTAT=ACCEPTED", 'ATTENDEE;PARTSTAT=ACCEPTED;CN="unclosed')
        ),
        bare_calendar_message(GOOD.replace("mailto:a@example.org", "")),
    ]
    return out


def _nested(depth: int) -> bytes:
    head = b"From: a@example.org\r\nMIME-Version: 1.0\r\n"
    body = b""
    for i in range(depth):
        body += f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
    return head + body + b"Content-Type: text/calendar\r\n\r\n" + crlf(GOOD).encode()


def _many_parts(count: int) -> bytes:
    parts = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    return (
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n"
        + parts
        + b"--p\r\nContent-Type: text/calendar\r\n\r\n"
        + crlf(GOOD).encode()
        + b"\r\n--p--\r\n"
    )


def test_junk_never_raises_anything_but_not_a_reply() -> None:
    started = time.monotonic()
    for raw in _junk():
        try:
            replies = parse_replies(raw)
        except NotAReply as exc:
            assert exc.reason
        else:
            for reply in replies:
                assert "\x00" not in reply.uid + reply.attendee + (reply.comment or "")
                reply.attendee.encode("utf-8")  # no lone surrogates reach PostgreSQL
                reply.uid.encode("utf-8")
        describe(raw)
    assert time.monotonic() - started < 60


_ROOM = MAX_MESSAGE_BYTES - 4096
HOSTILE = {
    # the stdlib's parameter parsing is quadratic: minutes for this one header
    "long Content-Type": b"From: a@example.org\r\nContent-Type: multipart/mixed; "
    + b"a=b; " * (_ROOM // 5)
    + b"\r\n\r\n",
    "long folded Content-Disposition, bare CR": b"From: a@example.org\rContent-Disposition: x;"
    + b"\r a=b;" * (_ROOM // 6)
    + b"\r\r",
    "empty parts": b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n"
    + b"--p\r\n\r\n" * (_ROOM // 7),
    "many calendar copies": b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=p"
    + b"\r\n\r\n"
    + (
        b"--p\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"
        + b"X-A:b\r\n" * 3000
    )
    * 200,
    "many components": bare_calendar_message(
        "BEGIN:VCALENDAR\nMETHOD:REPLY\n" + "BEGIN:VEVENT\nUID:x\nEND:VEVENT\n" * 20_000
    ),
    "many headers": b"From: a@example.org\r\n" + b"X-A: b\r\n" * (_ROOM // 8) + b"\r\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_structures_cost_little(name: str) -> None:
    raw = HOSTILE[name]
    assert len(raw) <= MAX_MESSAGE_BYTES
    started = time.monotonic()
    with pytest.raises(NotAReply):
        parse_replies(raw)
    assert time.monotonic() - started < 5  # about 1.5 s for the worst here


def test_lone_surrogates_from_utf7_are_replaced() -> None:
    raw = bare_calendar_message(
        GOOD.replace("a@example.org", "+2D3-a@example.org"),
        content_type="text/calendar; charset=utf-7; method=REPLY",
    )
    reply = one(raw)
    reply.attendee.encode("utf-8")


def test_a_large_message_parses_quickly() -> None:
    filler = base64.encodebytes(random.Random(1).randbytes(3_500_000))
    raw = outlook_reply(uid=UID, attendee="a@example.org").replace(
        b"--_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_--",
        b"--_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_\r\n"
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + crlf(filler.decode()).encode()
        + b"\r\n--_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_--",
    )
    assert len(raw) < MAX_MESSAGE_BYTES
    started = time.monotonic()
    assert one(raw).partstat == "ACCEPTED"
    assert time.monotonic() - started < 5


# --- charsets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("会议".encode(), "utf-8", "会议"),
        ("会议".encode("gb18030"), "gb2312", "会议"),
        ("喆".encode("gbk"), "GBK", "喆"),
        ("会议".encode("gb18030"), None, "会议"),  # undeclared, not UTF-8: GB18030
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße"),
        ("Grüße".encode("latin-1"), "no-such-charset", "Grüße"),
        ("会议".encode(), "us-ascii", "会议"),  # mislabelled UTF-8
        ("\ufeff会议".encode(), "iso-8859-1", "会议"),  # the BOM decides
        ("会议".encode("utf-16"), None, "会议"),
        (b"abc", "base64", "abc"),  # not a text codec
        (b"xn--abc", "idna", "xn--abc"),
    ],
)
def test_decode_text(data: bytes, charset: str | None, text: str) -> None:
    assert decode_text(data, charset) == text


def test_describe_names_the_message() -> None:
    raw = outlook_reply(uid=UID, attendee="zhang.san@bjswa.example.org")
    assert "SG2PR06MB3124" in describe(raw)
    assert describe(b"\xff\x00garbage").startswith("Message-ID '-'")
