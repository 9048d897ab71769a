"""DKIM for replies at the plain reply address (INBOUND_VERIFY_DKIM): which attendees does
the message's signature vouch for."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import dkim

#: dkimpy's TXT lookup: (name, timeout=…) -> the record's bytes or None; tests pass their own
DnsFunc = Callable[..., bytes | None]

_MAX_SIGNATURES = 5  # each costs a DNS lookup and an RSA verification

_quiet = logging.getLogger("events_svc.inbound.dkim")


def vouched_attendees(
    raw: bytes,
    *,
    attendees: Iterable[str],
    senders: Iterable[str],
    dnsfunc: DnsFunc | None = None,
) -> frozenset[str]:
    """The attendees (lower case) that are the message's From and whose domain (or a parent
    of it) signed the message with a DKIM signature that verifies, covers From and the whole
    body (no `l=`: content appended after the signed part could carry another answer).
    Blocking (DNS): run it in a thread."""
    from_ = {s.lower() for s in senders}
    wanted = [a.lower() for a in attendees if a.lower() in from_]
    if not wanted:
        return frozenset()
    domains: set[str] = set()
    try:
        verifier = dkim.DKIM(raw, logger=_quiet, minkey=1024, timeout=5)
        count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
        for idx in range(min(count, _MAX_SIGNATURES)):
            try:
                ok = verifier.verify(idx=idx, dnsfunc=dnsfunc or dkim.dnsplug.get_txt)
            except dkim.DKIMException:
                continue
            fields = verifier.signature_fields
            if ok and b"l" not in fields and b"from" in verifier.include_headers:
                domains.add(fields[b"d"].decode("ascii", "replace").lower().rstrip("."))
    except Exception:  # noqa: BLE001 - a message dkimpy cannot read vouches for nobody
        _quiet.warning("DKIM check failed on an unreadable message", exc_info=True)
        return frozenset()
    return frozenset(
        a
        for a in wanted
        if any((domain := a.rpartition("@")[2]) == d or domain.endswith("." + d) for d in domains)
    )
