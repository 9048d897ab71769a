"""Calendar feeds: an organization's public events and a person's invitations, as iCalendar
that subscribed clients poll. The names live in model (settings, values, the body cache),
stamps (validators: ETag and Last-Modified without rendering) and bodies (rendering)."""

from __future__ import annotations

from events_svc.feeds.bodies import (
    person_body,
    public_body,
)
from events_svc.feeds.model import (
    Body,
    FeedConfig,
    Stamp,
    person_feed_urls,
)
from events_svc.feeds.stamps import (
    STAMP_TTL,
    note_write,
    org_stamp,
    partnership_stamp,
    person_stamp,
)

__all__ = [
    "Body",
    "FeedConfig",
    "STAMP_TTL",
    "Stamp",
    "note_write",
    "org_stamp",
    "partnership_stamp",
    "person_body",
    "person_feed_urls",
    "person_stamp",
    "public_body",
]
