"""Reading the iTIP REPLY (RFC 5546, carried as iMIP: RFC 6047) that calendar clients send back.

Pure functions. The reader is tolerant: the calendar may sit anywhere in the message, in any
transfer encoding and charset; METHOD inside the calendar is trusted over the MIME `method=`.
Anything that is not a usable REPLY raises `NotAReply` with a reason fit for a problem document.

Every cost is bounded, since anyone can send mail: the stdlib's parameter parsing is quadratic
in the length of a Content-Type header (minutes for one of 5 MB), so such headers are refused
first, and messages are parsed with `policy.compat32` (`policy.default` also parses every
structured header while reading, about 100 times slower on long ones).
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import collapse_rfc2231_value, getaddresses
from typing import Any, TypeVar

from icalendar import Calendar
from icalendar.cal import Component

#: larger messages are refused before parsing; a REPLY is a few kilobytes, 5 MiB leaves room
#: for a quoted original invitation and a signature image or two
MAX_MESSAGE_BYTES = 5 * 1024 * 1024
#: the same bound as a comment given on the RSVP page
MAX_COMMENT = 2000
#: a reply holds one VEVENT, or a master and its overrides; more is not a reply
MAX_VEVENTS = 100
#: calendar parts larger than this (all copies together), or with more components, are no
#: reply: a real one is a few kilobytes, and icalendar reads hostile input at 0.3 to 1 MB/s
MAX_CALENDAR_CHARS = 256 * 1024
MAX_COMPONENTS = 500
#: a Content-Type or Content-Disposition header longer than this (unfolded) refuses the message
MAX_MIME_HEADER = 8192
#: lines starting with "--" (boundaries) beyond this refuse it too: the stdlib's parser takes
#: seconds over hundreds of thousands of empty parts
MAX_BOUNDARY_LINES = 1000
#: MIME parts examined, and how deeply nested, before giving up on a message
MAX_PARTS = 200
MAX_DEPTH = 20

# at least one of these makes bytes an e-mail message (anything parses as "headers" otherwise)
_MAIL_HEADERS = ("from", "date", "message-id", "mime-version", "content-type", "received")
_MIME_HEADER = re.compile(rb"(?i)(content-type|content-disposition)[ \t]*:")
_LINE_END = re.compile(rb"\r\n?|\n")
_CALENDAR_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics")
_CALENDAR_SUFFIXES = (".ics", ".ical", ".ifb", ".vcs")
# declared GB2312 / GBK text from Chinese Outlook often holds characters only GB18030 (their
# superset) can decode; ASCII-labelled parts are often UTF-8 in practice
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
}
# Python codecs that are no charset of a mail part (and, for IDNA and punycode, slow on
# large input)
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape"})
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
# datetimes outside this range are no occurrence of ours, and could overflow zone arithmetic
_FIRST_YEAR, _LAST_YEAR = 1900, 2999

T = TypeVar("T")


class NotAReply(ValueError):
    """The message holds no usable iTIP REPLY; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageTooLarge(NotAReply):
    """The message is over MAX_MESSAGE_BYTES."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: an ATTENDEE's PARTSTAT for a UID (and one occurrence, with RECURRENCE-ID)."""

    uid: str
    attendee: str  #: the address as given, without `mailto:`
    partstat: str  #: upper case: ACCEPTED, DECLINED, TENTATIVE, ... (NEEDS-ACTION if absent)
    comment: str | None  #: None when the VEVENT has no COMMENT
    sequence: int | None
    #: aware when given with TZID or Z; naive when floating (local to the event) or a date
    recurrence_id: datetime | None
    dtstamp: datetime | None


