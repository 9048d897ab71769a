"""One contact at a time: create, change, delete, and a page of them by cursor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from events_svc import paging
from events_svc.contacts.checks import (
    _CONTACT_COLUMNS,
    ContactIn,
    _Bad,
    _contact_out,
    _duplicate,
    check_tags,
    checked,
)
from events_svc.contacts.records import ContactRecord
from events_svc.contacts.tables import Contact
from events_svc.errors import (
    InvalidInput,
    NotFound,
)
from events_svc.validation import email_key

# --- one contact at a time ----------------------------------------------------------------


async def create_contact(
    *,
    org_id: uuid.UUID,
    name: str,
    email: str,
    title: str = "",
    locale: str = "zh-CN",
    tags: Sequence[str] = (),
) -> ContactRecord:
    """A new contact; 409 when the organization has one with this address (any case)."""
    data = ContactIn(
        **checked({"name": name, "email": email, "title": title, "locale": locale, "tags": tags})
    )
    try:
        rows = await Contact.raw(
            "INSERT INTO contact (id, org, email, email_key, name, title, locale, tags)"  # noqa: S608
            " VALUES (gen_random_uuid(), {}, {}, lower({}), {}, {}, {}, {})"
            f" RETURNING {_CONTACT_COLUMNS}",
            org_id,
            data.email,
            data.email.lower(),  # lowered here too: see people.service.upsert_people
            data.name,
            data.title,
            data.locale,
            list(data.tags),
        )
    except UniqueViolationError as exc:
        raise _duplicate(data.email) from exc
    return _contact_out(rows[0])


async def update_contact(
    *, org_id: uuid.UUID, email: str, changes: dict[str, Any]
) -> ContactRecord:
    """Change the given fields of the contact with this address (any case)."""
    values = checked(changes)
    sets = ["updated_at = now()"]
    args: list[Any] = []
    for name, value in values.items():
        sets.append(f"{name} = {{}}")
        args.append(list(value) if name == "tags" else value)
        if name == "email":
            sets.append("email_key = lower({})")
            args.append(value.lower())
    try:
        rows = await Contact.raw(
            f"UPDATE contact SET {', '.join(sets)}"  # noqa: S608 - column names are fixed above
            f" WHERE org = {{}} AND email_key = lower({{}}) RETURNING {_CONTACT_COLUMNS}",
            *args,
            org_id,
            email_key(email),
        )
    except UniqueViolationError as exc:
        raise _duplicate(values["email"]) from exc
    if not rows:
        raise NotFound(f"{email!r} is not a contact of this organization")
    return _contact_out(rows[0])


async def delete_contact(*, org_id: uuid.UUID, email: str) -> None:
    rows = await Contact.raw(
        "DELETE FROM contact WHERE org = {} AND email_key = lower({}) RETURNING id",
        org_id,
        email_key(email),
    )
    if not rows:
        raise NotFound(f"{email!r} is not a contact of this organization")


def _decode_cursor(cursor: str) -> str:
    return paging.decode_cursor(cursor, "contacts", size=1)[0]


async def list_contacts(
    *,
    org_id: uuid.UUID,
    tags: Sequence[str] = (),
    cursor: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
) -> tuple[list[ContactRecord], str | None]:
    """Contacts by address; with `tags`, those having ANY of them (as invitations select)."""
    try:
        wanted = list(check_tags(tags)) or None
    except _Bad as exc:
        raise InvalidInput.field("tag", str(exc)) from exc
    after = _decode_cursor(cursor) if cursor else ""
    rows = await Contact.raw(
        f"SELECT email_key, {_CONTACT_COLUMNS} FROM contact"  # noqa: S608 - fixed columns
        " WHERE org = {} AND email_key > {}"
        " AND ({}::text[] IS NULL OR tags && {}::varchar[])"
        " ORDER BY email_key LIMIT {}",
        org_id,
        after,
        wanted,
        wanted,
        limit + 1,
    )
    items = [_contact_out(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]["email_key"]
        next_cursor = paging.encode_cursor("contacts", last)
    return items, next_cursor
