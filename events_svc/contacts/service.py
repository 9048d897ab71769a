"""Contacts: an organization's people, kept one by one or imported from CSV, and the people
an invitation reaches through organizations."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from events_svc import paging
from events_svc.contacts.schemas import MAX_TAGS, OrgSelector
from events_svc.contacts.tables import Contact
from events_svc.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from events_svc.orgs.service import FEDERATION
from events_svc.people.schemas import MAX_INVITEES, InviteeIn
from events_svc.validation import email_key, normalize_email

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


def _contact_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "tags": list(row["tags"] or [])}


def _duplicate(email: str) -> Conflict:
    return Conflict(
        f"{email!r} is a contact of this organization already",
        errors=[FieldError(field="email", message="already a contact")],
    )


# --- one contact at a time ----------------------------------------------------------------


async def create_contact(
    *,
    org_id: uuid.UUID,
    name: str,
    email: str,
    title: str = "",
    locale: str = "zh-CN",
    tags: Sequence[str] = (),
) -> dict[str, Any]:
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
) -> dict[str, Any]:
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
) -> tuple[list[dict[str, Any]], str | None]:
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
    items = [_contact_out({k: v for k, v in r.items() if k != "email_key"}) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]["email_key"]
        next_cursor = paging.encode_cursor("contacts", last)
    return items, next_cursor


# --- CSV import ---------------------------------------------------------------------------


def check_media_type(*, content_type: str | None) -> None:
    media_type, _, params = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type not in CSV_TYPES:
        raise UnsupportedMediaType(f"send the file as text/csv, not {media_type or 'nothing'}")
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"the file must be UTF-8, not {charset.group(1)} (in Excel: Save As, CSV UTF-8)"
        )


def too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"a contacts file may be at most {CSV_MAX_BYTES // 2**20} MiB",
        errors=[FieldError(field="body", message=f"over {CSV_MAX_BYTES // 2**20} MiB")],
    )


@dataclass(slots=True)
class ParsedCsv:
    contacts: list[ContactIn]
    columns: frozenset[str]  #: the optional columns the file has; others keep their values


def _refuse(errors: list[FieldError], what: str) -> InvalidInput:
    shown = errors[:MAX_REPORTED]
    more = f" (the first {MAX_REPORTED} are listed)" if len(errors) > MAX_REPORTED else ""
    lines = ", ".join(e.field for e in shown[:10])
    etc = ", …" if len(errors) > 10 else ""
    return InvalidInput(
        f"{len(errors)} {what}{more}; nothing was imported: {lines}{etc}", errors=shown
    )


def _decode(body: bytes) -> str:
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise InvalidInput.field(
            f"line {line}", "not UTF-8 text (in Excel: Save As, CSV UTF-8); nothing was imported"
        ) from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InvalidInput.field(f"line {line}", "contains a NUL character")
    return text


def _header(cells: list[str], line: int) -> list[str]:
    names = [c.strip().lower() for c in cells]
    errors = []
    for raw, name in zip(cells, names, strict=True):
        if name not in CSV_COLUMNS:
            errors.append(
                FieldError(
                    field=f"line {line}: {raw.strip() or '(empty)'}",
                    message=f"unknown column; the columns are {', '.join(CSV_COLUMNS)}",
                )
            )
        elif names.count(name) > 1:
            errors.append(FieldError(field=f"line {line}: {name}", message="column given twice"))
    missing = [c for c in ("name", "email") if c not in names]
    if missing:
        errors.append(
            FieldError(
                field=f"line {line}",
                message=f"the header row must name the columns name and email"
                f" (missing: {', '.join(missing)})",
            )
        )
    if errors:
        raise _refuse(list(dict.fromkeys(errors)), "problem(s) in the header row")
    return names


def parse_csv(body: bytes) -> ParsedCsv:
    """Every row checked; any bad one refuses the whole file, naming each by line and column.
    Blank rows are skipped; the header names the columns in any order and case."""
    reader = csv.reader(io.StringIO(_decode(body), newline=""), strict=True)
    errors: list[FieldError] = []
    header: list[str] | None = None
    header_line = 0
    seen: dict[str, int] = {}
    contacts: list[ContactIn] = []
    rows = 0
    line = 1  # where the next record starts
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(FieldError(field=f"line {reader.line_num}", message=f"not CSV: {exc}"))
            break
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header, header_line = _header(cells, start), start
            continue
        rows += 1
        if rows > CSV_MAX_ROWS:
            raise PayloadTooLarge(
                f"a contacts file may have at most {CSV_MAX_ROWS:,} rows; split it",
                errors=[FieldError(field=f"line {start}", message=f"row {CSV_MAX_ROWS + 1:,}")],
            )
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            errors.append(
                FieldError(
                    field=f"line {start}",
                    message=f"{len(cells)} cells, but the header (line {header_line})"
                    f" names {len(header)} columns",
                )
            )
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False))
        values: dict[str, Any] = {}
        bad = False
        for column, raw in row.items():
            try:
                if column == "tags":
                    values[column] = check_tags(p for p in TAG_SEPARATORS.split(raw) if p.strip())
                else:
                    values[column] = _CHECKS[column](raw)
            except _Bad as exc:
                errors.append(FieldError(field=f"line {start}: {column}", message=str(exc)))
                bad = True
        if bad:
            continue
        key = values["email"].lower()
        if key in seen:
            errors.append(
                FieldError(
                    field=f"line {start}: email",
                    message=f"the same address as line {seen[key]}",
                )
            )
            continue
        seen[key] = start
        contacts.append(ContactIn(**values))
    if header is None:
        errors.append(
            FieldError(field="line 1", message="the file is empty; the first row names the columns")
        )
    if errors:
        raise _refuse(errors, "bad row(s)")
    return ParsedCsv(contacts=contacts, columns=frozenset(header or ()) - {"name", "email"})


async def import_csv(*, org_id: uuid.UUID, body: bytes) -> tuple[int, int]:
    """Create or update every contact of a checked file in one transaction; returns
    (created, updated). Columns the file lacks keep an existing contact's values."""
    parsed = parse_csv(body)
    if not parsed.contacts:
        return 0, 0
    people = parsed.contacts
    async with Contact._meta.db.transaction():
        rows = await Contact.raw(
            "INSERT INTO contact (id, org, email, email_key, name, title, locale, tags)"
            " SELECT gen_random_uuid(), {}, e, k, n, t, l,"
            " ARRAY(SELECT jsonb_array_elements_text(g::jsonb))"
            " FROM unnest({}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[])"
            " AS u(e, k, n, t, l, g)"
            " ON CONFLICT (org, email_key) DO UPDATE SET email = EXCLUDED.email,"
            " name = EXCLUDED.name,"
            " title = CASE WHEN {} THEN EXCLUDED.title ELSE contact.title END,"
            " locale = CASE WHEN {} THEN EXCLUDED.locale ELSE contact.locale END,"
            " tags = CASE WHEN {} THEN EXCLUDED.tags ELSE contact.tags END,"
            " updated_at = now()"
            # xmax is 0 only in a row version this statement inserted
            " RETURNING xmax = 0 AS created",
            org_id,
            [p.email for p in people],
            [p.email.lower() for p in people],
            [p.name for p in people],
            [p.title for p in people],
            [p.locale for p in people],
            [json.dumps(list(p.tags), ensure_ascii=False) for p in people],
            "title" in parsed.columns,
            "locale" in parsed.columns,
            "tags" in parsed.columns,
        )
    created = sum(1 for r in rows if r["created"])
    return created, len(rows) - created


