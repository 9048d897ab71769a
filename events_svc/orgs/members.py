"""Federations and their member units: a federation asks organizations to join, a unit accepts,
declines or leaves; both sides list the memberships."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.orgs.records import MembershipRecord
from events_svc.orgs.service import FEDERATION
from events_svc.orgs.tables import Organization, OrgMembership

_OTHER_SIDE = (
    "SELECT o.slug, o.name, o.name_en, o.kind, o.region, m.status, m.invited_at, m.accepted_at"
    " FROM org_membership m JOIN organization o ON o.id = m.{other}"
    " WHERE m.{side} = {{}}"
)


async def add_members(*, org_id: uuid.UUID, slugs: Sequence[str]) -> tuple[int, int]:
    """A federation asks organizations to join it; returns (new pending, already pending or
    active). Every unknown slug (or its own) is named; then nothing is added."""
    async with OrgMembership._meta.db.transaction():
        # FOR SHARE: a concurrent change of the caller's kind waits for this to commit
        me = await Organization.raw("SELECT kind FROM organization WHERE id = {} FOR SHARE", org_id)
        kind = me[0]["kind"] if me else None
        if kind != FEDERATION:
            raise Conflict(
                "only a federation lists member units; this organization's kind is"
                f' {kind or "not set"} (PATCH /orgs/me with {{"kind": "federation"}})'
            )
        found = await Organization.raw(
            "SELECT id, slug FROM organization WHERE slug = ANY({}::text[])", list(set(slugs))
        )
        ids = {r["slug"]: r["id"] for r in found}
        errors = []
        for i, slug in enumerate(slugs):
            if slug not in ids:
                errors.append(FieldError(field=f"slugs.{i}", message=f"no organization {slug!r}"))
            elif ids[slug] == org_id:
                errors.append(FieldError(field=f"slugs.{i}", message="is this organization"))
        if errors:
            raise InvalidInput.fields(errors)
        wanted = list({ids[s] for s in slugs})
        added = await OrgMembership.raw(
            "INSERT INTO org_membership (id, federation, member, status)"
            " SELECT gen_random_uuid(), {}, u, 'pending' FROM unnest({}::uuid[]) AS u"
            " ON CONFLICT (federation, member) DO NOTHING RETURNING member",
            org_id,
            wanted,
        )
    return len(added), len(wanted) - len(added)


async def list_members(*, org_id: uuid.UUID) -> list[MembershipRecord]:
    """The federation's member units, pending and active, by slug."""
    sql = _OTHER_SIDE.format(other="member", side="federation") + " ORDER BY o.slug"
    return [MembershipRecord(**r) for r in await OrgMembership.raw(sql, org_id)]


async def list_memberships(*, org_id: uuid.UUID) -> list[MembershipRecord]:
    """The federations the organization belongs to or is asked to join, by slug."""
    sql = _OTHER_SIDE.format(other="federation", side="member") + " ORDER BY o.slug"
    return [MembershipRecord(**r) for r in await OrgMembership.raw(sql, org_id)]


async def accept_membership(
    *, org_id: uuid.UUID, federation_slug: str, now: datetime | None = None
) -> MembershipRecord:
    """The member unit accepts a federation's invitation; accepting again changes nothing."""
    await OrgMembership.raw(
        "UPDATE org_membership m SET status = 'active', accepted_at = {}"
        " FROM organization f WHERE f.id = m.federation AND f.slug = {}"
        " AND m.member = {} AND m.status = 'pending'",
        now or datetime.now(UTC),
        federation_slug,
        org_id,
    )
    rows = await OrgMembership.raw(
        _OTHER_SIDE.format(other="federation", side="member") + " AND o.slug = {}",
        org_id,
        federation_slug,
    )
    if not rows:
        raise NotFound(f"no invitation to join {federation_slug!r}")
    return MembershipRecord(**rows[0])


async def remove_member(*, org_id: uuid.UUID, member_slug: str) -> None:
    """The federation ends a membership or withdraws its invitation."""
    if not await _end_membership(named="member", own="federation", slug=member_slug, org_id=org_id):
        raise NotFound(f"{member_slug!r} is not a member unit of this federation")


async def leave_federation(*, org_id: uuid.UUID, federation_slug: str) -> None:
    """The member unit leaves a federation or declines its invitation."""
    if not await _end_membership(
        named="federation", own="member", slug=federation_slug, org_id=org_id
    ):
        raise NotFound(f"no membership in {federation_slug!r}")


async def _end_membership(
    *,
    named: Literal["member", "federation"],
    own: Literal["member", "federation"],
    slug: str,
    org_id: uuid.UUID,
) -> bool:
    """Delete the membership between `org_id` (its `own` side) and the organization `slug`
    names (the other side); whether there was one."""
    rows = await OrgMembership.raw(
        f"DELETE FROM org_membership m USING organization o"  # noqa: S608 - column names only
        f" WHERE o.id = m.{named} AND o.slug = {{}} AND m.{own} = {{}} RETURNING m.id",
        slug,
        org_id,
    )
    return bool(rows)
