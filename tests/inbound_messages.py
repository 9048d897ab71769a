"""iTIP REPLY messages shaped like those Outlook (Exchange), Gmail, Apple Calendar and
Thunderbird send: their MIME structure, transfer encodings, charsets, line ends, folding and
vendor properties, after RFC 6047 and the messages these clients are documented to produce
(Exchange's `X-MICROSOFT-CDO-*` / `X-MS-OLK-*` and Windows zone names, Google's UTC times and
`invite.ics` attachment, Apple's `EMAIL=` and parameter-less part, Lightning's 8bit part plus
attachment)."""

from __future__ import annotations

import base64
import quopri
from email.header import Header

ORGANIZER = "events@events.example.org"
SUBJECT_ZH = "第二届社会工作本色与本土论坛"

_OUTLOOK_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:China Standard Time
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0800
TZOFFSETTO:+0800
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T000000
TZOFFSETFROM:+0800
TZOFFSETTO:+0800
END:DAYLIGHT
END:VTIMEZONE
"""

_SHANGHAI_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Asia/Shanghai
X-LIC-LOCATION:Asia/Shanghai
BEGIN:STANDARD
TZOFFSETFROM:+0800
TZOFFSETTO:+0800
TZNAME:CST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE
"""


def fold(line: str, *, limit: int = 75, by_chars: bool = False, fold_char: str = " ") -> str:
    """An RFC 5545 content line folded at `limit` octets (or characters, as Google does)."""
    out: list[str] = []
    current = ""
    for ch in line:
        size = len(current) + 1 if by_chars else len((current + ch).encode())
        if size > limit:
            out.append(current)
            current = fold_char + ch
        else:
            current += ch
    out.append(current)
    return "\n".join(out)


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def b64(data: bytes) -> str:
    return crlf(base64.encodebytes(data).decode("ascii"))


def qp(data: bytes) -> str:
    return crlf(quopri.encodestring(data).decode("ascii"))


def rfc2047(text: str, charset: str = "utf-8") -> str:
    if text.isascii():
        return text
    if charset in ("gb2312", "gbk"):
        # labelled GB2312 but written as GBK, as Chinese Outlook does
        return f"=?{charset}?B?{base64.b64encode(text.encode('gb18030')).decode()}?="
    return Header(text, charset).encode()


# --- Outlook / Exchange ------------------------------------------------------------------


def outlook_ics(
    *,
    uid: str,
    attendee: str,
    partstat: str = "ACCEPTED",
    cn: str = "张三",
    comment: str | None = None,
    sequence: int = 0,
    recurrence_id: str | None = None,
    mailto: str = "mailto",
    overrides: list[tuple[str, str]] | None = None,
) -> str:
    """Exchange 2016 / Microsoft 365: Windows zone names with their VTIMEZONE, no ORGANIZER,
    SUMMARY rewritten, COMMENT with LANGUAGE, the X-MICROSOFT-CDO-* and X-MS-OLK-* lines.
    `overrides` adds (RECURRENCE-ID, PARTSTAT) VEVENTs after the master, as Outlook does when
    one answer covers a series with exceptions."""

    def vevent(partstat: str, recurrence_id: str | None, comment: str | None) -> str:
        lines = [
            "BEGIN:VEVENT",
            fold(f"ATTENDEE;PARTSTAT={partstat};CN={cn}:{mailto}:{attendee}"),
        ]
        if comment is not None:
            lines.append(fold(f"COMMENT;LANGUAGE=zh-CN:{comment}"))
        lines += [
            fold(f"SUMMARY;LANGUAGE=zh-CN:已接受: {SUBJECT_ZH}"),
            "DTSTART;TZID=China Standard Time:20270610T093000",
            "DTEND;TZID=China Standard Time:20270610T170000",
            fold(f"UID:{uid}"),
        ]
        if recurrence_id is not None:
            lines.append(f"RECURRENCE-ID;TZID=China Standard Time:{recurrence_id}")
        lines += [
            "CLASS:PUBLIC",
            "PRIORITY:5",
            "DTSTAMP:20270301T090203Z",
            "TRANSP:OPAQUE",
            "STATUS:CONFIRMED",
            f"SEQUENCE:{sequence}",
            fold("LOCATION;LANGUAGE=zh-CN:广州市越秀区"),
            f"X-MICROSOFT-CDO-APPT-SEQUENCE:{sequence}",
            "X-MICROSOFT-CDO-OWNERAPPTID:2117715584",
            "X-MICROSOFT-CDO-REPLYTIME:20270301T090203Z",
            "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
            "X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY",
            "X-MICROSOFT-CDO-ALLDAYEVENT:FALSE",
            "X-MICROSOFT-CDO-IMPORTANCE:1",
            f"X-MICROSOFT-CDO-INSTTYPE:{3 if recurrence_id else 0}",
            "X-MICROSOFT-DONOTFORWARDMEETING:FALSE",
            "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
            "X-MS-OLK-AUTOSTARTCHECK:FALSE",
            "X-MS-OLK-CONFTYPE:0",
            fold(f'X-MS-OLK-SENDER;CN="{cn}":mailto:{attendee}'),
            "END:VEVENT",
        ]
        return "\n".join(lines) + "\n"

    body = vevent(partstat, recurrence_id, comment)
    for occurrence, answer in overrides or []:
        body += vevent(answer, occurrence, None)
    return (
        "BEGIN:VCALENDAR\nMETHOD:REPLY\nPRODID:Microsoft Exchange Server 2010\nVERSION:2.0\n"
        + _OUTLOOK_VTIMEZONE
        + body
        + "END:VCALENDAR\n"
    )


