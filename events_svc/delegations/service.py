"""Delegations of exchange visits: each visiting organization names its leader and members
from its own contacts; they are invited (leader as chair), and the host sees the whole list
with answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events_svc.delegations.records import DelegateRecord, DelegationRecord, VisitRecord
from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.events.tables import Event
from events_svc.invitations import service as invitations
from events_svc.invitations.schemas import InviteeIn
from events_svc.settings import DEFAULT_VOLUME
from events_svc.validation import email_key


async def put(
    *,
    org_id: uuid.UUID,
    org_slug: str,
    event_id: uuid.UUID,
    slug: str,
    leader: str,
    members: Sequence[str],
    now: datetime | None = None,
    max_reminder_rows: int = DEFAULT_VOLUME.reminder_rows,
) -> tuple[DelegationRecord, list[dict[str, Any]], list[dict[str, Any]]]:
    """Name (or rename) the caller's delegation to an exchange visit it is visiting. Returns
    the delegation, the outbox rows and the webhook rows to enqueue after commit. People no
    longer in it are taken off the list (they get a CANCEL)."""
    if slug.strip().lower() != org_slug:
        # a delegation is named with its own organization's key; others see no such thing
        raise NotFound("no delegation of yours to this event")
    now = now or datetime.now(UTC)
    async with Event._meta.db.transaction():
        event = await invitations.lock_event_by_id(event_id)
        rows = await Event.raw("SELECT kind, visiting FROM event WHERE id = {}", event_id)
        if rows[0]["kind"] != "exchange_visit" or org_id not in (rows[0]["visiting"] or ()):
            raise NotFound("no delegation of yours to this event")
        if event["status"] == "cancelled":
            raise Conflict("the event is cancelled")
        wanted = [leader, *members]
        contacts = await Event.raw(
            "SELECT email, email_key, name, locale FROM contact"
            " WHERE org = {} AND email_key = ANY({}::text[])",
            org_id,
            [email_key(w) for w in wanted],
        )
        known = {c["email_key"]: c for c in contacts}
        errors: list[FieldError] = []
        if email_key(leader) not in known:
            errors.append(FieldError(field="leader", message="not one of your contacts"))
        for i, member in enumerate(members):
            if email_key(member) not in known:
                errors.append(FieldError(field=f"members.{i}", message="not one of your contacts"))
        if errors:
            raise InvalidInput.fields(errors)
        leader_key = email_key(leader)
        member_keys = list(
            dict.fromkeys(email_key(m) for m in members if email_key(m) != leader_key)
        )
        previous = await Event.raw(
            "SELECT leader, members FROM delegation WHERE event = {} AND org = {}",
            event_id,
            org_id,
        )
        before = set()
        if previous:
            before = {previous[0]["leader"], *_emails(previous[0]["members"])}
        invitees = [
            InviteeIn(
                email=known[key]["email"],
                name=known[key]["name"],
                role="chair" if key == leader_key else "required",
                locale=known[key]["locale"] if known[key]["locale"] in ("zh-CN", "en") else "zh-CN",
            )
            for key in [leader_key, *member_keys]
        ]
        queued, _invited = await invitations.invite_locked(
            event, invitees, now=now, max_reminder_rows=max_reminder_rows, field="members"
        )
        hooks: list[dict[str, Any]] = []
        for gone in sorted(before - {leader_key, *member_keys}):
            rows_out, hook_rows = await invitations.uninvite_locked(event, gone, now=now)
            queued += rows_out or []
            hooks += hook_rows
        await Event.raw(
            "INSERT INTO delegation (id, event, org, leader, members, updated_at)"
            " VALUES (gen_random_uuid(), {}, {}, {}, {}::jsonb, {})"
            " ON CONFLICT (event, org) DO UPDATE SET leader = EXCLUDED.leader,"
            " members = EXCLUDED.members, updated_at = EXCLUDED.updated_at",
            event_id,
            org_id,
            leader_key,
            json.dumps(member_keys),
            now,
        )
    listed = await list_for(org_id=org_id, event_id=event_id)
    return listed[0], queued, hooks


def _emails(raw: Any) -> list[str]:
    return list(json.loads(raw) if isinstance(raw, str) else raw or [])


async def list_for(*, org_id: uuid.UUID, event_id: uuid.UUID) -> list[DelegationRecord]:
    """The delegations of an exchange visit with each delegate's answer: all of them for its
    hosts, its own for a visiting organization; anybody else gets a 404."""
    rows = await Event.raw("SELECT org, cohosts, visiting, kind FROM event WHERE id = {}", event_id)
    if not rows:
        raise NotFound("event not found")
    event = rows[0]
    hosts = {event["org"], *(event["cohosts"] or ())}
    if org_id in hosts:
        orgs = list(event["visiting"] or ())
    elif org_id in (event["visiting"] or ()):
        orgs = [org_id]
    else:
        raise NotFound("event not found")
    delegations = await Event.raw(
        "SELECT d.org, d.leader, d.members, d.updated_at, o.slug, o.name FROM delegation d"
        " JOIN organization o ON o.id = d.org WHERE d.event = {} AND d.org = ANY({}::uuid[])",
        event_id,
        orgs,
    )
    by_org = {d["org"]: d for d in delegations}
    named = await Event.raw(
        "SELECT id, slug, name FROM organization WHERE id = ANY({}::uuid[])", orgs
    )
    answers = await Event.raw(
        "SELECT p.email_key, p.email, p.name, i.role, i.rsvp, i.waitlisted_at"
        " FROM invitation i JOIN person p ON p.id = i.person"
        " WHERE i.event = {} AND i.removed_at IS NULL",
        event_id,
    )
    by_email = {a["email_key"]: a for a in answers}

    def person(email: str, role: str) -> DelegateRecord:
        found = by_email.get(email)
        return DelegateRecord(
            email=found["email"] if found else email,
            name=found["name"] if found else "",
            role=role,
            rsvp=found["rsvp"] if found else None,
            waitlisted=bool(found and found["waitlisted_at"]),
        )

    out = []
    for org in sorted(named, key=lambda o: o["slug"]):
        d = by_org.get(org["id"])
        out.append(
            DelegationRecord(
                organization=org["slug"],
                name=org["name"],
                leader=person(d["leader"], "chair") if d else None,
                members=[person(m, "required") for m in _emails(d["members"])] if d else [],
                updated_at=d["updated_at"] if d else None,
            )
        )
    return out


async def visits_of(*, org_id: uuid.UUID) -> list[VisitRecord]:
    """The exchange visits this organization is visiting (not cancelled, not over), each with
    the delegation it named so far."""
    rows = await Event.raw(
        "SELECT e.id, e.title, e.starts_at, e.timezone, o.name AS host_name"
        " FROM event e JOIN organization o ON o.id = e.org"
        " WHERE e.kind = 'exchange_visit' AND {} = ANY(e.visiting) AND e.status = 'scheduled'"
        " AND e.ends_at_utc > now() ORDER BY e.starts_at_utc LIMIT 100",
        org_id,
    )
    return [
        VisitRecord(
            id=str(r["id"]),
            title=r["title"],
            starts_at=r["starts_at"].strftime("%Y-%m-%dT%H:%M:%S"),
            timezone=r["timezone"],
            host_name=r["host_name"],
        )
        for r in rows
    ]