# --- invitations through organizations ----------------------------------------------------

_NOT_YOURS = "not your organization or one of your member units"


async def resolve_invitees(
    *, caller_org_id: uuid.UUID, selectors: Sequence[OrgSelector]
) -> list[InviteeIn]:
    """The contacts the selectors reach, each address once (the first selector reaching it
    gives its name and locale). The caller may name itself (with `members`, when it is a
    federation: and its active member units) and its active member units; anything else is
    a 422 that does not tell a foreign organization from an unknown one."""
    if not selectors:
        return []
    me = await Contact.raw("SELECT slug, kind FROM organization WHERE id = {}", caller_org_id)
    if not me:
        raise NotFound("organization not found")
    members = {
        r["slug"]: r["id"]
        for r in await Contact.raw(
            "SELECT o.id, o.slug FROM org_membership m JOIN organization o ON o.id = m.member"
            " WHERE m.federation = {} AND m.status = 'active' ORDER BY o.slug",
            caller_org_id,
        )
    }
    errors: list[FieldError] = []
    plans: list[tuple[list[uuid.UUID], list[str] | None]] = []
    for i, selector in enumerate(selectors):
        where = f"organizations.{i}"
        try:
            tags = list(check_tags(selector.tags)) if selector.tags is not None else None
        except _Bad as exc:
            errors.append(FieldError(field=f"{where}.tags", message=str(exc)))
            continue
        if selector.slug == me[0]["slug"]:
            orgs = [caller_org_id]
            if selector.members:
                if me[0]["kind"] != FEDERATION:
                    errors.append(
                        FieldError(
                            field=f"{where}.members",
                            message="only a federation reaches member units; this"
                            " organization is not one",
                        )
                    )
                    continue
                orgs += list(members.values())
        elif selector.slug in members:
            if selector.members:
                errors.append(
                    FieldError(
                        field=f"{where}.members",
                        message="reaches the member units of your own federation only",
                    )
                )
                continue
            orgs = [members[selector.slug]]
        else:
            errors.append(FieldError(field=f"{where}.slug", message=_NOT_YOURS))
            continue
        plans.append((orgs, tags))
    if errors:
        raise InvalidInput.fields(errors)
    reached: dict[str, InviteeIn] = {}
    for orgs, tags in plans:
        rows = await Contact.raw(
            "SELECT email, email_key, name, locale FROM contact"
            " WHERE org = ANY({}::uuid[]) AND ({}::text[] IS NULL OR tags && {}::varchar[])"
            " ORDER BY array_position({}::uuid[], org), email_key",
            orgs,
            tags,
            tags,
            orgs,
        )
        for r in rows:
            reached.setdefault(
                r["email_key"], InviteeIn(email=r["email"], name=r["name"], locale=r["locale"])
            )
    return list(reached.values())


def merge_invitees(
    *, invitees: Sequence[InviteeIn], resolved: Sequence[InviteeIn], organizations_named: bool
) -> list[InviteeIn]:
    """The explicit invitees as given (they win for name, role and locale), then the people
    reached through organizations whom they do not name."""
    named = {email_key(i.email) for i in invitees}
    extra = [r for r in resolved if r.email.lower() not in named]
    if not invitees and not extra:
        if organizations_named:
            raise InvalidInput.field("organizations", "reach no contacts (check slugs and tags)")
        raise InvalidInput.field("invitees", "give invitees, organizations or both")
    if len(named) + len(extra) > MAX_INVITEES:
        raise InvalidInput.field(
            "organizations",
            f"reach {len(named) + len(extra):,} people; at most {MAX_INVITEES:,} per request",
        )
    return [*invitees, *extra]
