"""The check-in link of one invitation and its QR code: `/check-in/<invitation id>.<HMAC of
it under SECRET_KEY>`. The invitee's RSVP page and reminders show it; an organizer of the
event who opens it checks the person in. The link names nobody to anyone else. (The PNG
that reminders carry is events_svc.mail.qr's.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import segno


def _mac(secret: str, invitation_id: uuid.UUID) -> str:
    digest = hmac.new(secret.encode(), b"check-in:" + invitation_id.bytes, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def checkin_token(secret: str, invitation_id: uuid.UUID) -> str:
    return f"{invitation_id.hex}.{_mac(secret, invitation_id)}"


def checkin_url(base_url: str, secret: str, invitation_id: uuid.UUID) -> str:
    return f"{base_url}/check-in/{checkin_token(secret, invitation_id)}"


def read_checkin_token(secret: str, token: str) -> uuid.UUID | None:
    """The invitation a genuine token names; None for anything else."""
    head, _, mac = token.partition(".")
    if len(token) > 100 or len(head) != 32:
        return None
    try:
        ident = uuid.UUID(hex=head)
    except ValueError:
        return None
    return ident if hmac.compare_digest(mac.encode(), _mac(secret, ident).encode()) else None


def qr_svg(url: str, *, title: str = "") -> str:
    """The QR code of `url` as inline SVG (no style attribute or element: the strict CSP
    allows it), scalable by CSS through its viewBox."""
    code = segno.make(url, error="m")
    size = code.symbol_size(scale=4, border=4)[0]
    svg: str = code.svg_inline(scale=4, border=4, light="#fff", title=title or None)
    return svg.replace("<svg ", f'<svg viewBox="0 0 {size} {size}" role="img" ', 1)
