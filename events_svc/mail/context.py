"""What one message says: its kind, the event, links, certificate facts (MailContext)."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from events_svc.calendar.ics import AgendaEntry, EventData
from events_svc.mail.i18n import Locale

#: CRLF line ends and RFC 2047 encoded words; `as_bytes()` with the default policy writes bare LF
SMTP_POLICY = email.policy.SMTP
Kind = Literal[
    "invitation",
    "update",
    "cancellation",
    "reminder",
    "waitlist-promoted",
    "agenda",
    "certificate",
    "feed-link",
]
RSVP_ANSWERS = ("accepted", "tentative", "declined")


@dataclass(frozen=True, slots=True)
class Links:
    ics: str  #: the event's .ics file
    feed_https: str | None = None  #: the person's calendar feed, once feeds exist
    feed_webcal: str | None = None
    #: the person's own link to give their feed a new address (next to the feed link)
    feed_rotate: str | None = None
    rsvp: str | None = None  #: the person's RSVP page (answers as ?response=...)
    #: the person's signed check-in link, shown as a QR code image in reminders
    checkin: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What a training certificate states, for its e-mail."""

    url: str  #: the public verification page
    person_name: str
    hours: float
    sessions_attended: int
    sessions_total: int
    first_session: datetime  #: local start of the first attended session
    last_session: datetime


@dataclass(frozen=True, slots=True)
class MailContext:
    """Everything one message says; built by the notifications service from the database."""

    kind: Kind
    uninvited: bool  #: a cancellation because this person was removed, not the event
    locale: Locale
    event: EventData
    org_name: str
    org_email: str
    mail_from: str
    recipient_email: str
    recipient_name: str
    role: str
    note: str  #: the organizer's message (invitations only)
    links: Links
    method: Literal["REQUEST", "CANCEL"] | None  #: None: a message without a calendar part
    ics: bytes
    message_id_domain: str
    #: an agenda update: what changed since the person's last message ("new", entry), ...
    agenda_changes: tuple[tuple[str, AgendaEntry], ...] = ()
    #: a certificate message: what the certificate states, instead of the event's times
    certificate: CertificateFacts | None = None
    #: makes the Message-ID: the notification row's id, so that a message sent again after a
    #: crash between the SMTP reply and its record is the same message (receivers such as
    #: Gmail keep one copy per Message-ID); empty: a fresh one
    message_key: str = ""
    #: the PNG of `links.checkin`'s QR code when it was rendered ahead; empty: render it now
    checkin_png: bytes = b""
