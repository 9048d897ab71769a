"""A course's sessions and a person's progress through them (pure rules, no database)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events_svc.calendar.timeutil import (
    MAX_EXPANDED_OCCURRENCES,
    iter_occurrences,
    zone,
)

#: a certificate code: 128 random bits as URL-safe base64 without padding
CODE_BYTES = 16
_CODE_RE = re.compile(r"[A-Za-z0-9_-]{22}\Z")
#: completed = attended >= threshold x sessions, with room for float rounding (4/5 at 0.8)
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Session:
    """One session of a course: a series' occurrence (as moved), or a single event."""

    original: datetime  #: original local start: what check-ins name (RECURRENCE-ID)
    starts_at: datetime  #: local start now
    ends_at: datetime  #: local end now
    starts_at_utc: datetime
    ends_at_utc: datetime
    cancelled: bool

    @property
    def hours(self) -> float:
        return (self.ends_at_utc - self.starts_at_utc).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class Course:
    """A training's sessions as of `now`: `total` is None for an endless series."""

    sessions: dict[datetime, Session]  #: by original local start; cancelled ones included
    held: int  #: sessions (not cancelled) that have started by now
    total: int | None  #: sessions (not cancelled) the course has in all

    def measured_against(self) -> int:
        """The sessions completion is measured against: all of them, or for an endless series
        those held so far."""
        return self.total if self.total is not None else self.held


def _utc(local: datetime, tz: Any) -> datetime:
    # A wall-clock time in a DST gap still names an instant here (fold rules); check-ins and
    # hours need one, not a refusal.
    return local.replace(tzinfo=tz).astimezone(UTC)


def course_sessions(
    event: dict[str, Any], overrides: Sequence[dict[str, Any]], *, now: datetime
) -> Course:
    """The sessions of a training: every occurrence of a COUNT/UNTIL series, those started by
    now (and changed ones) of an endless series, or the event itself."""
    tz = zone(event["timezone"])
    length = event["ends_at_utc"] - event["starts_at_utc"]
    sessions: dict[datetime, Session] = {}
    if not event["recurrence"]:
        sessions[event["starts_at"]] = Session(
            event["starts_at"],
            event["starts_at"],
            event["ends_at"],
            event["starts_at_utc"],
            event["ends_at_utc"],
            False,
        )
    else:
        endless = event["series_ends_at_utc"] is None
        # an endless series is walked up to now and to its last changed occurrence
        horizon = max([now, *(_utc(o["recurrence_id"], tz) for o in overrides)])
        local_length = event["ends_at"] - event["starts_at"]
        for i, start in enumerate(
            iter_occurrences(event["recurrence"], start_local=event["starts_at"], tz=tz)
        ):
            start_utc = _utc(start, tz)
            if i >= MAX_EXPANDED_OCCURRENCES or (endless and start_utc > horizon):
                break
            sessions[start] = Session(
                start, start, start + local_length, start_utc, start_utc + length, False
            )
        for o in overrides:
            if o["recurrence_id"] in sessions:
                sessions[o["recurrence_id"]] = Session(
                    o["recurrence_id"],
                    o["starts_at"],
                    o["ends_at"],
                    o["starts_at_utc"],
                    o["ends_at_utc"],
                    o["status"] == "cancelled",
                )
    live = [s for s in sessions.values() if not s.cancelled]
    held = sum(1 for s in live if s.starts_at_utc <= now)
    finite = not event["recurrence"] or event["series_ends_at_utc"] is not None
    return Course(sessions=sessions, held=held, total=len(live) if finite else None)


@dataclass(frozen=True, slots=True)
class Progress:
    """One person's standing in a course."""

    attended: int
    hours: float
    completed: bool
    first: Session | None  #: first attended session
    last: Session | None


def progress(course: Course, attended: Sequence[datetime], *, threshold: float) -> Progress:
    """Attendance (original starts) measured against the course: sessions cancelled since do
    not count; hours are the attended sessions' own durations."""
    counted = sorted(
        (course.sessions[a] for a in set(attended) if a in course.sessions),
        key=lambda s: s.starts_at_utc,
    )
    counted = [s for s in counted if not s.cancelled]
    base = course.measured_against()
    completed = base > 0 and len(counted) >= threshold * base - _EPSILON
    return Progress(
        attended=len(counted),
        hours=round(sum(s.hours for s in counted), 1),
        completed=completed,
        first=counted[0] if counted else None,
        last=counted[-1] if counted else None,
    )
