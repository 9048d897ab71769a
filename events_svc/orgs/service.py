"""Organizations and API keys: creation, authentication, revocation."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from asyncpg.exceptions import UniqueViolationError

from events_svc import database
from events_svc.calendar.timeutil import TimeRuleError, parse_duration
from events_svc.errors import Conflict, FieldError, InvalidInput, NotFound, Unauthorized
from events_svc.orgs.records import (
    ApiKeyRecord,
    OrgRecord,
    OrgRefRecord,
    ProfileRecord,
)
from events_svc.orgs.schemas import OrgKind
from events_svc.orgs.tables import ApiKey, Organization, Organizer, OrgMembership
from events_svc.settings import DEFAULT_VOLUME
from events_svc.validation import validate_email

KEY_PREFIX = "evs"
SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_KEY_RE = re.compile(r"^evs_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
# Compared against when a prefix is unknown, so that a miss costs the same as a wrong key.
_DUMMY_HASH = hashlib.sha256(b"events-svc-dummy").hexdigest()
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: path segments under /orgs that are not organizations: /orgs/me is always the caller
RESERVED_SLUGS = frozenset({"me"})
KINDS: tuple[str, ...] = get_args(OrgKind)
FEDERATION = "federation"


@dataclass(frozen=True, slots=True)
class Caller:
    """The organization an API key speaks for."""

    org_id: uuid.UUID
    slug: str
    name: str
    email: str
    key_prefix: str


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; slow KDFs are for guessable secrets.
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its public prefix."""
    prefix = secrets.token_hex(6)
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def org_to_dict(row: dict[str, Any]) -> OrgRecord:
    defaults = row.get("default_reminders")
    return OrgRecord(
        id=str(row["id"]),
        slug=row["slug"],
        name=row["name"],
        name_en=row["name_en"],
        email=row["email"],
        created_at=row["created_at"],
        default_reminders=json.loads(defaults) if isinstance(defaults, str) else defaults,
        kind=row.get("kind"),
        region=row.get("region"),
    )


def _kind(value: str | None) -> str | None:
    if value is not None and value not in KINDS:
        raise InvalidInput.field("kind", f"must be one of {', '.join(KINDS)}")
    return value


def _region(value: str | None) -> str | None:
    """One line, single spaces; blank means none."""
    if value is None:
        return None
    region = " ".join(value.split())
    if len(region) > 100:
        raise InvalidInput.field("region", "at most 100 characters")
    return region or None


async def update_org(
    *,
    org_id: uuid.UUID,
    changes: dict[str, Any],
    now: datetime | None = None,
    max_reminder_rows: int = DEFAULT_VOLUME.reminder_rows,
) -> OrgRecord:
    """Change the caller's own profile and default reminders; a new default moves the
    reminders of every current event that relies on it (refused whole when one of them
    would get more than `max_reminder_rows` reminder rows)."""
    values: dict[str, Any] = {}
    if "name" in changes:
        if not changes["name"].strip():
            raise InvalidInput.field("name", "must not be blank")
        values["name"] = " ".join(changes["name"].split())
    if "name_en" in changes:
        values["name_en"] = " ".join(changes["name_en"].split()) if changes["name_en"] else None
    if "email" in changes:
        values["email"] = validate_email(changes["email"], field="email")
    if "kind" in changes:
        values["kind"] = _kind(changes["kind"])
    if "region" in changes:
        values["region"] = _region(changes["region"])
    if "default_reminders" in changes:
        rules = changes["default_reminders"]
        errors = []
        for i, rule in enumerate(rules or []):
            try:
                parse_duration(rule["before"], field=f"default_reminders.{i}.before")
            except TimeRuleError as exc:
                errors.append(FieldError(field=exc.field, message=exc.message))
        if errors:
            raise InvalidInput.fields(errors)
        values["default_reminders"] = (
            json.dumps([{"before": r["before"].strip().upper()} for r in rules])
            if rules is not None
            else None
        )
    if values:
        async with Organization._meta.db.transaction():
            if "kind" in values:
                await _check_kind_change(org_id=org_id, kind=values["kind"])
            await Organization.update(values).where(Organization.id == org_id)  # type: ignore[arg-type]
            if "default_reminders" in values:
                from events_svc.reminders.service import plan_org_defaults

                await plan_org_defaults(
                    org_id=org_id, now=now or datetime.now(UTC), max_rows=max_reminder_rows
                )
        forget_keys(org_id=org_id)  # callers carry the name and address
    return await get_org(org_id=org_id)


async def _check_kind_change(*, org_id: uuid.UUID, kind: str | None) -> None:
    """A federation keeps its kind while it has member units (pending or active): members
    reached through it would otherwise hang on an organization that is none. Call inside a
    transaction; the row lock orders this against `add_members`."""
    rows = await Organization.raw(
        "SELECT kind, EXISTS (SELECT 1 FROM org_membership WHERE federation = o.id) AS has_members"
        " FROM organization o WHERE o.id = {} FOR UPDATE",
        org_id,
    )
    if rows and rows[0]["kind"] == FEDERATION and kind != FEDERATION and rows[0]["has_members"]:
        raise Conflict(
            "a federation with member units stays a federation; end its memberships first"
            " (DELETE /orgs/me/members/{slug})",
            errors=[FieldError(field="kind", message="the federation still has member units")],
        )


