"""Contact fields and their checks, shared by the JSON routes and the CSV import."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from events_svc.contacts.records import ContactRecord
from events_svc.contacts.schemas import MAX_TAGS
from events_svc.errors import (
    Conflict,
    FieldError,
    InvalidInput,
)
from events_svc.validation import normalize_email

CSV_MAX_BYTES = 5 * 2**20
CSV_MAX_ROWS = 10_000
CSV_TYPES = frozenset({"text/csv", "application/csv"})
#: columns of an import, in the order the docs give them; name and email are required
CSV_COLUMNS = ("name", "email", "title", "locale", "tags")
#: separators of tags inside one CSV cell: Excel users type 、 between Chinese words
TAG_SEPARATORS = re.compile(r"[;|、]")
#: errors listed in one problem document; the detail gives the total
MAX_REPORTED = 1000
_LOCALES = {"zh-cn": "zh-CN", "en": "en"}
_CONTACT_COLUMNS = "email, name, title, locale, tags, created_at, updated_at"


class _Bad(ValueError):
    """One value refused; the caller names where it was."""


@dataclass(frozen=True, slots=True)
class ContactIn:
    email: str
    name: str
    title: str = ""
    locale: str = "zh-CN"
    tags: tuple[str, ...] = field(default_factory=tuple)


# --- checks shared by the JSON routes and the CSV import ----------------------------------


def _one_line(value: str) -> str:
    # names and titles end up in mail headers and calendar CN parameters: one line
    return " ".join(value.split())


def check_name(value: str) -> str:
    name = _one_line(value)
    if not name:
        raise _Bad("must not be blank")
    if len(name) > 200:
        raise _Bad("at most 200 characters")
    return name


def check_email(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def check_title(value: str) -> str:
    title = _one_line(value)
    if len(title) > 100:
        raise _Bad("at most 100 characters")
    return title


def check_locale(value: str) -> str:
    locale = _LOCALES.get(value.strip().lower()) if value.strip() else "zh-CN"
    if locale is None:
        raise _Bad(f"{value.strip()!r} is not zh-CN or en")
    return locale


def check_tags(values: Iterable[str]) -> tuple[str, ...]:
    """Whitespace-normalized, repeats dropped (first order kept)."""
    tags: dict[str, None] = {}
    for value in values:
        tag = _one_line(value)
        if not tag:
            raise _Bad("a tag must not be blank")
        if TAG_SEPARATORS.search(tag):
            raise _Bad(f"{tag!r}: a tag cannot contain ; | or 、 (they separate tags in CSV)")
        if len(tag) > 50:
            raise _Bad(f"{tag!r}: a tag has at most 50 characters")
        tags[tag] = None
    if len(tags) > MAX_TAGS:
        raise _Bad(f"at most {MAX_TAGS} tags")
    return tuple(tags)


_CHECKS = {
    "name": check_name,
    "email": check_email,
    "title": check_title,
    "locale": check_locale,
    "tags": check_tags,
}


def checked(changes: dict[str, Any]) -> dict[str, Any]:
    """The given fields of a JSON body, normalized; the first bad one is a 422 naming it."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        try:
            out[name] = _CHECKS[name](value)
        except _Bad as exc:
            raise InvalidInput.field(name, str(exc)) from exc
    return out


def _contact_out(row: dict[str, Any]) -> ContactRecord:
    return ContactRecord(
        email=row["email"],
        name=row["name"],
        title=row["title"],
        locale=row["locale"],
        tags=list(row["tags"] or []),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _duplicate(email: str) -> Conflict:
    return Conflict(
        f"{email!r} is a contact of this organization already",
        errors=[FieldError(field="email", message="already a contact")],
    )
