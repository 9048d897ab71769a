"""Events: local wall-clock times plus an IANA zone, and derived UTC instants for queries; and
the one query for a series' changed occurrences, which every layer above reads."""

import uuid
from collections.abc import Sequence
from typing import Any

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamp,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.orgs.tables import Organization
from events_svc.partnerships.tables import Partnership


class Event(Table, tablename="event"):
    id = UUID(primary_key=True)
    org = ForeignKey(references=Organization, null=False, index=True)  #: host organization
    uid = Varchar(length=255, unique=True)  #: iCalendar UID; never changes
    sequence = Integer(default=0)  #: iCalendar SEQUENCE; rises on identity changes (RFC 5546)
    kind = Varchar(length=32)  #: exchange_visit / forum / training / meeting / ceremony
    title = Varchar(length=300)
    description = Text(default="")
    location = Varchar(length=500, default="")
    online_url = Varchar(length=2000, default="")
    starts_at = Timestamp(default=None)  #: local wall-clock start in `timezone`
    ends_at = Timestamp(default=None)  #: local wall-clock end in `timezone`
    timezone = Varchar(length=64)  #: IANA zone name, e.g. Asia/Shanghai
    starts_at_utc = Timestamptz(default=None, index=True, index_method=IndexMethod.btree)
    ends_at_utc = Timestamptz(default=None)
    #: end of the last occurrence (UTC); NULL for a series without end
    series_ends_at_utc = Timestamptz(null=True, default=None)
    recurrence = Varchar(
        length=500, null=True, default=None
    )  #: RRULE value, e.g. FREQ=WEEKLY;COUNT=6
    status = Varchar(length=16, default="scheduled")  #: scheduled / cancelled
    visibility = Varchar(length=16, default="public")  #: public / private
    capacity = Integer(null=True, default=None)  #: maximum accepted participants; NULL = no limit
    #: trainings: share of the course's sessions (0 < t <= 1) that completes it
    completion_threshold = DoublePrecision(default=0.8)
    #: reminder rules [{"before": "PT1H"} | {"at": "2027-06-10T08:00:00"}]; NULL = org default
    reminders = JSONB(null=True, default=None)
    #: the co-operation agreement the event belongs to, and its area of co-operation
    partnership = ForeignKey(references=Partnership, null=True, default=None, index=True)
    area = Varchar(length=200, null=True, default=None)
    #: organizations (ids) of the partnership hosting it with `org`: they read, change, invite
    cohosts = Array(base_column=UUID(), default=list)
    #: exchange visits: the organization whose premises it is at (NULL: `org` itself) and the
    #: visiting organizations (ids), each of which names its delegation
    venue_org = ForeignKey(references=Organization, null=True, default=None)
    visiting = Array(base_column=UUID(), default=list)
    #: time blocks within the event: [{"title", "starts_at", "ends_at", "place"}] (local)
    itinerary = JSONB(null=True, default=None)
    #: the programme: [{"id", "title", "starts_at", "ends_at", "room", "description",
    #: "speakers": [{"email", "name", "role"}]}] (local times; ids keep each session's UID)
    agenda = JSONB(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Occurrence(Table, tablename="occurrence"):
    """One occurrence of a series that differs from its rule: moved, or cancelled."""

    id = UUID(primary_key=True)
    event = ForeignKey(references=Event, null=False, index=True)
    #: the occurrence's original local start (its RECURRENCE-ID), as the rule produces it
    recurrence_id = Timestamp(default=None)
    starts_at = Timestamp(default=None)  #: local start now (the original one when cancelled)
    ends_at = Timestamp(default=None)  #: local end now
    starts_at_utc = Timestamptz(default=None)
    ends_at_utc = Timestamptz(default=None)
    status = Varchar(length=16, default="scheduled")  #: scheduled / cancelled
    #: this occurrence's SEQUENCE; above the series' own when the occurrence was changed
    sequence = Integer(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())

    one_per_start = Unique([event, recurrence_id])


#: what `calendar.ics.event_data` and the reminder rules read of an occurrence
_COLUMNS = "event, recurrence_id, starts_at, ends_at, status, sequence, updated_at"


async def changed_occurrences(
    event_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each event's changed occurrences in RECURRENCE-ID order; [] for an event with none."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {e: [] for e in event_ids}
    if not found:
        return found
    for o in await Occurrence.raw(
        f"SELECT {_COLUMNS} FROM occurrence WHERE event = ANY({{}}::uuid[])"  # noqa: S608
        " ORDER BY recurrence_id",
        list(found),
    ):
        found[o["event"]].append(o)
    return found
