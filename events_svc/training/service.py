"""Trainings: the sessions of a course, check-ins, completion against the event's threshold,
and certificates (issued when a check-in completes the course, public by their code)."""

from __future__ import annotations

from events_svc.training.certificates import (
    certificate,
    revoke,
)
from events_svc.training.checkin import (
    check_in,
    completion,
)
from events_svc.training.course import (
    course_sessions,
    progress,
)

__all__ = [
    "certificate",
    "check_in",
    "completion",
    "course_sessions",
    "progress",
    "revoke",
]
