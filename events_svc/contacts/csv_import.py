"""Importing contacts from CSV: media type, size, encoding, header and row checks, upsert."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from events_svc.contacts.checks import (
    _CHECKS,
    CSV_COLUMNS,
    CSV_MAX_BYTES,
    CSV_MAX_ROWS,
    CSV_TYPES,
    MAX_REPORTED,
    TAG_SEPARATORS,
    ContactIn,
    _Bad,
    check_tags,
)
from events_svc.contacts.tables import Contact
from events_svc.errors import (
    FieldError,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)

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