async def create_org(
    *,
    slug: str,
    name: str,
    email: str,
    name_en: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    label: str = "initial",
) -> tuple[OrgRecord, str]:
    """Create an organization with its first API key, its contact address its first admin;
    returns (org, key)."""
    if not SLUG_RE.fullmatch(slug):
        raise InvalidInput.field("slug", "use 1-63 lower-case letters, digits and inner hyphens")
    if slug in RESERVED_SLUGS:
        raise InvalidInput.field("slug", f"{slug!r} is reserved: /orgs/{slug} names the caller")
    email = validate_email(email, field="email")
    kind = _kind(kind)
    region = _region(region)
    if not name.strip():
        raise InvalidInput.field("name", "must not be blank")
    key, prefix = new_key()
    org_id = uuid.uuid4()
    try:
        async with Organization._meta.db.transaction():
            await Organization.insert(
                Organization(
                    id=org_id,
                    slug=slug,
                    # names end up in mail headers: one line, single spaces
                    name=" ".join(name.split()),
                    name_en=" ".join(name_en.split()) if name_en else name_en,
                    email=email,
                    kind=kind,
                    region=region,
                )
            )
            await ApiKey.insert(
                ApiKey(org=org_id, prefix=prefix, key_hash=hash_key(key), label=label)
            )
            # the contact address is the first admin of the console (`organizers`)
            await Organizer.insert(
                Organizer(org=org_id, email=email, email_key=email.lower(), role="admin")
            )
    except UniqueViolationError as exc:
        raise Conflict(
            f"an organization with slug {slug!r} already exists",
            errors=[FieldError(field="slug", message="already taken")],
        ) from exc
    row = await Organization.select().where(Organization.id == org_id).first()
    assert row is not None
    return org_to_dict(row), key


async def get_org(*, org_id: uuid.UUID) -> OrgRecord:
    row = await Organization.select().where(Organization.id == org_id).first()
    if row is None:
        raise NotFound("organization not found")
    return org_to_dict(row)


@dataclass(slots=True)
class _Verified:
    """A key checked recently in this process: whom it speaks for, until when to trust that."""

    caller: Caller
    key_id: uuid.UUID
    last_used_at: datetime | None
    until: float  #: time.monotonic() after which the key is looked up again
    #: time.monotonic() from which its use is due to be noted again (`_touch`)
    touch_at: float = 0.0


#: a whole valid key (the Bearer token) -> its recent verification; only keys that passed the
#: check are kept (a wrong or revoked key is looked up, and counted by the rate limit, every
#: time). Keyed by the token itself: its hash costs more than the rest of a cached check.
_VERIFIED: dict[str, _Verified] = {}
#: at most this many verified keys are remembered per process (then the memory starts afresh)
VERIFIED_MAX = 10_000


def forget_keys(*, org_id: uuid.UUID | None = None) -> None:
    """Drop this process's remembered verifications (of one organization, or all): called when
    a key is revoked or the organization's profile changes."""
    if org_id is None:
        _VERIFIED.clear()
        return
    for token in [t for t, v in _VERIFIED.items() if v.caller.org_id == org_id]:
        _VERIFIED.pop(token, None)


async def authenticate(
    *, authorization: str | None, now: datetime | None = None, cache_seconds: float = 0.0
) -> Caller:
    """Resolve an `Authorization: Bearer <key>` header to the calling organization.

    With `cache_seconds` > 0 a key that passed is trusted that long in this process without
    asking the database again: a key revoked through another process keeps working here for
    at most that long (revoking through this one forgets it at once)."""
    if not authorization:
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("use the Bearer scheme: Authorization: Bearer <key>")
    if cache_seconds > 0:
        known = _VERIFIED.get(token)
        if known is not None:
            moment = time.monotonic()
            if known.until > moment:
                if now is not None or moment >= known.touch_at:
                    await _touch(known.key_id, known.last_used_at, now, known)
                return known.caller
    digest = hash_key(token)
    match = _KEY_RE.match(token)
    prefix = match.group(1) if match else ""
    row = None
    if prefix:
        # Raw SQL on this per-request path: Piccolo's query builder costs more than the query.
        rows = await database.fetch(
            "SELECT k.id, k.key_hash, k.revoked_at, k.last_used_at, o.id AS org_id, o.slug,"
            " o.name, o.email FROM api_key k JOIN organization o ON o.id = k.org"
            " WHERE k.prefix = $1",
            prefix,
        )
        row = rows[0] if rows else None
    expected = row["key_hash"] if row else _DUMMY_HASH
    valid = hmac.compare_digest(digest, expected)
    if row is None or not valid or row["revoked_at"] is not None:
        raise Unauthorized("the API key is not valid or has been revoked")
    caller = Caller(
        org_id=row["org_id"],
        slug=row["slug"],
        name=row["name"],
        email=row["email"],
        key_prefix=prefix,
    )
    verified = _Verified(caller, row["id"], row["last_used_at"], 0.0)
    await _touch(row["id"], row["last_used_at"], now, verified)
    if cache_seconds > 0:
        if len(_VERIFIED) >= VERIFIED_MAX:
            _VERIFIED.clear()
        verified.until = time.monotonic() + cache_seconds
        _VERIFIED[token] = verified
    return caller