def parse_replies(raw: bytes) -> list[Reply]:
    """The answers of an RFC 822 message holding an iTIP REPLY, one per VEVENT."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"the message is larger than {MAX_MESSAGE_BYTES // 2**20} MiB")
    _check_structure(raw)
    message = _parse_message(raw)
    senders = _sender_addresses(message)
    first_problem: NotAReply | None = None
    budget = MAX_CALENDAR_CHARS  # for all copies together: each costs icalendar a parse
    for text, mime_method in _calendar_texts(message):
        budget -= len(text)
        if budget < 0:
            raise first_problem or NotAReply(
                f"the calendar parts are larger than {MAX_CALENDAR_CHARS // 1024} KiB"
            )
        try:
            return _replies_in(text, mime_method=mime_method, senders=senders)
        except NotAReply as exc:
            # Gmail and Thunderbird attach the calendar twice: another copy may still do
            first_problem = first_problem or exc
    raise first_problem or NotAReply("no text/calendar part")


def describe(raw: bytes) -> str:
    """`Message-ID` and `From` of a message, for log lines about it."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
        values = {k.lower(): str(v) for k, v in headers.items()}
    except Exception:  # noqa: BLE001 - only for a log line: whatever the bytes, say so
        return "(unreadable headers)"
    message_id = values.get("message-id", "").strip()[:200] or "-"
    sender = values.get("from", "").strip()[:200] or "-"
    return f"Message-ID {message_id!r} from {sender!r}"


#: where the reply address a message was sent to shows, for an inbound hook that does not
#: pass the envelope recipient (the MTA's Delivered-To / X-Original-To, then To)
RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "to")


def header_addresses(raw: bytes, names: tuple[str, ...]) -> list[str]:
    """The addresses in the named headers (the start of each: parsing is not linear), in
    the order of `names`; junk yields none."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536].lstrip())
    except Exception:  # noqa: BLE001 - whatever the bytes, they name no address
        return []
    found: list[str] = []
    for name in names:
        values = [str(v)[:2000] for k, v in headers.raw_items() if k.lower() == name]
        pairs: list[tuple[str, str]] = _safe(functools.partial(getaddresses, values), [])
        found += [addr for _name, addr in pairs[:50] if addr and "@" in addr]
    return found


# --- the message -------------------------------------------------------------------------


def _safe(read: Callable[[], T], default: T) -> T:
    """`read()`, or `default` when the stdlib trips over a malformed header: its parameter
    and address parsing has raised IndexError, AttributeError and others on hostile input,
    and one bad header must not decide the fate of the whole message."""
    try:
        return read()
    except Exception:  # noqa: BLE001 - see the docstring
        return default


def _check_structure(raw: bytes) -> None:
    """Refuse, before the stdlib parses it, a message that would take it seconds or minutes:
    a Content-Type or Content-Disposition header (anywhere: each part has its own) longer
    than MAX_MIME_HEADER with its continuation lines, or too many boundary lines."""
    length = -1  # -1: not inside such a header
    boundaries = 0
    for line in _LINE_END.split(raw):
        if length >= 0 and line[:1] in (b" ", b"\t"):
            length += len(line)
        else:
            length = len(line) if _MIME_HEADER.match(line) else -1
        if length > MAX_MIME_HEADER:
            raise NotAReply(f"a MIME header is longer than {MAX_MIME_HEADER} characters")
        if line[:2] == b"--":
            boundaries += 1
            if boundaries > MAX_BOUNDARY_LINES:
                raise NotAReply(f"more than {MAX_BOUNDARY_LINES} MIME boundaries")


def _parse_message(raw: bytes) -> Message:
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw.lstrip(b"\r\n"))
    except RecursionError as exc:
        raise NotAReply("not an e-mail message: MIME parts nested too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything it raises is junk
        raise NotAReply("not an e-mail message") from exc
    names = {name.lower() for name, _value in message.raw_items()}
    if not names.intersection(_MAIL_HEADERS):
        raise NotAReply(
            "not an e-mail message: no From, Date, Message-ID, MIME-Version or Content-Type header"
        )
    return message


def _sender_addresses(message: Message) -> set[str]:
    """Lower-cased addresses of From and Sender (the start of them: parsing is not linear)."""
    raw = [str(v)[:2000] for k, v in message.raw_items() if k.lower() in ("from", "sender")]
    pairs: list[tuple[str, str]] = _safe(lambda: getaddresses(raw), [])
    return {addr.lower() for _name, addr in pairs if addr}


def _walk(message: Message) -> Iterator[Message]:
    """Leaf parts in document order (into attached messages too), within the bounds."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        if _safe(part.is_multipart, False):
            children: Any = _safe(part.get_payload, None)
            if depth < MAX_DEPTH and isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))
        else:
            yield part


