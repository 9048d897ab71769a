"""Reminders as notification rows with a due time: planned from the rules, moved with the
event, scheduled into the queue shortly before they fall due, sent once per
(rule, occurrence, person).

Rows are planned for occurrences within a horizon (400 days); an hourly cron extends it for
series without end. Every change that can move a reminder re-plans the event: rows no longer
valid are deleted while still queued, new ones are inserted, and keys make both idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from events_svc import paging
from events_svc.calendar import reminder_rules as rules
from events_svc.errors import InvalidInput, NotFound
from events_svc.events.tables import Event, changed_occurrences
from events_svc.notifications.tables import Notification
from events_svc.reminders.records import ReminderRecord

PAGE = 500


async def moved_occurrences(event_id: uuid.UUID) -> dict[datetime, datetime | None]:
    """Occurrences of a series changed one by one: original local start -> new local start,
    or None when cancelled."""
    return rules.moved((await changed_occurrences([event_id]))[event_id])


async def plan(
    *,
    event_id: uuid.UUID,
    now: datetime,
    person_ids: Sequence[uuid.UUID] | None = None,
    max_rows: int | None = None,
    field: str = "reminders",
) -> int:
    """Bring the event's reminder rows in line with its rules, times and invitees (all, or
    `person_ids`); returns how many rows were added. Call inside the changing transaction:
    with `max_rows`, a change that would give the event more reminder rows than that raises
    InvalidInput naming `field`, and the transaction writes nothing."""
    found = await Event.raw(
        "SELECT e.starts_at, e.ends_at, e.timezone, e.recurrence, e.status, e.sequence,"
        " e.reminders, o.default_reminders FROM event e JOIN organization o ON o.id = e.org"
        " WHERE e.id = {}",
        event_id,
    )
    if not found:
        return 0
    ev = found[0]
    persons = list(person_ids) if person_ids is not None else None
    if ev["status"] == "cancelled":
        await Notification.raw(
            "UPDATE notification SET status = 'skipped', last_error = 'event cancelled'"
            " WHERE event = {} AND kind = 'reminder' AND status = 'queued'",
            event_id,
        )
        return 0
    dues = rules.due_times(
        rules.effective(ev["reminders"], ev["default_reminders"]),
        starts_at=ev["starts_at"],
        ends_at=ev["ends_at"],
        timezone=ev["timezone"],
        recurrence=ev["recurrence"],
        now=now,
        moved=await moved_occurrences(event_id) if ev["recurrence"] else None,
    )
    if dues and max_rows is not None:
        await _check_volume(event_id=event_id, dues=len(dues), max_rows=max_rows, field=field)
    valid = [f"{d.rule}|{d.occurrence}" for d in dues]
    # Rows for times or rules that no longer hold, or for people no longer invited (or who
    # declined), go while still queued: a moved event sends nothing at the old time.
    await Notification.raw(
        "DELETE FROM notification n WHERE n.event = {} AND n.kind = 'reminder'"
        " AND n.status = 'queued' AND ({}::uuid[] IS NULL OR n.person = ANY({}::uuid[]))"
        " AND (NOT (n.detail || '|' || n.occurrence = ANY({}::text[]))"
        "  OR NOT EXISTS (SELECT 1 FROM invitation i WHERE i.event = n.event"
        "   AND i.person = n.person AND i.removed_at IS NULL AND i.rsvp <> 'declined'))",
        event_id,
        persons,
        persons,
        valid,
    )
    if not dues:
        return 0
    rows = await Notification.raw(
        "INSERT INTO notification"
        " (id, key, kind, event, person, sequence, occurrence, detail, next_attempt_at)"
        " SELECT gen_random_uuid(),"
        " 'reminder:' || i.event || ':' || i.person || ':' || r.rule || ':' || r.occ,"
        " 'reminder', i.event, i.person, {}, r.occ, r.rule, r.due"
        " FROM invitation i, unnest({}::text[], {}::text[], {}::timestamptz[]) AS r(rule, occ, due)"
        " WHERE i.event = {} AND i.removed_at IS NULL AND i.rsvp <> 'declined'"
        " AND ({}::uuid[] IS NULL OR i.person = ANY({}::uuid[]))"
        # a moved occurrence keeps its reminders' keys; what is still queued moves with it
        " ON CONFLICT (key) DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at"
        " WHERE notification.status = 'queued'"
        " AND notification.next_attempt_at <> EXCLUDED.next_attempt_at"
        " RETURNING id, (xmax = 0) AS inserted",
        ev["sequence"],
        [d.rule for d in dues],
        [d.occurrence for d in dues],
        [d.due_utc for d in dues],
        event_id,
        persons,
        persons,
    )
    return sum(1 for r in rows if r["inserted"])


async def _check_volume(*, event_id: uuid.UUID, dues: int, max_rows: int, field: str) -> None:
    """Refuse a plan of more than `max_rows` rows: every (rule, occurrence) in the horizon
    for every invitee who gets reminders (those not yet planned included)."""
    found = await Event.raw(
        "SELECT count(*) AS n FROM invitation WHERE event = {} AND removed_at IS NULL"
        " AND rsvp <> 'declined'",
        event_id,
    )
    invitees = int(found[0]["n"])
    if dues * invitees <= max_rows:
        return
    raise InvalidInput.field(
        field,
        f"the event would have {dues * invitees:,} reminder messages planned ({dues:,} per"
        f" invitee x {invitees:,} invitee(s)); at most {max_rows:,} per event"
        " (MAX_REMINDER_ROWS_PER_EVENT): use fewer reminders, fewer occurrences, or fewer"
        " invitees",
    )


async def plan_org_defaults(
    *, org_id: uuid.UUID, now: datetime, max_rows: int | None = None
) -> int:
    """Re-plan the organization's current events that use its default rules."""
    events = await Event.raw(
        "SELECT id FROM event WHERE org = {} AND reminders IS NULL AND status = 'scheduled'"
        " AND (series_ends_at_utc IS NULL OR series_ends_at_utc > {})",
        org_id,
        now,
    )
    return sum(
        [
            await plan(event_id=e["id"], now=now, max_rows=max_rows, field="default_reminders")
            for e in events
        ]
    )


