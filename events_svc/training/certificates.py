"""Certificates: public by their code, revocable by the host."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from events_svc.errors import NotFound
from events_svc.training.course import _CODE_RE
from events_svc.training.records import CertificateRecord
from events_svc.training.tables import Certificate

# --- certificates ----------------------------------------------------------------------------


def _code(value: str) -> str:
    """A code from the path; anything that cannot be one is unknown, like a wrong code."""
    if not _CODE_RE.match(value):
        raise NotFound("no certificate with this code")
    return value


_CERTIFICATE_SQL = (
    "SELECT c.*, p.locale, p.email FROM certificate c JOIN person p ON p.id = c.person"
    " WHERE c.code = {}"
)


def _certificate_out(row: dict[str, Any]) -> CertificateRecord:
    return CertificateRecord(
        code=row["code"],
        status="revoked" if row["revoked_at"] is not None else "valid",
        name=row["person_name"],
        course=row["title"],
        hours=float(row["hours"]),
        sessions_attended=row["sessions_attended"],
        sessions_total=row["sessions_total"],
        first_session=row["first_session"].date().isoformat(),
        last_session=row["last_session"].date().isoformat(),
        timezone=row["timezone"],
        issued_by=list(row["issuers"]),
        # English names where the issuers have one (older certificates: the names above)
        issued_by_en=list(row["issuers_en"] or row["issuers"]),
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
        locale=row["locale"],
    )


async def certificate(*, code: str) -> CertificateRecord:
    """A certificate by its public code (valid or revoked); 404 for a code never issued."""
    rows = await Certificate.raw(_CERTIFICATE_SQL, _code(code))
    if not rows:
        raise NotFound("no certificate with this code")
    return _certificate_out(dict(rows[0]))


async def revoke(*, org_id: uuid.UUID, code: str, now: datetime | None = None) -> CertificateRecord:
    """An issuer (the course's host or a co-host) withdraws a certificate; revoking twice
    keeps the first time. Anybody else's certificate is a 404 here."""
    now = now or datetime.now(UTC)
    rows = await Certificate.raw(
        "UPDATE certificate c SET revoked_at = coalesce(c.revoked_at, {}) FROM event e"
        " WHERE c.code = {} AND e.id = c.event AND (e.org = {} OR {} = ANY(e.cohosts))"
        " RETURNING c.code",
        now,
        _code(code),
        org_id,
        org_id,
    )
    if not rows:
        raise NotFound("no certificate with this code")
    return await certificate(code=code)
