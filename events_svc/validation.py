"""Input checks shared by several areas."""

from __future__ import annotations

import base64
import re
from functools import lru_cache

from email_validator import EmailNotValidError
from email_validator import validate_email as _parse_address

from events_svc.errors import InvalidInput

#: the longest address SMTP carries (RFC 5321 path limit) and the person.email column holds
MAX_EMAIL = 254


#: a plain ASCII local part (RFC 5322 dot-atom of atext): email_validator keeps it as given
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str | None:
    """The domain as email_validator normalizes it (None when it refuses it), checked once
    per domain: 10,000 invitees share a few domains, and the check cost ~0.3 ms each."""
    try:
        return str(_parse_address(f"a@{domain}", check_deliverability=False).ascii_domain)
    except EmailNotValidError:
        return None


def normalize_email(value: str) -> str:
    """The one form in which an address is stored, compared and sent: a plain addr-spec (no
    display name, comment, quoting or IP literal), its domain lower-cased and as IDNA A-labels
    (so `a@ëxample.org` and `a@xn--xample-ova.org` are one person and the envelope stays
    ASCII), its local part NFC-normalized and otherwise as given (it may be non-ASCII: such
    an address is sent with SMTPUTF8). Raises ValueError saying why `value` is refused."""
    text = value.strip()
    if not text or len(text) > MAX_EMAIL:
        raise ValueError(f"must be an e-mail address of at most {MAX_EMAIL} characters")
    # The common case without the full parse: a plain ASCII local part (kept as given) and a
    # domain email_validator accepted before. Anything else takes the full parse below, which
    # also words every refusal.
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        ascii_domain = _ascii_domain(domain)
        if ascii_domain is not None and len(local) + 1 + len(ascii_domain) <= MAX_EMAIL:
            return f"{local}@{ascii_domain}"
    try:
        parsed = _parse_address(
            text,
            check_deliverability=False,  # no DNS lookups on a request
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise ValueError(f"{text!r} is not an e-mail address: {exc}") from exc
    address = f"{parsed.local_part}@{parsed.ascii_domain}"
    if len(address) > MAX_EMAIL:
        raise ValueError(f"must be an e-mail address of at most {MAX_EMAIL} characters")
    return address


def validate_email(value: str, *, field: str) -> str:
    """The normalized address (see `normalize_email`), or a 422 naming `field`."""
    try:
        return normalize_email(value)
    except ValueError as exc:
        raise InvalidInput.field(field, str(exc)) from None


def email_key(value: str) -> str:
    """The case-insensitive lookup key of an address given in a path or query: the key of
    its normalized form, or the text itself lower-cased when it is no address (no row has
    such a key, so the lookup finds nothing)."""
    try:
        return normalize_email(value).lower()
    except ValueError:
        return value.strip().lower()


def decode_token(value: str) -> bytes:
    """Strict base64url (no padding) as the API hands out cursors; raises ValueError on
    anything else, including a NUL inside (PostgreSQL text cannot hold it)."""
    if not value or len(value) > 1000:
        raise ValueError("empty or too long")
    data = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    if b"\x00" in data:
        raise ValueError("NUL in token")
    return data