def _calendar_texts(message: Message) -> Iterator[tuple[str, str | None]]:
    """(text, MIME `method=`) of each part that may hold a calendar, most likely first: a
    text/calendar part, then an .ics-like attachment, then any part whose text is a calendar
    (the whole body of a bare message, a text/plain paste)."""
    ranked: list[tuple[int, int, Message]] = []
    for order, part in enumerate(_walk(message)):
        content_type = _safe(part.get_content_type, "text/plain")
        filename = (_safe(part.get_filename, None) or "").strip().lower()
        if content_type == "text/calendar":
            ranked.append((0, order, part))
        elif content_type in _CALENDAR_TYPES or filename.endswith(_CALENDAR_SUFFIXES):
            ranked.append((1, order, part))
        elif content_type in ("text/plain", "application/octet-stream"):
            ranked.append((2, order, part))
    for rank, _order, part in sorted(ranked, key=lambda r: r[:2]):
        text = _text_of(part)
        if text is None:
            continue
        if rank == 2 and not text.lstrip()[:15].upper().startswith("BEGIN:VCALENDAR"):
            continue
        yield text, _method_param(part)


def _method_param(part: Message) -> str | None:
    """The `method=` of a calendar part (only a fallback: the calendar's METHOD comes first)."""
    value = _safe(lambda: part.get_param("method"), None)
    if not value:
        return None
    return str(_safe(lambda: collapse_rfc2231_value(value), "")).strip().upper() or None