async def _touch(
    key_id: uuid.UUID, last: datetime | None, now: datetime | None, verified: _Verified
) -> None:
    """Note the key's use, at most once per LAST_USED_RESOLUTION (and note in `verified` when
    that is next due, so that a cached key's requests need not read the clock as a date)."""
    now = now or datetime.now(UTC)
    since = None if last is None else now - last
    if since is None or since > LAST_USED_RESOLUTION:
        await ApiKey.update({ApiKey.last_used_at: now}).where(ApiKey.id == key_id)
        verified.last_used_at = now
        since = timedelta(0)
    verified.touch_at = time.monotonic() + max((LAST_USED_RESOLUTION - since).total_seconds(), 0)


def check_admin_token(*, authorization: str | None, admin_token: str | None) -> None:
    if admin_token is None:
        raise Unauthorized("organization creation over HTTP is disabled: ADMIN_TOKEN is not set")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), admin_token.encode()
    ):
        raise Unauthorized("the admin token is missing or wrong")


async def create_api_key(*, org_id: uuid.UUID, label: str) -> tuple[ApiKeyRecord, str]:
    key, prefix = new_key()
    await ApiKey.insert(ApiKey(org=org_id, prefix=prefix, key_hash=hash_key(key), label=label))
    rows = await list_api_keys(org_id=org_id)
    return next(r for r in rows if r.prefix == prefix), key


async def list_api_keys(*, org_id: uuid.UUID) -> list[ApiKeyRecord]:
    rows = (
        await ApiKey.select(
            ApiKey.prefix, ApiKey.label, ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at
        )
        .where(ApiKey.org == org_id)
        .order_by(ApiKey.created_at)
    )
    return [ApiKeyRecord(**r) for r in rows]


async def revoke_api_key(
    *, org_id: uuid.UUID, prefix: str, confirm_last: bool = False, now: datetime | None = None
) -> ApiKeyRecord:
    """Revoke one of the organization's keys; revoking twice keeps the first time. The last
    valid key is revoked only with `confirm_last`: without a key the organization is locked
    out of the API until an operator makes it a new one."""
    now = now or datetime.now(UTC)
    async with ApiKey._meta.db.transaction():
        # the organization's row serializes revocations, so two requests revoking its last
        # two keys at once cannot both see the other key still valid
        await ApiKey.raw("SELECT 1 FROM organization WHERE id = {} FOR UPDATE", org_id)
        row = (
            await ApiKey.select(ApiKey.id, ApiKey.revoked_at)
            .where((ApiKey.org == org_id) & (ApiKey.prefix == prefix))
            .first()
        )
        if row is None:
            raise NotFound(f"no API key with prefix {prefix!r}")
        if row["revoked_at"] is None:
            others = await ApiKey.count().where(
                (ApiKey.org == org_id) & ApiKey.revoked_at.is_null() & (ApiKey.id != row["id"])
            )
            if not others and not confirm_last:
                raise Conflict(
                    f"{prefix!r} is the organization's last valid API key: revoking it locks"
                    " the organization out of the API; create another key first, or repeat"
                    " with ?confirm_last=true"
                )
            await ApiKey.update({ApiKey.revoked_at: now}).where(ApiKey.id == row["id"])
    forget_keys(org_id=org_id)  # this process stops trusting it now, others within their TTL
    rows = await list_api_keys(org_id=org_id)
    return next(r for r in rows if r.prefix == prefix)


async def public_profile(*, slug: str) -> ProfileRecord:
    """What anyone may read about an organization: names, kind, region, federations."""
    rows = await Organization.raw(
        "SELECT o.id, o.slug, o.name, o.name_en, o.kind, o.region,"
        " (SELECT count(*) FROM org_membership m"
        "  WHERE m.federation = o.id AND m.status = 'active') AS members_count"
        " FROM organization o WHERE o.slug = {}",
        slug,
    )
    if not rows:
        raise NotFound(f"no organization {slug!r}")
    row = rows[0]
    member_of = await OrgMembership.raw(
        "SELECT f.slug, f.name FROM org_membership m JOIN organization f ON f.id = m.federation"
        " WHERE m.member = {} AND m.status = 'active' ORDER BY f.slug",
        row["id"],
    )
    return ProfileRecord(
        slug=row["slug"],
        name=row["name"],
        name_en=row["name_en"],
        kind=row["kind"],
        region=row["region"],
        member_of=[OrgRefRecord(slug=r["slug"], name=r["name"]) for r in member_of],
        members_count=row["members_count"] if row["kind"] == FEDERATION else None,
    )