def outlook_reply(
    *, attendee: str, charset: str = "utf-8", to: str = ORGANIZER, **ics: object
) -> bytes:
    """multipart/alternative: an empty text/plain and the calendar, both base64, as Exchange
    sends an answer without a note in the body."""
    cn = str(ics.get("cn", "张三"))
    calendar = crlf(outlook_ics(attendee=attendee, **ics))  # type: ignore[arg-type]
    encoded = calendar.encode("gb18030" if charset in ("gb2312", "gbk") else charset)
    message = f"""From: {rfc2047(cn, charset)} <{attendee}>
To: {rfc2047("广东省社会工作师联合会", charset)} <{to}>
Subject: {rfc2047("已接受: " + SUBJECT_ZH, charset)}
Thread-Topic: {rfc2047(SUBJECT_ZH, charset)}
Thread-Index: AQHZbY2R3x1oQ0fE0kS8q6vJx0o9Zg==
Date: Mon, 1 Mar 2027 09:02:03 +0000
Message-ID: <SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42@SG2PR06MB3124.apcprd06.prod.outlook.com>
Accept-Language: zh-CN, en-US
Content-Language: zh-CN
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
x-ms-exchange-calendar-series-instance-id: BAAAAIIA4AB0xbcQGoLgCAAAAAAwX2nGLmzbAQAAAAAAAAAAEAAAAA==
x-ms-publictraffictype: Email
Content-Type: multipart/alternative;
\tboundary="_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_"
MIME-Version: 1.0

--_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_
Content-Type: text/plain; charset="{charset}"
Content-Transfer-Encoding: base64

{b64(b"")}
--_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_
Content-Type: text/calendar; charset="{charset}"; method=REPLY
Content-Transfer-Encoding: base64

{b64(encoded)}
--_000_SG2PR06MB31245A1C0E2B7D3E9F0C1D2AB9E42SG2PR06MB3124apcp_--
"""
    return crlf(message).encode("ascii")


# --- Gmail / Google Calendar ---------------------------------------------------------------


def gmail_ics(
    *,
    uid: str,
    attendee: str,
    partstat: str = "ACCEPTED",
    name: str = "Li Si",
    sequence: int = 0,
    organizer: str = ORGANIZER,
    recurrence_id_utc: str | None = None,
) -> str:
    """Google: UTC times, CALSCALE, ORGANIZER kept, X-NUM-GUESTS, DESCRIPTION folded by
    characters (continuation lines over 75 octets with Chinese text)."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:REPLY",
        "BEGIN:VEVENT",
        "DTSTART:20270610T013000Z",
        "DTEND:20270610T090000Z",
        "DTSTAMP:20270301T101112Z",
        fold(f"ORGANIZER;CN=广东省社会工作师联合会:mailto:{organizer}", by_chars=True),
        fold(f"UID:{uid}", by_chars=True),
    ]
    if recurrence_id_utc is not None:
        lines.append(f"RECURRENCE-ID:{recurrence_id_utc}")
    lines += [
        fold(
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT="
            f"{partstat};CN={name};X-NUM-GUESTS=0:mailto:{attendee}",
            by_chars=True,
        ),
        "X-MICROSOFT-CDO-OWNERAPPTID:-1512343542",
        "CREATED:20270220T080000Z",
        fold("DESCRIPTION:" + "京粤社工交流。" * 12 + "\\n\\n-::~:~::~:~:~:~:~::-", by_chars=True),
        "LAST-MODIFIED:20270301T101112Z",
        fold("LOCATION:广州市越秀区", by_chars=True),
        f"SEQUENCE:{sequence}",
        "STATUS:CONFIRMED",
        fold(f"SUMMARY:{SUBJECT_ZH}", by_chars=True),
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return crlf("\n".join(lines) + "\n")


def gmail_reply(*, attendee: str, name: str = "Li Si", to: str = ORGANIZER, **ics: object) -> bytes:
    """multipart/mixed: (text/plain, text/html, text/calendar method=REPLY in quoted-printable,
    whose soft breaks fall inside parameters) plus the same calendar as invite.ics."""
    calendar = gmail_ics(attendee=attendee, name=name, organizer=to, **ics).encode()  # type: ignore[arg-type]
    text = f"{name} has accepted this invitation.\n\n{SUBJECT_ZH}\n".encode()
    html = f"<html><body><p>{name} has accepted this invitation.</p></body></html>".encode()
    message = f"""MIME-Version: 1.0
