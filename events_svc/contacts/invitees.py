"""The people an invitation reaches through organizations (and their member units)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from events_svc.contacts.checks import _Bad, check_tags
from events_svc.contacts.schemas import OrgSelector
from events_svc.contacts.tables import Contact
from events_svc.errors import (
    FieldError,
    InvalidInput,
    NotFound,
)
from events_svc.orgs.service import FEDERATION
from events_svc.people.schemas import MAX_INVITEES, InviteeIn
from events_svc.validation import email_key

# --- invitations through organizations ----------------------------------------------------

_NOT_YOURS = "not your organization or one of your member units"


async def resolve_invitees(
    *, caller_org_id: uuid.UUID, selectors: Sequence[OrgSelector]
) -> list[InviteeIn]:
    """The contacts the selectors reach, each address once (the first selector reaching it
    gives its name and locale). The caller may name itself (with `members`, when it is a
    federation: and its active member units) and its active member units; anything else is
    a 422 that does not tell a foreign organization from an unknown one."""
    if not selectors:
        return []
    me = await Contact.raw("SELECT slug, kind FROM organization WHERE id = {}", caller_org_id)
    if not me:
        raise NotFound("organization not found")
    members = {
        r["slug"]: r["id"]
        for r in await Contact.raw(
            "SELECT o.id, o.slug FROM org_membership m JOIN organization o ON o.id = m.member"
            " WHERE m.federation = {} AND m.status = 'active' ORDER BY o.slug",
            caller_org_id,
        )
    }
    errors: list[FieldError] = []
    plans: list[tuple[list[uuid.UUID], list[str] | None]] = []
    for i, selector in enumerate(selectors):
        where = f"organizations.{i}"
        try:
            tags = list(check_tags(selector.tags)) if selector.tags is not None else None
        except _Bad as exc:
            errors.append(FieldError(field=f"{where}.tags", message=str(exc)))
            continue
        if selector.slug == me[0]["slug"]:
            orgs = [caller_org_id]
            if selector.members:
                if me[0]["kind"] != FEDERATION:
                    errors.append(
                        FieldError(
                            field=f"{where}.members",
                            message="only a federation reaches member units; this"
                            " organization is not one",
                        )
                    )
                    continue
                orgs += list(members.values())
        elif selector.slug in members:
            if selector.members:
                errors.append(
                    FieldError(
                        field=f"{where}.members",
                        message="reaches the member units of your own federation only",
                    )
                )
                continue
            orgs = [members[selector.slug]]
        else:
            errors.append(FieldError(field=f"{where}.slug", message=_NOT_YOURS))
            continue
        plans.append((orgs, tags))
    if errors:
        raise InvalidInput.fields(errors)
    reached: dict[str, InviteeIn] = {}
    for orgs, tags in plans:
        rows = await Contact.raw(
            "SELECT email, email_key, name, locale FROM contact"
            " WHERE org = ANY({}::uuid[]) AND ({}::text[] IS NULL OR tags && {}::varchar[])"
            " ORDER BY array_position({}::uuid[], org), email_key",
            orgs,
            tags,
            tags,
            orgs,
        )
        for r in rows:
            reached.setdefault(
                r["email_key"], InviteeIn(email=r["email"], name=r["name"], locale=r["locale"])
            )
    return list(reached.values())


def merge_invitees(
    *, invitees: Sequence[InviteeIn], resolved: Sequence[InviteeIn], organizations_named: bool
) -> list[InviteeIn]:
    """The explicit invitees as given (they win for name, role and locale), then the people
    reached through organizations whom they do not name."""
    named = {email_key(i.email) for i in invitees}
    extra = [r for r in resolved if r.email.lower() not in named]
    if not invitees and not extra:
        if organizations_named:
            raise InvalidInput.field("organizations", "reach no contacts (check slugs and tags)")
        raise InvalidInput.field("invitees", "give invitees, organizations or both")
    if len(named) + len(extra) > MAX_INVITEES:
        raise InvalidInput.field(
            "organizations",
            f"reach {len(named) + len(extra):,} people; at most {MAX_INVITEES:,} per request",
        )
    return [*invitees, *extra]
