"""One outbox row and its context to the message bytes: iTIP calendar, links, certificate."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from events_svc.calendar import reminder_rules
from events_svc.calendar.ics import (
    AgendaEntry,
    EventData,
    Party,
    agenda_changes,
    agenda_entries,
    event_data,
    itip,
)
from events_svc.feeds.service import person_feed_urls
from events_svc.mail.i18n import LOCALES, Locale, org_name
from events_svc.mail.render import CertificateFacts, Links, MailContext, render_message
from events_svc.notifications.service import REQUEST_KINDS
from events_svc.rsvp.checkin_link import checkin_url
from events_svc.rsvp.tokens import reply_address, rsvp_url
from events_svc.sender.reminder_qr import url_digest
from events_svc.settings import Settings


def _organizer_email(ctx: dict[str, Any], settings: Settings) -> str:
    """The invitation's own reply address: a REPLY to it proves it came through this copy."""
    if ctx.get("invitation_id") is None:
        return settings.organizer_email
    return reply_address(settings.reply_address, settings.secret_key, ctx["invitation_id"])


def render(
    row: dict[str, Any], ctx: dict[str, Any], *, settings: Settings, now: datetime
) -> tuple[bytes, str, int]:
    """The message bytes, its Message-ID and the SEQUENCE it carries."""
    event, occurrences = _event_entry(ctx, settings.public_base_url)
    method: Literal["REQUEST", "CANCEL"] | None = None
    ics = b""
    locale: Locale = ctx["locale"] if ctx["locale"] in LOCALES else "zh-CN"
    # a co-hosted event speaks for all its hosts, named in the reader's language
    hosts = [
        org_name(ctx["org_name"], ctx.get("org_name_en"), locale),
        *(ctx.get("cohost_names_en" if locale == "en" else "cohost_names") or ()),
    ]
    if row["kind"] == "reminder":
        # The reminder speaks of its occurrence, and carries no calendar: the event is already
        # in the person's calendar, and a REQUEST would show as a new invitation.
        found = occurrences.get(row["occurrence"])
        if found is None:
            found = event.occurrence(reminder_rules.parse_occurrence(row["occurrence"]))
            if len(occurrences) >= _EVENTS_MAX:
                occurrences.clear()
            occurrences[row["occurrence"]] = found
        event = found
    elif row["kind"] in ("waitlist-promoted", "certificate", "feed-link"):
        pass  # news about the person's place, course or link, not the event: no calendar
    else:
        method = "REQUEST" if row["kind"] in REQUEST_KINDS else "CANCEL"
        if row["occurrence"] is not None:
            # one occurrence only: its VEVENT with RECURRENCE-ID, as it is now
            event = event.instance(reminder_rules.parse_occurrence(row["occurrence"]))
            method = "CANCEL" if event.status == "cancelled" else "REQUEST"
        organizer = Party(email=_organizer_email(ctx, settings), name=hosts[0])
        attendee = Party(
            email=ctx["email"], name=ctx["person_name"], role=ctx["role"], rsvp=ctx["rsvp"]
        )
        ics = itip(method, event, organizer=organizer, attendee=attendee, dtstamp=now)
        if event.recurrence_id is not None:
            # the text speaks of the occurrence where it is now, as a single event
            event = replace(event, recurrence_id=None)
    kind = row["kind"]
    if method == "CANCEL" and kind == "update":
        kind = "cancellation"  # the occurrence was cancelled after this update was decided
    changes: tuple[tuple[str, AgendaEntry], ...] = ()
    if kind == "agenda":
        changes = tuple(agenda_changes(agenda_entries(ctx.get("agenda_before")), event.agenda))
    links = _links(
        event.url,
        ctx,
        settings,
        answerable=kind not in ("cancellation", "certificate", "feed-link"),
        checkin=kind == "reminder",
    )
    mail = MailContext(
        agenda_changes=changes,
        kind=kind,
        uninvited=row["detail"] == "uninvited",
        locale=locale,
        event=event,
        org_name=("、" if locale == "zh-CN" else ", ").join(hosts),
        org_email=ctx["org_email"],
        mail_from=settings.mail_from,
        recipient_email=ctx["email"],
        recipient_name=ctx["person_name"],
        role=ctx["role"],
        note=ctx["message"] if row["kind"] == "invitation" else "",
        links=links,
        checkin_png=_stored_checkin_png(ctx, links.checkin),
        certificate=_certificate_facts(ctx, settings) if kind == "certificate" else None,
        method=method,
        ics=ics,
        message_id_domain=settings.public_host,
        message_key=f"n.{row['id']}",
    )
    message, message_id = render_message(mail, now=now)
    return message, message_id, event.sequence