async def extend_horizon(*, now: datetime) -> int:
    """Plan the occurrences that came within the horizon since the last run (endless or long
    series); idempotent, so it can run as often as wanted."""
    events = await Event.raw(
        "SELECT id FROM event WHERE status = 'scheduled' AND recurrence IS NOT NULL"
        " AND (series_ends_at_utc IS NULL OR series_ends_at_utc > {})",
        now,
    )
    added = 0
    for event in events:
        async with Event._meta.db.transaction():
            added += await plan(event_id=event["id"], now=now)
    return added


async def due_soon(*, now: datetime, within: float, limit: int = 50_000) -> list[dict[str, Any]]:
    """Queued reminders falling due in the next `within` seconds, with their due times, for
    the scheduler to enqueue deferred to exactly that time. Overdue ones are not taken again
    here (their jobs are in the queue); if Redis lost them, the sweep finds them."""
    rows = await Notification.raw(
        "SELECT id, key, attempts, next_attempt_at FROM notification"
        " WHERE status = 'queued' AND kind = 'reminder'"
        " AND next_attempt_at > {} AND next_attempt_at <= {}"
        # in a fixed order: each run (the scheduler looks minutes ahead, every few seconds)
        # cuts the same batches, whose ids then dedupe the jobs
        " ORDER BY next_attempt_at, id LIMIT {}",
        now,
        now + timedelta(seconds=within),
        limit,
    )
    return list(rows)


async def list_reminders(
    *, org_id: uuid.UUID, event_id: uuid.UUID, cursor: str | None = None, limit: int = PAGE
) -> tuple[list[ReminderRecord], str | None]:
    """Each reminder of the event per person: rule, occurrence, due, sent, outcome, by due
    time; and the cursor of the next page (None on the last)."""
    after = paging.decode_keyset(cursor, "reminders", size=3) if cursor else None
    owned = await Event.raw(
        "SELECT 1 FROM event e WHERE id = {} AND (e.org = {} OR {} = ANY(e.cohosts))",
        event_id,
        org_id,
        org_id,
    )
    if not owned:
        raise NotFound("event not found")
    # keyset paging: the page starts after the last (due time, address, id) given
    rows = await Notification.raw(
        "SELECT n.id, p.email, p.email_key, n.detail AS rule, n.occurrence,"
        " n.next_attempt_at AS due_at, n.status, n.sent_at, n.attempts, n.last_error"
        " FROM notification n JOIN person p ON p.id = n.person"
        " WHERE n.event = {} AND n.kind = 'reminder' AND ({}::boolean"
        " OR (n.next_attempt_at, p.email_key, n.id) > ({}::timestamptz, {}::text, {}::uuid))"
        " ORDER BY n.next_attempt_at, p.email_key, n.id LIMIT {}",
        event_id,
        after is None,
        after[0] if after else None,
        after[1][0] if after else None,
        after[2] if after else None,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = paging.encode_cursor(
            "reminders", last["due_at"].isoformat(), last["email_key"], str(last["id"])
        )
    items = [
        ReminderRecord(
            email=r["email"],
            rule=_rule_out(r["rule"]),
            occurrence=_occurrence_out(r["occurrence"]),
            due_at=r["due_at"],
            status="pending" if r["status"] in ("queued", "sending") else r["status"],
            sent_at=r["sent_at"],
            attempts=r["attempts"],
            outcome=r["last_error"],
        )
        for r in rows
    ]
    return items, next_cursor


def _rule_out(key: str) -> dict[str, str]:
    name, _, value = key.partition("=")
    if name == "at":
        value = rules.parse_occurrence(value).isoformat()
    return {name: value}


def _occurrence_out(value: str) -> str:
    return rules.parse_occurrence(value).isoformat()
