"""One rule for every listing: the page size (`limit`) and where the next page starts
(`cursor`), parsed and checked here only, so no listing is laxer than another. The query
parameters that carry them are `deps.Limit` and `deps.Cursor`."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import datetime

from events_svc.errors import InvalidInput
from events_svc.validation import decode_token

DEFAULT_LIMIT = 100
MAX_LIMIT = 200

#: plain decimal digits: `1e2`, `5.0`, `+5` or `05` are refused rather than read as numbers
_LIMIT_RE = re.compile(r"[1-9][0-9]{0,2}")


def page_limit(value: str | None) -> int:
    """The page size a request asks for; a 422 naming `limit` unless it is 1..MAX_LIMIT."""
    if value is None:
        return DEFAULT_LIMIT
    if not _LIMIT_RE.fullmatch(value) or int(value) > MAX_LIMIT:
        raise InvalidInput.field("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def encode_cursor(listing: str, *values: str) -> str:
    """An opaque cursor: the listing's name and the sort key of the last item given."""
    raw = json.dumps([listing, *values], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bad_cursor() -> InvalidInput:
    return InvalidInput.field("cursor", "not a cursor this API gave out")


def decode_cursor(cursor: str, listing: str, *, size: int) -> list[str]:
    """The `size` values `encode_cursor(listing, ...)` put in; a 422 naming `cursor` for
    anything else (another listing's cursor, `{}`, a number, bad base64 ...)."""
    try:
        data = json.loads(decode_token(cursor))
    except (ValueError, binascii.Error) as exc:  # JSONDecodeError, UnicodeDecodeError too
        raise bad_cursor() from exc
    if (
        not isinstance(data, list)
        or len(data) != size + 1
        or data[0] != listing
        or not all(isinstance(v, str) and v and "\x00" not in v for v in data[1:])
    ):
        raise bad_cursor()
    return data[1:]


def decode_keyset(cursor: str, listing: str, *, size: int) -> tuple[datetime, list[str], uuid.UUID]:
    """A cursor of (an instant, `size - 2` strings, an id), the shape of the time-ordered
    listings; a 422 naming `cursor` when its parts are not that."""
    values = decode_cursor(cursor, listing, size=size)
    try:
        when = datetime.fromisoformat(values[0])
        ident = uuid.UUID(values[-1])
    except ValueError as exc:
        raise bad_cursor() from exc
    if when.tzinfo is None:
        raise bad_cursor()
    return when, values[1:-1], ident
