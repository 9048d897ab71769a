"""Event (+ person) -> iCalendar bytes: iTIP REQUEST / CANCEL bodies (RFC 5545, RFC 5546).

The names live in agenda (sessions), eventdata (an event row as the calendar sees it), vevent
(components) and pieces (whole objects as bytes, cut where a recipient's lines go)."""

from __future__ import annotations

from events_svc.calendar.agenda import (
    AgendaEntry,
    agenda_changes,
    agenda_entries,
    span,
)
from events_svc.calendar.eventdata import (
    EventData,
    ItineraryEntry,
    event_data,
    itinerary_entries,
    itinerary_lines,
)
from events_svc.calendar.pieces import (
    itip,
    organizer_line,
    own_organizer_line,
    publish,
    recipient_lines,
    vevents,
)
from events_svc.calendar.vevent import (
    PRODID,
    Party,
    Pieces,
    calendar,
    session_vevents,
)

__all__ = [
    "AgendaEntry",
    "EventData",
    "ItineraryEntry",
    "PRODID",
    "Party",
    "Pieces",
    "agenda_changes",
    "itinerary_entries",
    "itinerary_lines",
    "agenda_entries",
    "calendar",
    "event_data",
    "itip",
    "organizer_line",
    "own_organizer_line",
    "publish",
    "recipient_lines",
    "session_vevents",
    "span",
    "vevents",
]
