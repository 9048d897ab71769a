"""Per-invitation RSVP tokens: the invitation, its generation and a MAC, so a link works until
the invitation is withdrawn or renewed, and cannot be guessed or forged."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

from events_svc.errors import NotFound

_TOKEN_BYTES = 16 + 4 + 16  # invitation id, generation, MAC


def _mac(secret: str, invitation_id: uuid.UUID, generation: int) -> bytes:
    message = b"rsvp|" + invitation_id.bytes + generation.to_bytes(4, "big")
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:16]


def make_token(secret: str, invitation_id: uuid.UUID, generation: int) -> str:
    """The per-invitation RSVP token: the invitation, its generation and a MAC (128 bits)."""
    raw = (
        invitation_id.bytes
        + generation.to_bytes(4, "big")
        + _mac(secret, invitation_id, generation)
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(secret: str, token: str) -> tuple[uuid.UUID, int]:
    """(invitation id, generation) of a token this service made; anything else is a 404."""
    if len(token) != 48 or not token.isascii():
        raise NotFound("no invitation for this link")
    try:
        raw = base64.urlsafe_b64decode(token + "==")
    except (binascii.Error, ValueError) as exc:
        raise NotFound("no invitation for this link") from exc
    if len(raw) != _TOKEN_BYTES:
        raise NotFound("no invitation for this link")
    invitation_id = uuid.UUID(bytes=raw[:16])
    generation = int.from_bytes(raw[16:20], "big")
    if not hmac.compare_digest(raw[20:], _mac(secret, invitation_id, generation)):
        raise NotFound("no invitation for this link")
    return invitation_id, generation


def rsvp_url(base_url: str, secret: str, invitation_id: uuid.UUID, generation: int) -> str:
    return f"{base_url}/rsvp/{make_token(secret, invitation_id, generation)}"
