"""Co-operation agreements: proposed by one organization, active once every party accepted,
ended by any party; the events run under one, grouped by area."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound
from events_svc.events.tables import Event
from events_svc.partnerships.records import (
    PartnershipRecord,
    PartyRecord,
    ProgrammeAreaRecord,
    ProgrammeEventRecord,
    ProgrammeRecord,
    ProgrammeRefRecord,
)
from events_svc.partnerships.schemas import PartnershipCreate
from events_svc.partnerships.tables import Partnership, PartnershipParty


async def create(*, org_id: uuid.UUID, data: PartnershipCreate) -> PartnershipRecord:
    """Propose an agreement with the organizations named in `partners`; the proposer has
    accepted by proposing."""
    errors: list[FieldError] = []
    title = " ".join(data.title.split())
    if not title:
        errors.append(FieldError(field="title", message="must not be blank"))
    areas = [" ".join(a.split()) for a in data.areas]
    for i, area in enumerate(areas):
        if not area:
            errors.append(FieldError(field=f"areas.{i}", message="must not be blank"))
    if len(set(areas)) != len(areas):
        errors.append(FieldError(field="areas", message="must not repeat an area"))
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        errors.append(FieldError(field="ends_on", message="must not be before starts_on"))
    slugs = [s.strip().lower() for s in data.partners]
    found = await Partnership.raw(
        "SELECT id, slug FROM organization WHERE slug = ANY({}::text[])", slugs
    )
    ids = {r["slug"]: r["id"] for r in found}
    partner_ids: list[uuid.UUID] = []
    for i, slug in enumerate(slugs):
        if slug not in ids:
            errors.append(FieldError(field=f"partners.{i}", message=f"no organization {slug!r}"))
        elif ids[slug] == org_id:
            errors.append(FieldError(field=f"partners.{i}", message="cannot partner with itself"))
        elif ids[slug] not in partner_ids:
            partner_ids.append(ids[slug])
    if errors:
        raise InvalidInput.fields(errors)
    partnership_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with Partnership._meta.db.transaction():
        await Partnership.raw(
            "INSERT INTO partnership (id, proposer, title, signed_on, areas, starts_on, ends_on,"
            " status, created_at) VALUES ({}, {}, {}, {}, {}::jsonb, {}, {}, 'proposed', {})",
            partnership_id,
            org_id,
            title,
            data.signed_on,
            json.dumps(areas, ensure_ascii=False),
            data.starts_on,
            data.ends_on,
            now,
        )
        await PartnershipParty.raw(
            "INSERT INTO partnership_party (id, partnership, org, accepted_at)"
            " SELECT gen_random_uuid(), {}, o, CASE WHEN o = {} THEN {}::timestamptz END"
            " FROM unnest({}::uuid[]) AS u(o)",
            partnership_id,
            org_id,
            now,
            [org_id, *partner_ids],
        )
    return await get(org_id=org_id, partnership_id=partnership_id)


async def get(*, org_id: uuid.UUID, partnership_id: uuid.UUID) -> PartnershipRecord:
    """An agreement as its parties see it; anybody else gets a 404."""
    rows = await Partnership.raw(
        "SELECT p.*, o.slug AS proposer_slug FROM partnership p"
        " JOIN organization o ON o.id = p.proposer WHERE p.id = {}"
        " AND EXISTS (SELECT 1 FROM partnership_party x WHERE x.partnership = p.id"
        "  AND x.org = {})",
        partnership_id,
        org_id,
    )
    if not rows:
        raise NotFound("partnership not found")
    parties = await PartnershipParty.raw(
        "SELECT o.slug, o.name, x.accepted_at FROM partnership_party x"
        " JOIN organization o ON o.id = x.org WHERE x.partnership = {} ORDER BY o.slug",
        partnership_id,
    )
    return _out(rows[0], parties)


def _out(row: dict[str, Any], parties: Sequence[dict[str, Any]]) -> PartnershipRecord:
    areas = row["areas"]
    return PartnershipRecord(
        id=str(row["id"]),
        title=row["title"],
        proposer=row["proposer_slug"],
        parties=[
            PartyRecord(slug=p["slug"], name=p["name"], accepted_at=p["accepted_at"])
            for p in parties
        ],
        signed_on=row["signed_on"],
        areas=json.loads(areas) if isinstance(areas, str) else list(areas),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        status=row["status"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
    )


async def list_for(*, org_id: uuid.UUID) -> list[PartnershipRecord]:
    """The agreements the caller is a party to, newest first."""
    rows = await Partnership.raw(
        "SELECT p.id FROM partnership p JOIN partnership_party x ON x.partnership = p.id"
        " WHERE x.org = {} ORDER BY p.created_at DESC",
        org_id,
    )
    return [await get(org_id=org_id, partnership_id=r["id"]) for r in rows]


async def accept(*, org_id: uuid.UUID, partnership_id: uuid.UUID) -> PartnershipRecord:
    """The caller accepts; the agreement is active once every party has."""
    async with Partnership._meta.db.transaction():
        current = await _lock(org_id=org_id, partnership_id=partnership_id)
        if current["status"] == "ended":
            raise Conflict("the partnership has ended")
        await PartnershipParty.raw(
            "UPDATE partnership_party SET accepted_at = coalesce(accepted_at, {})"
            " WHERE partnership = {} AND org = {}",
            datetime.now(UTC),
            partnership_id,
            org_id,
        )
        await Partnership.raw(
            "UPDATE partnership SET status = 'active' WHERE id = {} AND status = 'proposed'"
            " AND NOT EXISTS (SELECT 1 FROM partnership_party WHERE partnership = {}"
            "  AND accepted_at IS NULL)",
            partnership_id,
            partnership_id,
        )
    return await get(org_id=org_id, partnership_id=partnership_id)


async def end(*, org_id: uuid.UUID, partnership_id: uuid.UUID) -> PartnershipRecord:
    """Any party may end an agreement (a proposal, too). The hosts keep their events; the
    co-hosts lose them in the same transaction: `event.cohosts` is what every tenancy
    predicate reads, so emptying it is what ends their access everywhere at once."""
    async with Partnership._meta.db.transaction():
        await get(org_id=org_id, partnership_id=partnership_id)  # 404 for non-parties
        # the events first, then the agreement: the order an event change takes them in
        # (event row, then check_event_link's share lock), so the two cannot deadlock
        await Event.raw(
            "SELECT id FROM event WHERE partnership = {} ORDER BY id FOR UPDATE", partnership_id
        )
        current = await _lock(org_id=org_id, partnership_id=partnership_id)
        if current["status"] != "ended":
            now = datetime.now(UTC)
            await Partnership.raw(
                "UPDATE partnership SET status = 'ended', ended_at = {}, ended_by = {}"
                " WHERE id = {}",
                now,
                org_id,
                partnership_id,
            )
            # updated_at moves so feeds (whose validators hash it) drop the former co-hosts
            await Event.raw(
                "UPDATE event SET cohosts = ARRAY[]::uuid[], updated_at = {}"
                " WHERE partnership = {} AND cardinality(cohosts) > 0",
                now,
                partnership_id,
            )
    return await get(org_id=org_id, partnership_id=partnership_id)


async def _lock(*, org_id: uuid.UUID, partnership_id: uuid.UUID) -> dict[str, Any]:
    rows = await Partnership.raw(
        "SELECT p.status FROM partnership p WHERE p.id = {} AND EXISTS (SELECT 1"
        " FROM partnership_party x WHERE x.partnership = p.id AND x.org = {}) FOR UPDATE",
        partnership_id,
        org_id,
    )
    if not rows:
        raise NotFound("partnership not found")
    return dict(rows[0])


async def programme(
    *, org_id: uuid.UUID, partnership_id: uuid.UUID, year: int | None
) -> ProgrammeRecord:
    """The events run under the agreement (in `year`, when given), grouped by area in the
    agreement's order; events without an area come last."""
    partnership = await get(org_id=org_id, partnership_id=partnership_id)
    start = datetime(year, 1, 1, tzinfo=UTC) if year else None
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if year else None
    rows = await Event.raw(
        "SELECT e.id, e.title, e.kind, e.area, e.starts_at, e.ends_at, e.timezone,"
        " e.starts_at_utc, e.status, e.visibility, o.slug AS host,"
        " coalesce((SELECT array_agg(c.slug ORDER BY c.slug) FROM organization c"
        "  WHERE c.id = ANY(e.cohosts)), ARRAY[]::text[]) AS cohosts"
        " FROM event e JOIN organization o ON o.id = e.org WHERE e.partnership = {}"
        # an ended agreement's programme is each party's own events: the others' are no
        # longer theirs to see
        " AND ({} <> 'ended' OR e.org = {})"
        " AND ({}::timestamptz IS NULL OR (e.starts_at_utc >= {} AND e.starts_at_utc < {}))"
        " ORDER BY e.starts_at_utc, e.id",
        partnership_id,
        partnership.status,
        org_id,
        start,
        start,
        end,
    )
    groups: dict[str, list[ProgrammeEventRecord]] = {a: [] for a in partnership.areas}
    unassigned: list[ProgrammeEventRecord] = []
    for r in rows:
        item = ProgrammeEventRecord(
            id=str(r["id"]),
            title=r["title"],
            kind=r["kind"],
            starts_at=r["starts_at"].strftime("%Y-%m-%dT%H:%M:%S"),
            ends_at=r["ends_at"].strftime("%Y-%m-%dT%H:%M:%S"),
            timezone=r["timezone"],
            status=r["status"],
            host=r["host"],
            cohosts=list(r["cohosts"]),
        )
        (groups[r["area"]] if r["area"] in groups else unassigned).append(item)
    return ProgrammeRecord(
        partnership=ProgrammeRefRecord(id=partnership.id, title=partnership.title),
        year=year,
        areas=[ProgrammeAreaRecord(area=a, events=events) for a, events in groups.items()],
        unassigned=unassigned,
    )


