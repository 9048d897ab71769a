"""An organization's organizers: who may use the console, in which language, with which role.

Roles: `admin` manages organizers, API keys, webhooks, memberships and agreements besides
everything an `editor` does (events, invitations, contacts, agendas, delegations,
attendance). An organization always keeps at least one admin. An API key acts as an admin:
it is the organization's own credential, and only admins can make one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from asyncpg.exceptions import UniqueViolationError

from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.orgs.tables import Organizer
from events_svc.validation import email_key, validate_email

Role = Literal["admin", "editor"]
ROLES: tuple[str, ...] = get_args(Role)
LOCALES = ("zh-CN", "en")
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class OrganizerRecord:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    locale: str
    role: str
    created_at: datetime


def _record(row: dict[str, Any]) -> OrganizerRecord:
    return OrganizerRecord(
        id=row["id"],
        org_id=row["org"],
        email=row["email"],
        name=row["name"],
        locale=row["locale"],
        role=row["role"],
        created_at=row["created_at"],
    )


_SELECT = "SELECT id, org, email, name, locale, role, created_at FROM organizer"


def _name(value: str | None) -> str:
    name = " ".join((value or "").split())
    if len(name) > MAX_NAME:
        raise InvalidInput.field("name", f"at most {MAX_NAME} characters")
    return name


def _locale(value: str) -> str:
    if value not in LOCALES:
        raise InvalidInput.field("locale", "must be zh-CN or en")
    return value


def _role(value: str) -> str:
    if value not in ROLES:
        raise InvalidInput.field("role", "must be admin or editor")
    return value


async def list_organizers(*, org_id: uuid.UUID) -> list[OrganizerRecord]:
    """The organization's organizers, admins first, then by address."""
    rows = await Organizer.raw(
        _SELECT + " WHERE org = {} ORDER BY role = 'admin' DESC, email_key",
        org_id,
    )
    return [_record(r) for r in rows]


async def get_organizer(*, org_id: uuid.UUID, organizer_id: uuid.UUID) -> OrganizerRecord:
    rows = await Organizer.raw(_SELECT + " WHERE org = {} AND id = {}", org_id, organizer_id)
    if not rows:
        raise NotFound("no such organizer")
    return _record(rows[0])


@dataclass(frozen=True, slots=True)
class Identity:
    """An organizer with their organization's slug and name (what a console page needs)."""

    organizer: OrganizerRecord
    org_slug: str
    org_name: str


async def identity(*, org_id: uuid.UUID, organizer_id: uuid.UUID) -> Identity:
    """The organizer of a session, in one query; NotFound once removed."""
    rows = await Organizer.raw(
        "SELECT o.id, o.org, o.email, o.name, o.locale, o.role, o.created_at,"
        " g.slug AS org_slug, g.name AS org_name"
        " FROM organizer o JOIN organization g ON g.id = o.org WHERE o.org = {} AND o.id = {}",
        org_id,
        organizer_id,
    )
    if not rows:
        raise NotFound("no such organizer")
    row = rows[0]
    return Identity(organizer=_record(row), org_slug=row["org_slug"], org_name=row["org_name"])


async def organizers_for_address(*, email: str) -> list[OrganizerRecord]:
    """Every organizer row with this address (one per organization it organizes for)."""
    rows = await Organizer.raw(
        _SELECT + " WHERE email_key = {} ORDER BY created_at",
        email_key(email),
    )
    return [_record(r) for r in rows]


async def add_organizer(
    *, org_id: uuid.UUID, email: str, name: str | None = None, locale: str = "zh-CN", role: str
) -> OrganizerRecord:
    """Add an organizer; every bad field is named at once."""
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    checks: list[tuple[str, Callable[[str], str], str]] = [
        ("email", lambda v: validate_email(v, field="email"), email),
        ("name", _name, name or ""),
        ("locale", _locale, locale),
        ("role", _role, role),
    ]
    for field, check, value in checks:
        try:
            values[field] = check(value)
        except InvalidInput as exc:
            errors.extend(exc.errors or [FieldError(field=field, message=exc.detail)])
    if errors:
        raise InvalidInput.fields(errors)
    new_id = uuid.uuid4()
    try:
        await Organizer.insert(
            Organizer(
                id=new_id,
                org=org_id,
                email=values["email"],
                email_key=values["email"].lower(),
                name=values["name"],
                locale=values["locale"],
                role=values["role"],
            )
        )
    except UniqueViolationError:
        raise Conflict(
            f"{values['email']} is already an organizer of this organization",
            errors=[FieldError(field="email", message="already an organizer")],
        ) from None
    return await get_organizer(org_id=org_id, organizer_id=new_id)


async def _find(org_id: uuid.UUID, email: str) -> dict[str, Any]:
    rows = await Organizer.raw(
        _SELECT + " WHERE org = {} AND email_key = {} FOR UPDATE",
        org_id,
        email_key(email),
    )
    if not rows:
        raise NotFound(f"{email} is not an organizer of this organization")
    return dict(rows[0])


async def _other_admins(org_id: uuid.UUID, organizer_id: uuid.UUID) -> int:
    rows = await Organizer.raw(
        "SELECT count(*) AS n FROM organizer WHERE org = {} AND role = 'admin' AND id <> {}",
        org_id,
        organizer_id,
    )
    return int(rows[0]["n"])


async def _lock_org(org_id: uuid.UUID) -> None:
    # the organization's row orders changes of its admins: two requests demoting or removing
    # its last two admins at once cannot both see the other still an admin
    await Organizer.raw("SELECT 1 FROM organization WHERE id = {} FOR UPDATE", org_id)


async def change_organizer(
    *,
    org_id: uuid.UUID,
    email: str,
    name: str | None = None,
    locale: str | None = None,
    role: str | None = None,
) -> OrganizerRecord:
    """Change an organizer's name, language or role; the last admin stays an admin."""
    values: dict[str, str] = {}
    errors: list[FieldError] = []
    for field, check, value in (("name", _name, name), ("locale", _locale, locale)):
        if value is not None:
            try:
                values[field] = check(value)
            except InvalidInput as exc:
                errors.extend(exc.errors or [])
    if role is not None:
        try:
            values["role"] = _role(role)
        except InvalidInput as exc:
            errors.extend(exc.errors or [])
    if errors:
        raise InvalidInput.fields(errors)
    async with Organizer._meta.db.transaction():
        await _lock_org(org_id)
        row = await _find(org_id, email)
        if (
            values.get("role") == "editor"
            and row["role"] == "admin"
            and not await _other_admins(org_id, row["id"])
        ):
            raise Conflict(
                "the organization's last admin stays an admin; make another organizer admin first",
                errors=[FieldError(field="role", message="the last admin stays an admin")],
            )
        if values:
            await Organizer.update(values).where(Organizer.id == row["id"])  # type: ignore[arg-type]
    return await get_organizer(org_id=org_id, organizer_id=row["id"])


async def remove_organizer(*, org_id: uuid.UUID, email: str) -> OrganizerRecord:
    """Remove an organizer; never the last admin. Their console sessions end with them
    (`sessions.end_all` is the caller's, as sessions live in Redis)."""
    async with Organizer._meta.db.transaction():
        await _lock_org(org_id)
        row = await _find(org_id, email)
        if row["role"] == "admin" and not await _other_admins(org_id, row["id"]):
            raise Conflict(
                "the organization's last admin cannot be removed; make another organizer admin"
                " first",
                errors=[FieldError(field="email", message="the last admin cannot be removed")],
            )
        await Organizer.delete().where(Organizer.id == row["id"])
    return _record(row)
