"""A person's own act on their feed link: who a signed rotation link names, and the rotation
itself (new token, the old feed URL and every rotation link made for it dead, a mail with the
new link)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from events_svc.errors import NotFound
from events_svc.events.tables import Event
from events_svc.feeds import tokens
from events_svc.people.service import FEED_TOKEN_SQL


@dataclass(frozen=True, slots=True)
class LinkOwner:
    """The person a rotation link belongs to, with their feed token as it is now."""

    id: uuid.UUID
    email: str
    name: str
    locale: str
    feed_token: str


def _owner(row: Any) -> LinkOwner:
    return LinkOwner(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        locale=row["locale"],
        feed_token=row["feed_token"],
    )


async def link_owner(*, secret: str, token: str) -> LinkOwner:
    """The person whose current feed token `token` was signed for; anything else is a 404."""
    person_id = tokens.read_person(token)
    rows = await Event.raw(
        "SELECT id, email, name, locale, feed_token FROM person WHERE id = {}", person_id
    )
    if not rows or not rows[0]["feed_token"]:
        raise NotFound("no calendar link for this address")
    tokens.check(secret, token, rows[0]["feed_token"])
    return _owner(rows[0])


@dataclass(frozen=True, slots=True)
class Rotated:
    owner: LinkOwner  #: with the new feed token
    notifications: list[dict[str, Any]]  #: the feed-link mail to enqueue after commit


async def rotate_own_token(*, secret: str, token: str) -> Rotated:
    """Give the person of a valid rotation link a new feed token and queue a mail with it
    (about their latest invitation, from whichever organization). The link is dead afterwards:
    it was signed over the token it replaced, and a second submit of it is a 404."""
    before = await link_owner(secret=secret, token=token)
    async with Event._meta.db.transaction():
        # compare-and-set on the old token: of two submits of one link, one rotates
        rows = await Event.raw(
            f"UPDATE person SET feed_token = {FEED_TOKEN_SQL}"  # noqa: S608 - constant SQL
            " WHERE id = {} AND feed_token = {}"
            " RETURNING id, email, name, locale, feed_token",
            before.id,
            before.feed_token,
        )
        if not rows:
            raise NotFound("no calendar link for this address")
        queued = await Event.raw(
            "INSERT INTO notification (id, key, kind, event, person, sequence, detail)"
            " SELECT gen_random_uuid(), 'feed-link:' || {} || ':' || gen_random_uuid(),"
            " 'feed-link', e.id, {}, e.sequence, ''"
            " FROM invitation i JOIN event e ON e.id = i.event"
            " WHERE i.person = {} AND i.removed_at IS NULL"
            " ORDER BY e.starts_at_utc DESC LIMIT 1"
            " RETURNING id, key, attempts",
            str(before.id),
            before.id,
            before.id,
        )
    return Rotated(owner=_owner(rows[0]), notifications=list(queued))