Date: Mon, 1 Mar 2027 18:11:12 +0800
Message-ID: <CAJ8Yk3gP0h1xq2Lw7eT3=mXw8pQ4r5s6t7u8v9w0x1y2z3A4B5C@mail.gmail.com>
Subject: {rfc2047("Accepted: " + SUBJECT_ZH + " @ Thu Jun 10, 2027 9:30am - 5pm (CST)")}
From: {rfc2047(name)} <{attendee}>
To: {to}
Content-Type: multipart/mixed; boundary="000000000000d1a2b305f1c4e7a9"

--000000000000d1a2b305f1c4e7a9
Content-Type: multipart/alternative; boundary="000000000000d1a2b105f1c4e7a7"

--000000000000d1a2b105f1c4e7a7
Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes
Content-Transfer-Encoding: base64

{b64(text)}
--000000000000d1a2b105f1c4e7a7
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(html)}
--000000000000d1a2b105f1c4e7a7
Content-Type: text/calendar; charset="UTF-8"; method=REPLY
Content-Transfer-Encoding: quoted-printable

{qp(calendar)}
--000000000000d1a2b105f1c4e7a7--
--000000000000d1a2b305f1c4e7a9
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{b64(calendar)}
--000000000000d1a2b305f1c4e7a9--
"""
    return crlf(message).encode("ascii")


# --- Apple Calendar ------------------------------------------------------------------------


def apple_ics(
    *,
    uid: str,
    attendee: str,
    partstat: str = "DECLINED",
    name: str = "王五",
    comment: str | None = None,
    sequence: int = 0,
    organizer: str = ORGANIZER,
    recurrence_id: str | None = None,
    address: str | None = None,
) -> str:
    """macOS / iOS Calendar: IANA TZID with its VTIMEZONE, `EMAIL=` on ATTENDEE, REQUEST-STATUS,
    the note as X-CALENDARSERVER-PRIVATE-COMMENT, bare LF line ends. `address` replaces the
    mailto: value (Apple writes a principal `urn:uuid:` there for some accounts)."""
    lines = [
        "BEGIN:VCALENDAR",
        "METHOD:REPLY",
        "PRODID:-//Apple Inc.//macOS 14.4//EN",
        "VERSION:2.0",
        *_SHANGHAI_VTIMEZONE.splitlines(),
        "BEGIN:VEVENT",
        fold(
            f"ATTENDEE;CN={name};CUTYPE=INDIVIDUAL;EMAIL={attendee};PARTSTAT={partstat}:"
            + (address or f"mailto:{attendee}")
        ),
        "DTEND;TZID=Asia/Shanghai:20270610T170000",
        "DTSTAMP:20270302T031500Z",
        "DTSTART;TZID=Asia/Shanghai:20270610T093000",
        fold(f"ORGANIZER;CN=广东省社会工作师联合会;EMAIL={organizer}:mailto:{organizer}"),
        "REQUEST-STATUS:2.0;Success",
        f"SEQUENCE:{sequence}",
        fold(f"SUMMARY:{SUBJECT_ZH}"),
        fold(f"UID:{uid}"),
    ]
    if recurrence_id is not None:
        lines.append(f"RECURRENCE-ID;TZID=Asia/Shanghai:{recurrence_id}")
    if comment is not None:
        lines.append(fold(f"X-CALENDARSERVER-PRIVATE-COMMENT:{comment}"))
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\n".join(lines) + "\n"


def apple_reply(*, attendee: str, name: str = "王五", to: str = ORGANIZER, **ics: object) -> bytes:
    """The whole message is one text/calendar part without `method=` (Apple omits it),
    quoted-printable."""
    calendar = apple_ics(attendee=attendee, name=name, organizer=to, **ics).encode()  # type: ignore[arg-type]
    encoded = quopri.encodestring(calendar).decode("ascii")
    message = f"""From: {rfc2047(name)} <{attendee}>
Content-Type: text/calendar; charset=utf-8
Content-Transfer-Encoding: quoted-printable
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))
Subject: {rfc2047("Declined: " + SUBJECT_ZH)}
Message-Id: <8F1E9C7B-3D2A-4B5C-9E6F-0A1B2C3D4E5F@icloud.example.com>
Date: Tue, 2 Mar 2027 11:15:00 +0800
To: {to}

