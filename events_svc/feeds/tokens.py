"""The signed link with which a person gives their own calendar feed a new address: the person
and a MAC over the feed token it replaces, so it is dead once the token changes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

from events_svc.errors import NotFound

_TOKEN_BYTES = 16 + 16  # person id, MAC
_NOT_FOUND = "no calendar link for this address"


def _mac(secret: str, person_id: uuid.UUID, feed_token: str) -> bytes:
    # the current feed token is in the message: a link works for one rotation only
    message = b"feed-rotate|" + person_id.bytes + b"|" + feed_token.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:16]


def make_token(secret: str, person_id: uuid.UUID, feed_token: str) -> str:
    raw = person_id.bytes + _mac(secret, person_id, feed_token)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_person(token: str) -> uuid.UUID:
    """The person a link names (not yet checked: see `check`); a malformed link is a 404."""
    if len(token) != 43 or not token.isascii():
        raise NotFound(_NOT_FOUND)
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError) as exc:
        raise NotFound(_NOT_FOUND) from exc
    if len(raw) != _TOKEN_BYTES:
        raise NotFound(_NOT_FOUND)
    return uuid.UUID(bytes=raw[:16])


def check(secret: str, token: str, feed_token: str) -> None:
    """A 404 unless `token` was made for the person's feed token as it is now."""
    person_id = read_person(token)
    raw = base64.urlsafe_b64decode(token + "=")
    if not hmac.compare_digest(raw[16:], _mac(secret, person_id, feed_token)):
        raise NotFound(_NOT_FOUND)


def rotation_url(base_url: str, secret: str, person_id: uuid.UUID, feed_token: str) -> str:
    return f"{base_url}/feeds/rotate/{make_token(secret, person_id, feed_token)}"
