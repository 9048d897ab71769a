"""The check-in link of one invitation and its QR code: `/check-in/<invitation id>.<HMAC of
it under SECRET_KEY>`. The invitee's RSVP page and reminders show it; an organizer of the
event who opens it checks the person in. The link names nobody to anyone else. (The PNG
that reminders carry is events_svc.mail.qr's.)"""

from __future__ import annotations

import uuid

import segno

from events_svc.signing import read_signed_id, signed_id

#: what the check-in link's MAC is over, beside the invitation's id
_LABEL = b"check-in"


def checkin_token(secret: str, invitation_id: uuid.UUID) -> str:
    return signed_id(secret, _LABEL, invitation_id)


def checkin_url(base_url: str, secret: str, invitation_id: uuid.UUID) -> str:
    return f"{base_url}/check-in/{checkin_token(secret, invitation_id)}"


def read_checkin_token(secret: str, token: str) -> uuid.UUID | None:
    """The invitation a genuine token names; None for anything else."""
    return read_signed_id(secret, _LABEL, token)


def qr_svg(url: str, *, title: str = "") -> str:
    """The QR code of `url` as inline SVG (no style attribute or element: the strict CSP
    allows it), scalable by CSS through its viewBox."""
    code = segno.make(url, error="m")
    size = code.symbol_size(scale=4, border=4)[0]
    svg: str = code.svg_inline(scale=4, border=4, light="#fff", title=title or None)
    return svg.replace("<svg ", f'<svg viewBox="0 0 {size} {size}" role="img" ', 1)