{encoded}"""
    return message.encode("ascii")  # bare LF, as it arrives from some relays


# --- Thunderbird -----------------------------------------------------------------------------


def thunderbird_ics(
    *,
    uid: str,
    attendee: str,
    partstat: str = "TENTATIVE",
    name: str = "Jane Doe",
    comment: str | None = None,
    sequence: int = 0,
    organizer: str = ORGANIZER,
    recurrence_id: str | None = None,
) -> str:
    """Lightning: Mozilla PRODID, RSVP/ROLE on ATTENDEE, COMMENT, X-MOZ-* lines, CRLF."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN",
        "VERSION:2.0",
        "METHOD:REPLY",
        *_SHANGHAI_VTIMEZONE.splitlines(),
        "BEGIN:VEVENT",
        "CREATED:20270220T080000Z",
        "LAST-MODIFIED:20270303T020000Z",
        "DTSTAMP:20270303T020000Z",
        fold(f"UID:{uid}"),
        fold(f"SUMMARY:{SUBJECT_ZH}"),
        fold(f"ORGANIZER;CN=广东省社会工作师联合会:mailto:{organizer}"),
        fold(
            f"ATTENDEE;RSVP=TRUE;CN={name};PARTSTAT={partstat};ROLE=OPT-PARTICIPANT:"
            f"mailto:{attendee}"
        ),
    ]
    if recurrence_id is not None:
        lines.append(f"RECURRENCE-ID;TZID=Asia/Shanghai:{recurrence_id}")
    lines += [
        "DTSTART;TZID=Asia/Shanghai:20270610T093000",
        "DTEND;TZID=Asia/Shanghai:20270610T170000",
        f"SEQUENCE:{sequence}",
    ]
    if comment is not None:
        lines.append(fold(f"COMMENT:{comment}"))
    lines += [
        "X-MOZ-SEND-INVITATIONS:TRUE",
        "X-MOZ-INVITED-ATTENDEE:mailto:" + attendee,
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return crlf("\n".join(lines) + "\n")


def thunderbird_reply(
    *, attendee: str, name: str = "Jane Doe", to: str = ORGANIZER, **ics: object
) -> bytes:
    """multipart/mixed: text/plain, text/calendar method=REPLY in 8bit, and invite.ics."""
    calendar = thunderbird_ics(attendee=attendee, name=name, organizer=to, **ics)  # type: ignore[arg-type]
    message = f"""Message-ID: <4f1c2d3e-5a6b-7c8d-9e0f-a1b2c3d4e5f6@partner.example.org>
Date: Wed, 3 Mar 2027 10:00:00 +0800
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
From: {rfc2047(name)} <{attendee}>
To: {to}
Subject: {rfc2047("Tentative: " + SUBJECT_ZH)}
Content-Type: multipart/mixed; boundary="------------0a1B2c3D4e5F6g7H8i9J0k1L"

This is a multi-part message in MIME format.
--------------0a1B2c3D4e5F6g7H8i9J0k1L
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

{name} has tentatively accepted this invitation.

--------------0a1B2c3D4e5F6g7H8i9J0k1L
Content-Type: text/calendar; charset=UTF-8; method=REPLY
Content-Transfer-Encoding: 8bit

{calendar}
--------------0a1B2c3D4e5F6g7H8i9J0k1L
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{b64(calendar.encode())}
--------------0a1B2c3D4e5F6g7H8i9J0k1L--
"""
    return crlf(message).encode()


# --- anything else ---------------------------------------------------------------------------


def bare_calendar_message(
    calendar: str,
    *,
    content_type: str = 'text/calendar; charset="utf-8"; method=REPLY',
    encoding: str = "8bit",
    sender: str = "someone@example.org",
    to: str = ORGANIZER,
) -> bytes:
    """A single-part message around a calendar (or any text), for the odd cases."""
    body = calendar.encode("utf-8", errors="surrogateescape")
    if encoding == "base64":
        payload = b64(body).encode()
    elif encoding == "quoted-printable":
        payload = qp(body).encode()
    else:
        payload = crlf(calendar).encode("utf-8", errors="surrogateescape")
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: reply\r\n"
        f"Date: Mon, 1 Mar 2027 09:00:00 +0000\r\nMessage-ID: <x1@example.org>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode() + payload


def forwarded(inner: bytes, *, to: str = ORGANIZER) -> bytes:
    """An Outlook forward: the original reply as a message/rfc822 attachment."""
    return (
        crlf(
            f"""From: Assistant <assistant@gdswa.example.org>
To: {to}
Subject: FW: reply
Date: Mon, 1 Mar 2027 10:00:00 +0000
Message-ID: <fw1@gdswa.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain; charset="utf-8"

See the attached reply.
--fwd
Content-Type: message/rfc822
Content-Disposition: attachment

"""
        ).encode()
        + inner
        + b"\r\n--fwd--\r\n"
    )
