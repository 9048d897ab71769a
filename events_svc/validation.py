"""Input checks shared by several areas."""

from __future__ import annotations

import base64
from email.headerregistry import Address

from events_svc.errors import InvalidInput


def email_problem(value: str) -> str | None:
    """Why `value` is not a plain addr-spec we can send to (None when it is fine)."""
    if not value or len(value) > 254:
        return "must be an e-mail address of at most 254 characters"
    if any(ch.isspace() or ord(ch) < 32 for ch in value) or value.count("@") != 1:
        return f"{value!r} is not an e-mail address"
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, TypeError):
        return f"{value!r} is not an e-mail address"
    domain = address.domain
    if (
        not address.username
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or ".." in domain
        or address.addr_spec != value
    ):
        return f"{value!r} is not an e-mail address"
    return None


def validate_email(value: str, *, field: str) -> str:
    """An addr-spec without display name, CR/LF or spaces; returns it stripped."""
    value = value.strip()
    problem = email_problem(value)
    if problem:
        raise InvalidInput.field(field, problem)
    return value


def decode_token(value: str) -> bytes:
    """Strict base64url (no padding) as the API hands out cursors; raises ValueError on
    anything else, including a NUL inside (PostgreSQL text cannot hold it)."""
    if not value or len(value) > 1000:
        raise ValueError("empty or too long")
    data = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    if b"\x00" in data:
        raise ValueError("NUL in token")
    return data
