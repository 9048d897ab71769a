"""The event form: its fields as the page shows them, and the same values as the API's
EventCreate / EventPatch (the service checks them; nothing is checked twice)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from events_svc.calendar.timeutil import TimeRuleError, zone
from events_svc.errors import InvalidInput
from events_svc.events.records import EventRecord
from events_svc.web.forms import text_of

DEFAULT_ZONE = "Asia/Shanghai"
#: the zones offered in the searchable list (the service accepts any IANA name)
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
KINDS = ("forum", "training", "meeting", "ceremony", "exchange_visit")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: reminder choices: ISO 8601 durations before each start
REMINDERS = ("P1D", "PT2H", "PT30M")
#: the form's fields (for errors shown next to them)
FIELDS = {
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "timezone",
    "location",
    "online_url",
    "description",
    "visibility",
    "capacity",
    "recurrence",
    "reminders",
    "partnership",
    "area",
    "cohosts",
    "host",
    "visiting",
    "itinerary",
    "registration",
    "registration_deadline",
    "registration_questions",
}
#: a service's field -> the form field its error is shown at
RENAME = {"rrule": "recurrence", "count": "recurrence", "until": "recurrence"}


@dataclass
class EventForm:
    """What the form shows (as text), filled from a post or from an event."""

    title: str = ""
    kind: str = "forum"
    starts_at: str = ""  #: datetime-local: 2027-06-10T14:00
    ends_at: str = ""
    timezone: str = DEFAULT_ZONE
    location: str = ""
    online_url: str = ""
    description: str = ""
    visibility: str = "public"
    capacity: str = ""
    repeat: str = "none"  #: none / weekly / rrule
    days: list[str] = field(default_factory=list)
    ends: str = "count"  #: count / until
    count: str = ""
    until: str = ""  #: a date
    rrule: str = ""
    reminders: list[str] = field(default_factory=list)
    partnership: str = ""  #: an agreement's id
    area: str = ""
    cohosts: str = ""  #: slugs, comma-separated
    host: str = ""  #: exchange visits: whose premises (a slug; empty: ours)
    visiting: str = ""  #: exchange visits: the visiting organizations' slugs
    itinerary: str = ""  #: one block per line: date start-end | title | place
    registration: str = "closed"  #: closed / open
    registration_deadline: str = ""  #: datetime-local in the event's zone
    #: one question per line: `label | kind | required | choice1; choice2`
    registration_questions: str = ""

    @classmethod
    def from_post(cls, form: Any) -> EventForm:
        return cls(
            title=text_of(form, "title"),
            kind=text_of(form, "kind", "forum"),
            starts_at=text_of(form, "starts_at"),
            ends_at=text_of(form, "ends_at"),
            timezone=text_of(form, "timezone").strip() or DEFAULT_ZONE,
            location=text_of(form, "location"),
            online_url=text_of(form, "online_url"),
            description=text_of(form, "description"),
            visibility=text_of(form, "visibility", "public"),
            capacity=text_of(form, "capacity").strip(),
            repeat=text_of(form, "repeat", "none"),
            days=[d for d in form.getall("days", []) if d in DAYS],
            ends=text_of(form, "ends", "count"),
            count=text_of(form, "count").strip(),
            until=text_of(form, "until").strip(),
            rrule=text_of(form, "rrule").strip(),
            reminders=[r for r in form.getall("reminders", []) if r in REMINDERS],
            partnership=text_of(form, "partnership").strip(),
            area=text_of(form, "area").strip(),
            cohosts=text_of(form, "cohosts"),
            host=text_of(form, "host").strip(),
            visiting=text_of(form, "visiting"),
            itinerary=text_of(form, "itinerary"),
            registration=text_of(form, "registration", "closed"),
            registration_deadline=text_of(form, "registration_deadline").strip(),
            registration_questions=text_of(form, "registration_questions"),
        )

    @classmethod
    def from_event(cls, row: EventRecord) -> EventForm:
        rule = row.recurrence or ""
        return cls(
            title=row.title,
            kind=row.kind,
            starts_at=row.starts_at[:16],
            ends_at=row.ends_at[:16],
            timezone=row.timezone,
            location=row.location,
            online_url=row.online_url,
            description=row.description,
            visibility=row.visibility,
            capacity="" if row.capacity is None else str(row.capacity),
            repeat="rrule" if rule else "none",
            rrule=rule,
            reminders=[r["before"] for r in row.reminders or [] if r.get("before")],
            partnership=row.partnership or "",
            area=row.area or "",
            cohosts=", ".join(row.cohosts),
            host=row.host if row.host != row.organization else "",
            visiting=", ".join(row.visiting),
            itinerary="\n".join(
                f"{b['starts_at'][:10]} {b['starts_at'][11:16]}-{b['ends_at'][11:16]}"
                f" | {b['title']}" + (f" | {b['place']}" if b["place"] else "")
                for b in row.itinerary or []
            ),
            registration=row.registration,
            registration_deadline=_local(row.registration_deadline, row.timezone),
            registration_questions="\n".join(
                question_line(q) for q in row.registration_questions or []
            ),
        )

    def recurrence(self) -> str | None:
        """The RRULE the choices make (the service checks it)."""
        if self.repeat == "rrule":
            return self.rrule or None
        if self.repeat != "weekly":
            return None
        if not self.days:
            raise InvalidInput.field("recurrence", "choose at least one weekday")
        rule = "FREQ=WEEKLY;BYDAY=" + ",".join(d for d in DAYS if d in self.days)
        if self.ends == "until" and self.until:
            try:
                day = date.fromisoformat(self.until)
            except ValueError:
                raise InvalidInput.field("recurrence", "the last day is not a date") from None
            try:
                tz = ZoneInfo(self.timezone)
            except (ValueError, KeyError):
                tz = ZoneInfo(DEFAULT_ZONE)  # the service names the zone's own error
            end = datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(ZoneInfo("UTC"))
            return rule + ";UNTIL=" + end.strftime("%Y%m%dT%H%M%SZ")
        if self.count:
            if not self.count.isdigit():
                raise InvalidInput.field("recurrence", "the number of times must be a number")
            return rule + f";COUNT={int(self.count)}"
        raise InvalidInput.field("recurrence", "say how many times, or until which day")

    def values(self, *, existing: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The API's field values (EventCreate), as text and numbers; msgspec converts.
        `existing`: the event's stored questions, whose ids a question keeps by its label."""
        capacity: Any = None
        if self.capacity:
            capacity = int(self.capacity) if self.capacity.isdigit() else self.capacity
        return {
            "kind": self.kind,
            "title": self.title.strip(),
            "starts_at": _seconds(self.starts_at),
            "ends_at": _seconds(self.ends_at),
            "timezone": self.timezone,
            "description": self.description,
            "location": self.location.strip(),
            "online_url": self.online_url.strip(),
            "recurrence": self.recurrence(),
            "visibility": self.visibility,
            "capacity": capacity,
            "reminders": [{"before": r} for r in self.reminders] or None,
            "partnership": self.partnership or None,
            "area": self.area or None,
            "cohosts": _slugs(self.cohosts),
            "host": self.host or None,
            "visiting": _slugs(self.visiting),
            "itinerary": self._itinerary(),
            "registration": self.registration,
            "registration_deadline": _seconds(self.registration_deadline) or None,
            "registration_questions": self._questions(existing or []),
        }

    def _questions(self, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Questions, one per line (`所在机构 | short_text | required`, choices after a
        fourth `|`, split by `;`). Only the line's shape is read here; the rules about
        labels and choices are registration_rules' (the API's)."""
        found: list[dict[str, Any]] = []
        for n, raw in enumerate(self.registration_questions.splitlines(), start=1):
            if not raw.strip():
                continue
            parts = [p.strip() for p in raw.split("|")]
            if len(parts) > 4:
                raise InvalidInput.field("registration_questions", f"line {n} does not read")
            label, kind, need, choices = (parts + ["", "", ""])[:4]
            kind = kind or "short_text"
            if kind not in QUESTION_KINDS:
                raise InvalidInput.field(
                    "registration_questions",
                    f"line {n}: the kind must be one of " + ", ".join(QUESTION_KINDS),
                )
            if need.lower() not in _REQUIRED and need.lower() not in _OPTIONAL:
                raise InvalidInput.field(
                    "registration_questions", f"line {n}: write required or optional"
                )
            found.append(
                {
                    "label": label,
                    "type": kind,
                    "required": need.lower() in _REQUIRED,
                    "choices": [c.strip() for c in re.split(r"[;；]", choices) if c.strip()],
                }
            )
        _keep_ids(found, existing)
        return found

    def _itinerary(self) -> list[dict[str, str]] | None:
        """Blocks of a visit, one per line (`2027-06-10 09:30-10:30 | 参观 | 地点`)."""
        blocks = []
        for n, raw in enumerate(self.itinerary.splitlines(), start=1):
            if not raw.strip():
                continue
            parts = [p.strip() for p in raw.split("|")]
            when = _WHEN.match(parts[0])
            if when is None or len(parts) < 2:
                raise InvalidInput.field("itinerary", f"line {n} does not read")
            day, start, end = when.groups()
            blocks.append(
                {
                    "title": parts[1],
                    "starts_at": f"{day}T{int(start[:-3]):02d}{start[-3:]}:00",
                    "ends_at": f"{day}T{int(end[:-3]):02d}{end[-3:]}:00",
                    "place": parts[2] if len(parts) > 2 else "",
                }
            )
        return blocks or None


QUESTION_KINDS = ("short_text", "long_text", "one_choice", "several_choices")
_REQUIRED = ("required", "必填")
_OPTIONAL = ("", "optional", "选填")


def question_line(q: dict[str, Any]) -> str:
    """A stored question as the form's line."""
    line = f"{q['label']} | {q['type']} | {'required' if q['required'] else 'optional'}"
    return line + (f" | {'; '.join(q['choices'])}" if q.get("choices") else "")


def _keep_ids(found: list[dict[str, Any]], existing: list[dict[str, Any]]) -> None:
    """A question keeps its stored id (answers are filed under it) when its label is the
    same; a new one takes the first free `qN`."""
    left = {q["label"]: q["id"] for q in existing}
    for q in found:
        if q["label"] in left:
            q["id"] = left.pop(q["label"])
    used = {q["id"] for q in found if "id" in q}
    n = 1
    for q in found:
        if "id" not in q:
            while f"q{n}" in used:
                n += 1
            q["id"] = f"q{n}"
            used.add(q["id"])


def _local(instant: datetime | None, tz_name: str) -> str:
    """An instant as the form's datetime-local in the event's zone."""
    if instant is None:
        return ""
    try:
        return instant.astimezone(zone(tz_name)).strftime("%Y-%m-%dT%H:%M")
    except TimeRuleError:
        return instant.strftime("%Y-%m-%dT%H:%M")


_WHEN = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})\s*$")


def _slugs(text: str) -> list[str]:
    return [t for t in (x.strip() for x in text.replace("，", ",").split(",")) if t]


def _seconds(value: str) -> str:
    """A datetime-local value (minutes only) as the API's local date-time."""
    return value + ":00" if len(value) == 16 else value
