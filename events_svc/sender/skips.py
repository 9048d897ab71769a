"""Why a claimed row is not sent after all: a reminder for a moved or past occurrence, an update
superseded by a newer one, an occurrence that changed meanwhile."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from events_svc.calendar import reminder_rules
from events_svc.calendar.ics import (
    agenda_changes,
    agenda_entries,
)
from events_svc.notifications.service import REQUEST_KINDS
from events_svc.notifications.tables import Notification


def _reminder_skip_reason(row: dict[str, Any], ctx: dict[str, Any], *, now: datetime) -> str | None:
    """A reminder goes out while its occurrence is still ahead, even late; never for an event
    that moved, was cancelled, or for someone un-invited or who declined."""
    if ctx["status"] == "cancelled":
        return "event cancelled"
    if ctx["removed_at"] is not None:
        return "uninvited"
    if ctx["rsvp"] == "declined":
        return "declined"
    start = reminder_rules.current_occurrence_start(
        reminder_rules.effective(ctx["reminders"], ctx["org_default_reminders"]),
        rule_key=row["detail"],
        occurrence=row["occurrence"],
        starts_at=ctx["starts_at"],
        timezone=ctx["timezone"],
        recurrence=ctx["recurrence"],
        moved=reminder_rules.moved(ctx.get("occurrences") or ()),
    )
    if start is None:
        return "rescheduled"
    if now >= start:
        return "late: the event had started"
    return None


async def skip_reason(row: dict[str, Any], ctx: dict[str, Any], *, now: datetime) -> str | None:
    """Why this message should not go out (None: send it), from the state as it is now."""
    kind = row["kind"]
    if ctx["role"] is None:
        return "not invited"
    if kind == "reminder":
        return _reminder_skip_reason(row, ctx, now=now)
    if kind == "waitlist-promoted":
        if ctx["status"] == "cancelled":
            return "event cancelled"
        if ctx["removed_at"] is not None:
            return "uninvited"
        if ctx["rsvp"] != "accepted" or ctx["waitlisted_at"] is not None:
            return "no longer holds the place"
        return None
    if kind == "certificate":
        # the certificate stands on its own: only its revocation stops the message
        certificate = ctx.get("certificate")
        if certificate is None:
            return "no certificate"
        if certificate["revoked_at"] is not None:
            return "certificate revoked"
        return None
    if row["occurrence"] is not None:
        return await _occurrence_skip_reason(row, ctx)
    if kind in REQUEST_KINDS:
        if ctx["status"] == "cancelled":
            return "event cancelled"
        if ctx["removed_at"] is not None:
            return "uninvited"
        if kind in ("update", "agenda") and ctx["rsvp"] == "declined":
            return "declined"
        if kind == "agenda":
            ctx["agenda_before"] = await _agenda_last_sent(row)
            if not agenda_changes(
                agenda_entries(ctx["agenda_before"]), agenda_entries(ctx["agenda"])
            ):
                return "the agenda is as in the last message"
        if kind == "update":
            newer = await Notification.raw(
                "SELECT 1 FROM notification WHERE event = {} AND person = {} AND id <> {}"
                " AND occurrence IS NULL"
                " AND ((kind IN ('update', 'cancellation') AND sequence > {})"
                " OR (kind IN ('invitation', 'update') AND status = 'sent'"
                " AND sent_sequence >= {})"
                # an invitation still to go renders the event as it will be then: the update
                # would be a second message saying the same (and could arrive first)
                " OR (kind = 'invitation' AND status IN ('queued', 'sending'))) LIMIT 1",
                row["event"],
                row["person"],
                row["id"],
                row["sequence"],
                ctx["event_sequence"],
            )
            if newer:
                return "superseded"
        return None
    # A CANCEL only makes sense to someone who has (or is being sent) the event.
    if row["detail"] == "uninvited" and ctx["removed_at"] is None:
        return "invited again"
    return await _had_request(row)


async def _agenda_last_sent(row: dict[str, Any]) -> Any:
    """The agenda the person's last message about the event showed."""
    found = await Notification.raw(
        "SELECT payload FROM notification WHERE event = {} AND person = {} AND id <> {}"
        " AND kind IN ('invitation', 'update', 'agenda') AND status = 'sent'"
        " ORDER BY sent_at DESC LIMIT 1",
        row["event"],
        row["person"],
        row["id"],
    )
    if not found or found[0]["payload"] is None:
        return []
    payload = found[0]["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload


async def _had_request(row: dict[str, Any]) -> str | None:
    """A CANCEL (of the event or one occurrence) only for someone who was sent the event."""
    had_request = await Notification.raw(
        "SELECT 1 FROM notification WHERE event = {} AND person = {} AND occurrence IS NULL"
        " AND kind IN ('invitation', 'update') AND status IN ('sent', 'sending') LIMIT 1",
        row["event"],
        row["person"],
    )
    return None if had_request else "nothing was sent before"


async def _occurrence_skip_reason(row: dict[str, Any], ctx: dict[str, Any]) -> str | None:
    """A message about one occurrence of a series: not when the series is cancelled or the
    person is gone, nor when a newer message about it (or the whole series) follows."""
    if ctx["status"] == "cancelled":
        return "event cancelled"
    if ctx["removed_at"] is not None:
        return "uninvited"
    if row["kind"] == "update" and ctx["rsvp"] == "declined":
        return "declined"
    if ctx["event_sequence"] >= row["sequence"]:
        # the series changed since: its own update carries every occurrence as it is now
        return "superseded by a change to the series"
    newer = await Notification.raw(
        "SELECT 1 FROM notification WHERE event = {} AND person = {} AND occurrence = {}"
        " AND kind IN ('update', 'cancellation') AND sequence > {} LIMIT 1",
        row["event"],
        row["person"],
        row["occurrence"],
        row["sequence"],
    )
    if newer:
        return "superseded"
    return await _had_request(row)
