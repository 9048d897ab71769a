"""Events: the functions the controllers and other domains call, re-exported from the modules
that own them (times, create, read, update, files, occurrences)."""

from __future__ import annotations

from events_svc.events.create import (
    create_event,
)
from events_svc.events.files import (
    event_file,
    event_uuid,
    parse_event_ref,
)
from events_svc.events.occurrences import (
    is_occurrence,
    update_occurrence,
)
from events_svc.events.read import (
    get_event,
    list_events,
)
from events_svc.events.times import (
    instant,
)
from events_svc.events.update import (
    cancel_event,
    update_event,
)

__all__ = [
    "cancel_event",
    "create_event",
    "event_file",
    "event_uuid",
    "get_event",
    "instant",
    "is_occurrence",
    "list_events",
    "parse_event_ref",
    "update_event",
    "update_occurrence",
]
