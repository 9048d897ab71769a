"""People, found or created by e-mail address (compared case-insensitively)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from events_svc.people.tables import Person

#: a new feed token: 32 bytes from pg_strong_random (two v4 UUIDs: 244 random bits),
#: base64url without padding, 43 characters
FEED_TOKEN_SQL = (
    "rtrim(translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()),"  # noqa: S105
    " 'base64'), '+/', '-_'), '=')"
)


@dataclass(frozen=True, slots=True)
class PersonIn:
    email: str
    name: str
    locale: str


async def upsert_people(people: Sequence[PersonIn]) -> dict[str, uuid.UUID]:
    """Ids by lower-cased address; new people are created, known ones keep their data
    (a blank name is filled in). Call inside a transaction.

    The key is lower-cased by Python, not by SQL `lower()`: the callers look ids up by
    `str.lower()`, and for a few non-ASCII local parts (`İ`, a final `Σ`) the two differ.
    SQL lookups of `lower(key)` still find it: lower-casing twice changes nothing."""
    if not people:
        return {}
    rows = await Person.raw(
        "INSERT INTO person (id, email, email_key, name, locale, feed_token)"  # noqa: S608
        f" SELECT gen_random_uuid(), e, k, n, l, {FEED_TOKEN_SQL}"
        " FROM unnest({}::text[], {}::text[], {}::text[], {}::text[]) AS u(e, k, n, l)"
        " ON CONFLICT (email_key) DO UPDATE SET name = CASE WHEN person.name = ''"
        " THEN EXCLUDED.name ELSE person.name END"
        " RETURNING id, email_key",
        [p.email for p in people],
        [p.email.lower() for p in people],
        [p.name for p in people],
        [p.locale for p in people],
    )
    return {r["email_key"]: r["id"] for r in rows}