#: the event columns of a claimed row (sender.claims) that `event_data` reads
_EVENT_COLUMNS = (
    "event_id",
    "uid",
    "event_sequence",
    "title",
    "description",
    "itinerary",
    "location",
    "online_url",
    "starts_at",
    "ends_at",
    "timezone",
    "recurrence",
    "status",
    "event_created_at",
    "event_updated_at",
    "reminders",
    "org_default_reminders",
    "agenda",
)
#: EventData by every value it is made of: a fan-out's rows carry the same event thousands
#: of times, and parsing its reminder rules, agenda and itinerary for each was 3-4 % of a
#: worker's CPU. Keyed by the values themselves, so an event changed since is a new entry.
#: With each, its single occurrences as reminders speak of them (by occurrence key).
_EVENTS: dict[tuple[Any, ...], tuple[EventData, dict[str, EventData]]] = {}
_EVENTS_MAX = 256


def _event_entry(ctx: dict[str, Any], base_url: str) -> tuple[EventData, dict[str, EventData]]:
    occurrences = ctx.get("occurrences") or ()
    try:
        key = (
            base_url,
            *(ctx.get(column) for column in _EVENT_COLUMNS),
            *(tuple(sorted(o.items())) for o in occurrences),
        )
        found = _EVENTS.get(key)
    except TypeError:  # a value that cannot be a key (a decoded JSON list): made each time
        made = event_data(ctx, base_url=base_url, prefix="event_", occurrences=occurrences)
        return made, {}
    if found is None:
        made = event_data(ctx, base_url=base_url, prefix="event_", occurrences=occurrences)
        if len(_EVENTS) >= _EVENTS_MAX:
            _EVENTS.clear()
        found = _EVENTS[key] = (made, {})
    return found


def _event(ctx: dict[str, Any], base_url: str) -> EventData:
    return _event_entry(ctx, base_url)[0]


def _stored_checkin_png(ctx: dict[str, Any], url: str | None) -> bytes:
    """The QR code rendered ahead for this very URL (`sender.reminder_qr`), or nothing."""
    stored = ctx.get("checkin_code")
    if url is None or stored is None or stored[0] != url_digest(url):
        return b""
    png: bytes = stored[1]
    return png


def _certificate_facts(ctx: dict[str, Any], settings: Settings) -> CertificateFacts:
    """What the certificate states, as it was issued (its snapshot, not the event now)."""
    cert = ctx["certificate"]
    return CertificateFacts(
        url=f"{settings.public_base_url}/certificates/{cert['code']}",
        person_name=cert["person_name"] or ctx["email"],
        hours=float(cert["hours"]),
        sessions_attended=cert["sessions_attended"],
        sessions_total=cert["sessions_total"],
        first_session=cert["first_session"],
        last_session=cert["last_session"],
    )


def _links(
    ics_url: str, ctx: dict[str, Any], settings: Settings, *, answerable: bool, checkin: bool
) -> Links:
    """The event file, the person's feed with the link that gives it a new address, and
    (unless the message takes something back) the person's RSVP page."""
    from events_svc.feeds.tokens import rotation_url  # here: keeps this change to _links

    https = webcal = rotate = None
    if ctx["feed_token"]:
        https, webcal = person_feed_urls(settings.public_base_url, ctx["feed_token"])
        # signed over the token it replaces: dead after one use
        rotate = rotation_url(
            settings.public_base_url, settings.secret_key, ctx["person"], ctx["feed_token"]
        )
    answer = None
    if answerable and ctx["invitation_id"] is not None:
        answer = rsvp_url(
            settings.public_base_url, settings.secret_key, ctx["invitation_id"], ctx["generation"]
        )
    here = None
    if checkin and answer is not None:
        here = checkin_url(settings.public_base_url, settings.secret_key, ctx["invitation_id"])
    return Links(
        ics=ics_url,
        feed_https=https,
        feed_webcal=webcal,
        feed_rotate=rotate,
        rsvp=answer,
        checkin=here,
    )
