"""What the API's hot paths skip must not change what they promise: a key trusted for a few
seconds per process still stops working, and entries written together are each written."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from events_svc.errors import Unauthorized
from events_svc.organizers import audit
from events_svc.organizers.tables import AuditEntry
from events_svc.orgs import service as orgs
from events_svc.orgs.tables import ApiKey
from events_svc.validation import normalize_email


async def test_a_key_revoked_elsewhere_stops_working_within_the_cache_time(make_org: Any) -> None:
    _org, key = await make_org()
    header = f"Bearer {key}"
    await orgs.authenticate(authorization=header, cache_seconds=0.5)
    # another API process revokes it: this one is not told
    await ApiKey.update({ApiKey.revoked_at: datetime.now(UTC)}).where(ApiKey.revoked_at.is_null())
    await orgs.authenticate(authorization=header, cache_seconds=0.5)  # still trusted here ...
    await asyncio.sleep(0.6)
    with pytest.raises(Unauthorized):  # ... for at most the cache time
        await orgs.authenticate(authorization=header, cache_seconds=0.5)
    # without the cache every request asks the database
    with pytest.raises(Unauthorized):
        await orgs.authenticate(authorization=header)


async def test_revoking_through_this_process_forgets_the_key_at_once(make_org: Any) -> None:
    org, key = await make_org()
    spare, _spare_key = await orgs.create_api_key(org_id=uuid.UUID(org["id"]), label="spare")
    header = f"Bearer {key}"
    caller = await orgs.authenticate(authorization=header, cache_seconds=60)
    await orgs.revoke_api_key(org_id=caller.org_id, prefix=caller.key_prefix)
    with pytest.raises(Unauthorized):
        await orgs.authenticate(authorization=header, cache_seconds=60)
    assert spare.revoked_at is None


async def test_a_changed_name_is_seen_at_once_by_this_process(make_org: Any) -> None:
    _org, key = await make_org()
    header = f"Bearer {key}"
    caller = await orgs.authenticate(authorization=header, cache_seconds=60)
    await orgs.update_org(org_id=caller.org_id, changes={"name": "新名字"})
    assert (await orgs.authenticate(authorization=header, cache_seconds=60)).name == "新名字"


async def test_entries_written_together_are_each_stored(make_org: Any) -> None:
    org, _key = await make_org()
    org_id = uuid.UUID(org["id"])
    entries = [
        dict(
            org_id=org_id,
            actor="api-key:x",
            action="a",
            route="POST /x",
            subject=str(n),
            status=201,
        )
        for n in range(40)
    ]
    # one entry naming no organization fails alone; the others are stored
    entries.append({**entries[0], "org_id": uuid.uuid4(), "subject": "orphan"})
    results = await asyncio.gather(*(audit.record(**e) for e in entries), return_exceptions=True)
    assert [type(r).__name__ for r in results[:-1]] == ["NoneType"] * 40
    assert isinstance(results[-1], Exception)
    stored = await AuditEntry.select(AuditEntry.subject)
    assert sorted(int(r["subject"]) for r in stored) == list(range(40))


async def test_an_event_made_over_the_api_has_one_entry_written_with_it(
    client: Any, make_org: Any
) -> None:
    """POST /events writes its audit entry in the statement that inserts the event (the hook
    that writes the others then leaves it): one entry, the one the hook would have written."""
    from tests.helpers import auth, event_body

    _org, key = await make_org()
    made = await client.post("/events", json=event_body(), headers=auth(key))
    assert made.status_code == 201, made.text
    event_id = made.json()["id"]
    rows = await AuditEntry.select().where(AuditEntry.subject == event_id)
    assert len(rows) == 1, rows
    entry = rows[0]
    assert entry["actor"] == f"api-key:{key.split('_')[1]}"
    assert (entry["action"], entry["status"]) == ("create_event", 201)
    assert entry["route"].startswith("POST /")
    # a refused creation leaves none
    before = await AuditEntry.count().where(AuditEntry.action == "create_event")
    bad = await client.post("/events", json=event_body(title=""), headers=auth(key))
    assert bad.status_code == 422
    assert await AuditEntry.count().where(AuditEntry.action == "create_event") == before


@pytest.mark.parametrize(
    "address",
    ["Zhang.San@Example.ORG", "a+b@例子.中国", "x@ëxample.org", "o'brien@sub.example.co.uk"],
)
def test_the_plain_address_shortcut_gives_the_full_parse(address: str) -> None:
    from email_validator import validate_email

    full = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    assert normalize_email(address) == f"{full.local_part}@{full.ascii_domain}"
    assert normalize_email(address) == normalize_email(address)  # cached domain, same answer