def _text_of(part: Message) -> str | None:
    payload = _safe(lambda: part.get_payload(decode=True), None)
    if not isinstance(payload, bytes):
        return None
    charset = _safe(part.get_content_charset, None)
    # PostgreSQL text cannot hold U+0000, and no calendar has a use for it
    return decode_text(payload, charset).replace("\x00", "")


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes of a calendar part as text: a BOM first, then the declared charset (when it is a
    real text encoding), then UTF-8 (RFC 5545's default), GB18030 and, always, Latin-1."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if data.startswith(bom):
            return _scrubbed(data.decode(encoding, errors="replace")).lstrip("\ufeff")
    declared = (charset or "").strip().strip('"').lower()
    declared = _CHARSET_ALIASES.get(declared, declared)
    attempts = [declared] if declared else []
    attempts += [c for c in ("utf-8", "gb18030") if c != declared]
    for encoding in attempts:
        try:
            if codecs.lookup(encoding).name in _NOT_CHARSETS:
                continue
            text = data.decode(encoding)
            if encoding == "gb18030" and encoding != declared and _PRIVATE_USE.search(text):
                continue  # GB18030 decodes almost any bytes; private-use characters betray a guess
            return _scrubbed(text)
        except (LookupError, ValueError):  # unknown (or not a text) codec, or not this one
            continue
    if declared == "utf-8":
        return data.decode("utf-8", errors="replace")
    return data.decode("latin-1")


def _scrubbed(text: str) -> str:
    """Lone surrogates (UTF-7 can encode them) replaced: PostgreSQL takes only real UTF-8."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


# --- the calendar ------------------------------------------------------------------------


def _replies_in(text: str, *, mime_method: str | None, senders: set[str]) -> list[Reply]:
    upper = text.upper()
    if "BEGIN:VCALENDAR" not in upper:
        raise NotAReply("the calendar part is not iCalendar (no BEGIN:VCALENDAR)")
    if upper.count("BEGIN:") > MAX_COMPONENTS:
        raise NotAReply(f"the calendar has more than {MAX_COMPONENTS} components")
    try:
        components = Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # noqa: BLE001 - icalendar raises many kinds on broken input
        raise NotAReply("the calendar part is not valid iCalendar") from exc
    calendar = next((c for c in components if c.name == "VCALENDAR"), None)
    if calendar is None:
        raise NotAReply("the calendar part is not valid iCalendar (no complete VCALENDAR)")
    method = _text_value(calendar.get("METHOD")).upper() or (mime_method or "")
    if not method:
        raise NotAReply("the calendar has no METHOD")
    if method != "REPLY":
        raise NotAReply(f"METHOD is {_shown(method)}, not REPLY")
    vevents = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    if not vevents:
        raise NotAReply("the calendar has no VEVENT")
    if len(vevents) > MAX_VEVENTS:
        raise NotAReply(f"the calendar has more than {MAX_VEVENTS} VEVENTs")
    # every VEVENT is read before any is applied: one broken VEVENT refuses the whole message
    return [_reply_of(vevent, senders) for vevent in vevents]


def _reply_of(vevent: Component, senders: set[str]) -> Reply:
    uid = _text_value(vevent.get("UID"))
    if not uid:
        raise NotAReply("a VEVENT has no UID")
    attendee = _replying_attendee(vevent, senders)
    if attendee is None:
        raise NotAReply(f"the VEVENT {_shown(uid)} has no ATTENDEE")
    address = _address_of(attendee)
    if not address:
        raise NotAReply(f"the ATTENDEE of VEVENT {_shown(uid)} has no address")
    partstat = str(attendee.params.get("PARTSTAT") or "NEEDS-ACTION").strip().upper()[:40]
    comment = _text_value(vevent.get("COMMENT"), join=True) or _text_value(
        vevent.get("X-CALENDARSERVER-PRIVATE-COMMENT"), join=True
    )
    return Reply(
        uid=uid,
        attendee=address,
        partstat=partstat,
        # no COMMENT at all: None, so the answer keeps a comment left on the RSVP page
        comment=comment[:MAX_COMMENT] if comment else None,
        sequence=_sequence(vevent, uid),
        recurrence_id=_recurrence_id(vevent, uid),
        dtstamp=_dtstamp(vevent),
    )


def _replying_attendee(vevent: Component, senders: set[str]) -> Any:
    """The ATTENDEE who answers: a REPLY names one; a client that echoes the whole list gives
    each a PARTSTAT, and then the one who sent the message is the one answering."""
    attendees = [a for a in _all(vevent.get("ATTENDEE")) if hasattr(a, "params")]
    answering = [a for a in attendees if a.params.get("PARTSTAT")] or attendees
    for attendee in answering:
        if _address_of(attendee).lower() in senders:
            return attendee
    return answering[0] if answering else None


def _address_of(attendee: Any) -> str:
    """`mailto:` (any case) stripped; a principal URI (Apple's `urn:uuid:`) gives way to the
    EMAIL parameter."""
    value = str(attendee).strip()
    if value[:7].lower() == "mailto:":
        return value[7:].strip()
    email = str(attendee.params.get("EMAIL") or "").strip()
    if email and "@" not in value:
        return email[7:].strip() if email[:7].lower() == "mailto:" else email
    return value


def _sequence(vevent: Component, uid: str) -> int | None:
    prop = _first(vevent.get("SEQUENCE"))
    if prop is None:
        return None
    try:
        value = int(prop)
    except (TypeError, ValueError) as exc:
        raise NotAReply(f"SEQUENCE of VEVENT {_shown(uid)} is not a number") from exc
    if not 0 <= value < 2**31:  # the column is a PostgreSQL integer
        raise NotAReply(f"SEQUENCE of VEVENT {_shown(uid)} is out of range")
    return value


def _recurrence_id(vevent: Component, uid: str) -> datetime | None:
    prop = _first(vevent.get("RECURRENCE-ID"))
    if prop is None:
        return None
    value = _safe(lambda: prop.dt, None)
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    else:
        raise NotAReply(f"RECURRENCE-ID of VEVENT {_shown(uid)} is not a date-time")
    if not _FIRST_YEAR <= result.year <= _LAST_YEAR:
        raise NotAReply(f"RECURRENCE-ID of VEVENT {_shown(uid)} is out of range")
    return result


def _dtstamp(vevent: Component) -> datetime | None:
    prop = _first(vevent.get("DTSTAMP"))
    value = _safe(lambda: prop.dt, None) if prop is not None else None
    return value if isinstance(value, datetime) else None


def _all(value: Any) -> list[Any]:
    """A property repeated in a component comes as a list from icalendar, once as itself."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _first(value: Any) -> Any:
    values = _all(value)
    return values[0] if values else None


def _text_value(value: Any, *, join: bool = False) -> str:
    """TEXT property value(s) with escapes undone, stripped; repeated ones joined by lines."""
    texts = [str(v).strip() for v in _all(value)]
    texts = [t for t in texts if t]
    if not texts:
        return ""
    return "\n".join(texts) if join else texts[0]


def _shown(value: str) -> str:
    """A value from the message, short and printable, for a reason text."""
    clean = "".join(c if c.isprintable() else "?" for c in value[:80])
    return clean + ("…" if len(value) > 80 else "")
