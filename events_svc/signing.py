"""Links that carry a row's id and an HMAC of it under SECRET_KEY (a registration's
confirmation, an invitation's check-in): `<id hex>.<MAC>`. The table alone makes no link,
and a link names only its own row."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid


def _mac(secret: str, label: bytes, ident: uuid.UUID) -> str:
    # the label keeps one kind's link from being valid as another's
    digest = hmac.new(secret.encode(), label + b":" + ident.bytes, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def signed_id(secret: str, label: bytes, ident: uuid.UUID) -> str:
    return f"{ident.hex}.{_mac(secret, label, ident)}"


def read_signed_id(secret: str, label: bytes, token: str) -> uuid.UUID | None:
    """The id a genuine token of this label names; None for anything else."""
    head, _, mac = token.partition(".")
    if len(token) > 100 or len(head) != 32:
        return None
    try:
        ident = uuid.UUID(hex=head)
    except ValueError:
        return None
    return ident if hmac.compare_digest(mac.encode(), _mac(secret, label, ident).encode()) else None