async def check_event_link(
    *,
    org_id: uuid.UUID,
    partnership_id: uuid.UUID | None,
    area: str | None,
    cohost_slugs: Sequence[str],
    current_partnership: uuid.UUID | None = None,
    current_cohosts: Sequence[uuid.UUID] = (),
) -> list[uuid.UUID]:
    """Validate an event's `partnership`, `area` and `cohosts` for the caller: an active
    agreement the caller is a party to, one of its areas, and other parties of it (an
    ended one only as the event's own, with co-hosts removed). Returns the co-hosts' ids."""
    if partnership_id is None:
        if area is not None:
            raise InvalidInput.field("area", "an area belongs to a partnership: name it too")
        if cohost_slugs:
            raise InvalidInput.field(
                "cohosts", "co-hosts come from a partnership: name the partnership too"
            )
        return []
    # FOR SHARE: an agreement ending meanwhile waits for this change, then strips the
    # co-hosts it set (and a change after the end sees it ended)
    rows = await Partnership.raw(
        "SELECT p.status, p.areas FROM partnership p WHERE p.id = {} AND EXISTS (SELECT 1"
        " FROM partnership_party x WHERE x.partnership = p.id AND x.org = {}) FOR SHARE OF p",
        partnership_id,
        org_id,
    )
    if not rows:
        raise InvalidInput.field("partnership", "no partnership of yours with this id")
    # an event keeps the agreement it ran under after the end, and its host may still
    # remove co-hosts from it; linking to it or adding co-hosts needs an active agreement
    keeping = partnership_id == current_partnership
    if rows[0]["status"] != "active" and not keeping:
        raise InvalidInput.field(
            "partnership", f"the partnership is {rows[0]['status']}, not active"
        )
    areas = rows[0]["areas"]
    areas = json.loads(areas) if isinstance(areas, str) else areas
    if area is not None and area not in areas:
        raise InvalidInput.field("area", "not one of the partnership's areas")
    parties = await PartnershipParty.raw(
        "SELECT o.id, o.slug FROM partnership_party x JOIN organization o ON o.id = x.org"
        " WHERE x.partnership = {}",
        partnership_id,
    )
    by_slug = {p["slug"]: p["id"] for p in parties}
    ids: list[uuid.UUID] = []
    errors: list[FieldError] = []
    for i, slug in enumerate(cohost_slugs):
        found = by_slug.get(slug.strip().lower())
        if found is None:
            errors.append(
                FieldError(field=f"cohosts.{i}", message="not a party of the partnership")
            )
        elif found != org_id and found not in ids:
            ids.append(found)
    if errors:
        raise InvalidInput.fields(errors)
    if rows[0]["status"] != "active" and not set(ids) <= set(current_cohosts):
        raise InvalidInput.field(
            "cohosts", f"the partnership is {rows[0]['status']}: co-hosts can only be removed"
        )
    return ids
