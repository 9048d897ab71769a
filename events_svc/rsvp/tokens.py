"""Per-invitation RSVP tokens: the invitation, its generation and a MAC, so a link works until
the invitation is withdrawn or renewed, and cannot be guessed or forged; and the per-invitation
reply addresses calendar clients send their iTIP REPLY to."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable

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


# --- per-invitation reply addresses ----------------------------------------------------------

#: where the token goes in REPLY_ADDRESS; without it the address is plus-addressed
TOKEN_PLACEHOLDER = "{token}"  # noqa: S105 - a placeholder, not a secret
_REPLY_MAC_BYTES = 10  # 80 bits: a forger gets one guess per message
#: base32 of the invitation id and the MAC, lower case, unpadded
REPLY_TOKEN_CHARS = 42
_REPLY_TOKEN = re.compile(rf"[a-z2-7]{{{REPLY_TOKEN_CHARS}}}")


def _reply_mac(secret: str, invitation_id: uuid.UUID) -> bytes:
    message = b"reply|" + invitation_id.bytes
    return hmac.digest(secret.encode(), message, "sha256")[:_REPLY_MAC_BYTES]


def make_reply_token(secret: str, invitation_id: uuid.UUID) -> str:
    """The token of an invitation's reply address: base32 (case-insensitive, as some MTAs
    lowercase local parts) of the invitation id and a MAC; 42 characters."""
    raw = invitation_id.bytes + _reply_mac(secret, invitation_id)
    return base64.b32encode(raw).decode().rstrip("=").lower()


def read_reply_token(secret: str, token: str) -> uuid.UUID | None:
    """The invitation a reply token names, in any letter case; None when forged or junk."""
    token = token.lower()
    if not _REPLY_TOKEN.fullmatch(token):
        return None
    try:
        raw = base64.b32decode(token.upper() + "======")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 16 + _REPLY_MAC_BYTES:
        return None
    invitation_id = uuid.UUID(bytes=raw[:16])
    if not hmac.compare_digest(raw[16:], _reply_mac(secret, invitation_id)):
        return None
    return invitation_id


def reply_template(reply_address: str) -> str:
    """REPLY_ADDRESS as a template with one TOKEN_PLACEHOLDER: as given, or plus-addressed
    (`rsvp@example.org` -> `rsvp+{token}@example.org`)."""
    if TOKEN_PLACEHOLDER in reply_address:
        return reply_address
    local, _, domain = reply_address.rpartition("@")
    return f"{local}+{TOKEN_PLACEHOLDER}@{domain}"


def reply_address(reply_address: str, secret: str, invitation_id: uuid.UUID) -> str:
    """The invitation's own reply address: ORGANIZER of that person's copy and feed."""
    token = make_reply_token(secret, invitation_id)
    return reply_template(reply_address).replace(TOKEN_PLACEHOLDER, token)


def _address_pattern(reply_address: str) -> re.Pattern[str]:
    before, _, after = reply_template(reply_address).partition(TOKEN_PLACEHOLDER)
    return re.compile(
        re.escape(before) + f"([a-z2-7]{{{REPLY_TOKEN_CHARS}}})" + re.escape(after),
        re.IGNORECASE,
    )


def invitations_addressed(
    reply_address: str, secret: str, recipients: Iterable[str]
) -> set[uuid.UUID]:
    """The invitations whose reply address is among `recipients` (any letter case)."""
    pattern = _address_pattern(reply_address)
    found: set[uuid.UUID] = set()
    for recipient in recipients:
        match = pattern.fullmatch(recipient.strip())
        invitation_id = read_reply_token(secret, match.group(1)) if match else None
        if invitation_id is not None:
            found.add(invitation_id)
    return found


def redact_reply_tokens(reply_address: str, text: str) -> str:
    """`text` with the token of every reply address in it replaced by `[token]`: a held reply
    shows the organizer where it came to, never a capability for another invitation."""
    pattern = _address_pattern(reply_address)
    before, _, after = reply_template(reply_address).partition(TOKEN_PLACEHOLDER)
    return pattern.sub(lambda m: m.group(0)[: len(before)] + "[token]" + after, text)
