"""An event's self-registration settings: `registration` (closed / open), its deadline and
up to ten questions, checked the same way on create and on patch."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from events_svc.calendar.timeutil import TimeRuleError, local_to_utc, zone
from events_svc.errors import FieldError, InvalidInput
from events_svc.events.schemas import RegistrationQuestion

CHOICE_TYPES = ("one_choice", "several_choices")
#: a question's id: it names the answer (`answers.<id>`) and the form field (`q_<id>`)
_ID = re.compile(r"[a-z0-9_-]{1,40}")


def questions(value: Sequence[RegistrationQuestion]) -> str | None:
    """The questions as stored (JSON with an id each), or a 422 naming every bad field."""
    if not value:
        return None
    errors: list[FieldError] = []
    seen: set[str] = set()
    stored: list[dict[str, Any]] = []
    for i, q in enumerate(value):
        field = f"registration_questions.{i}"
        qid = q.id or f"q{i + 1}"
        if not _ID.fullmatch(qid):
            errors.append(
                FieldError(field=f"{field}.id", message="lower-case letters, digits, _ and - only")
            )
        if qid in seen:
            errors.append(FieldError(field=f"{field}.id", message=f"{qid!r} is used twice"))
        seen.add(qid)
        label = q.label.strip()
        if not label or any(c in label for c in "\r\n"):
            errors.append(FieldError(field=f"{field}.label", message="must be one line of text"))
        choices = [c.strip() for c in q.choices]
        if q.type in CHOICE_TYPES:
            if len(choices) < 2 or any(not c for c in choices):
                errors.append(
                    FieldError(field=f"{field}.choices", message="needs two or more choices")
                )
            elif len(set(choices)) != len(choices):
                errors.append(FieldError(field=f"{field}.choices", message="choices repeat"))
        elif choices:
            errors.append(
                FieldError(field=f"{field}.choices", message=f"a {q.type} question has no choices")
            )
        stored.append(
            {
                "id": qid,
                "label": label,
                "type": q.type,
                "required": q.required,
                "choices": choices if q.type in CHOICE_TYPES else [],
            }
        )
    if errors:
        raise InvalidInput.fields(errors)
    return json.dumps(stored, ensure_ascii=False)


def deadline(value: datetime | None, *, tz_name: str) -> datetime | None:
    """The deadline as an instant; a local time without offset is read in the event's zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        try:
            return local_to_utc(value, zone(tz_name), field="registration_deadline")
        except TimeRuleError as exc:
            raise InvalidInput.field("registration_deadline", exc.message) from exc
    return value


def stored_questions(raw: Any) -> list[dict[str, Any]]:
    """The stored questions as a list (empty when none)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = json.loads(raw)
    return list(raw)


def check_public(*, registration: str, visibility: str) -> None:
    """Only a public event may be open to self-registration."""
    if registration == "open" and visibility != "public":
        raise InvalidInput.field("registration", "only a public event can open registration")
