"""Reminders' check-in QR codes, rendered ahead of the due time and read back in one query
per batch: ten thousand reminders due at one instant would otherwise spend milliseconds each
on their images right then. A code not found (or made under another SECRET_KEY or
PUBLIC_BASE_URL) is rendered when the reminder is, as before."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from events_svc.mail.qr import qr_png
from events_svc.reminders.tables import CheckinCode
from events_svc.rsvp.checkin_link import checkin_url
from events_svc.settings import Settings

#: reminders falling due within this many seconds get their codes rendered now
AHEAD = 3600.0
#: ... but not those due sooner than this: rendered by their sends, not twice
SOON = 5.0
#: one preparing run renders for at most this long (the next run goes on), yielding to the
#: worker's sends between codes
RUN_SECONDS = 8.0


def url_digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


async def prepare(*, settings: Settings, now: datetime, limit: int = 5000) -> int:
    """Render and store the codes of invitations whose reminders fall due within AHEAD
    seconds and have none yet, soonest first; returns how many were stored."""
    rows = await CheckinCode.raw(
        "SELECT i.id, min(n.next_attempt_at) AS due FROM notification n"
        " JOIN invitation i ON i.event = n.event AND i.person = n.person"
        # not for reminders due now: their sends render what is missing, and rendering it
        # here too would take the processor from them
        " WHERE n.status = 'queued' AND n.kind = 'reminder'"
        " AND n.next_attempt_at > {} AND n.next_attempt_at <= {}"
        " AND i.removed_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM checkin_code c WHERE c.invitation = i.id)"
        " GROUP BY i.id ORDER BY due LIMIT {}",
        now + timedelta(seconds=SOON),
        now + timedelta(seconds=AHEAD),
        limit,
    )
    stop = time.monotonic() + RUN_SECONDS
    stored = 0
    ids: list[uuid.UUID] = []
    digests: list[str] = []
    images: list[bytes] = []
    for row in rows:
        url = checkin_url(settings.public_base_url, settings.secret_key, row["id"])
        ids.append(row["id"])
        digests.append(url_digest(url))
        images.append(qr_png(url))
        await asyncio.sleep(0)  # a code takes milliseconds: the sends in flight go on between
        if len(ids) >= 500 or time.monotonic() > stop:
            await _store(ids, digests, images)
            stored += len(ids)
            ids, digests, images = [], [], []
            if time.monotonic() > stop:
                break
    await _store(ids, digests, images)
    return stored + len(ids)


async def _store(ids: list[uuid.UUID], digests: list[str], images: list[bytes]) -> None:
    if not ids:
        return
    # an invitation removed meanwhile is left out (its reminders will not go)
    await CheckinCode.raw(
        "INSERT INTO checkin_code (id, invitation, digest, png)"
        " SELECT gen_random_uuid(), c.invitation, c.digest, c.png"
        " FROM unnest({}::uuid[], {}::text[], {}::bytea[]) AS c(invitation, digest, png)"
        " WHERE EXISTS (SELECT 1 FROM invitation i WHERE i.id = c.invitation)"
        " ON CONFLICT (invitation) DO UPDATE SET digest = EXCLUDED.digest, png = EXCLUDED.png",
        ids,
        digests,
        images,
    )


async def load(rows: Sequence[dict[str, Any]]) -> None:
    """Put each reminder row's stored code (digest, PNG) in `checkin_code`, in one query."""
    wanted = [
        r
        for r in rows
        if r["kind"] == "reminder" and r["invitation_id"] is not None and "checkin_code" not in r
    ]
    if not wanted:
        return
    found = await CheckinCode.raw(
        "SELECT invitation, digest, png FROM checkin_code WHERE invitation = ANY({}::uuid[])",
        [r["invitation_id"] for r in wanted],
    )
    codes = {c["invitation"]: (c["digest"], bytes(c["png"])) for c in found}
    for r in wanted:
        r["checkin_code"] = codes.get(r["invitation_id"])
