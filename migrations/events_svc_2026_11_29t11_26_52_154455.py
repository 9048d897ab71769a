"""The schema, in one place: every table of the service, grouped by the package that owns it.

Folded from the first 16 migrations (nothing had been released); it keeps the first one's ID, so a
database that applied those treats this one as applied. Later migrations come after it. The
column comments are the `#:` comments of the tables; `tests/integration/test_platform.py` checks
that this file and the tables agree.
"""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import (
    JSONB,
    UUID,
    Array,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamp,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-11-29T11:26:52:154455"
VERSION = "1.38.0"
DESCRIPTION = (
    "the schema: organizations, events, people, invitations, the outbox, webhooks, trainings"
)


# Foreign keys need the table they point at; these stand for them (only the primary key matters).
class Organization(Table, tablename="organization", schema=None):
    id = UUID(primary_key=True)


class Partnership(Table, tablename="partnership", schema=None):
    id = UUID(primary_key=True)


class Event(Table, tablename="event", schema=None):
    id = UUID(primary_key=True)


class Person(Table, tablename="person", schema=None):
    id = UUID(primary_key=True)


class Invitation(Table, tablename="invitation", schema=None):
    id = UUID(primary_key=True)


class Webhook(Table, tablename="webhook", schema=None):
    id = UUID(primary_key=True)


class InitialMigration(MigrationManager):
    """Piccolo runs a migration's raw SQL before its tables; here the raw SQL is indexes on those
    tables, so it runs after them, in the same transaction."""

    async def run(self, backwards: bool = False) -> None:
        if backwards or self.preview:
            await super().run(backwards=backwards)
            return
        raw, self.raw = self.raw, []
        try:
            async with engine_finder().transaction():
                await super().run()
                for function in raw:
                    await function()
        finally:
            self.raw = raw


async def forwards() -> MigrationManager:
    manager = InitialMigration(migration_id=ID, app_name="events_svc", description=DESCRIPTION)

    def table(class_name: str, tablename: str, **columns: Any) -> None:
        """One table and its columns, in the order its class declares them."""
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column in columns.items():
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class=type(column),
                params=column._meta.params,
                schema=None,
            )

    def unique(class_name: str, tablename: str, name: str, *columns: str) -> None:
        manager.add_constraint(
            table_class_name=class_name,
            tablename=tablename,
            constraint_name=name,
            constraint_class=Unique,
            params={"columns": list(columns), "nulls_distinct": True},
            schema=None,
        )

    # --------------------------------------------------------------------------------------------
    # orgs: Organizations, their API keys, and federations' member units.
    # --------------------------------------------------------------------------------------------

    table(
        "Organization",
        "organization",
        # stable, non-enumerable identifier
        id=UUID(primary_key=True),
        # URL name, e.g. "bjswa"
        slug=Varchar(length=63, unique=True, index=True),
        # display name (usually Chinese)
        name=Varchar(length=200),
        # English name, when known
        name_en=Varchar(length=200, default=None, null=True),
        # contact address; Reply-To of the organization's mail
        email=Varchar(length=254),
        # reminder rules for events that give none, e.g. [{"before": "P1D"}]; NULL = no reminders
        default_reminders=JSONB(default=None, null=True),
        # federation / provincial_association / city_association / county_association /
        # service_agency; NULL = not said (organizations made before kinds existed)
        kind=Varchar(length=32, default=None, null=True),
        # e.g. 广东省, 北京市, 深圳市
        region=Varchar(length=100, default=None, null=True),
        created_at=Timestamptz(),
    )

    table(
        "ApiKey",
        "api_key",
        id=UUID(primary_key=True),
        # the key's owner
        org=ForeignKey(references=Organization, null=False, index=True),
        # public part of the key, used to look it up
        prefix=Varchar(length=16, unique=True),
        # SHA-256 hex of the whole key; the key itself is never stored
        key_hash=Varchar(length=64),
        # what the key is for
        label=Varchar(length=100),
        created_at=Timestamptz(),
        # updated at most once a minute
        last_used_at=Timestamptz(default=None, null=True),
        # a revoked key authenticates nothing
        revoked_at=Timestamptz(default=None, null=True),
    )

    # org_membership: A federation's member unit: listed by the federation (pending), accepted by
    # the member with its own key (active). Ending it deletes the row.
    table(
        "OrgMembership",
        "org_membership",
        id=UUID(primary_key=True),
        # no index of its own: `one_per_pair` (federation, member) serves its lookups
        federation=ForeignKey(references=Organization, null=False),
        member=ForeignKey(references=Organization, null=False, index=True),
        # pending / active
        status=Varchar(length=16, default="pending"),
        invited_at=Timestamptz(),
        accepted_at=Timestamptz(default=None, null=True),
    )
    unique("OrgMembership", "org_membership", "one_per_pair", "federation", "member")

    # --------------------------------------------------------------------------------------------
    # partnerships: Co-operation agreements between organizations, e.g. 京粤社工战略合作协议.
    # --------------------------------------------------------------------------------------------

    table(
        "Partnership",
        "partnership",
        id=UUID(primary_key=True),
        # who proposed it
        proposer=ForeignKey(references=Organization, null=False, index=True),
        title=Varchar(length=300),
        signed_on=Date(default=None, null=True),
        # the areas of co-operation (text), in the agreement's order
        areas=JSONB(default="[]"),
        starts_on=Date(default=None, null=True),
        ends_on=Date(default=None, null=True),
        # proposed (until every party accepted) / active / ended
        status=Varchar(length=16, default="proposed"),
        created_at=Timestamptz(),
        ended_at=Timestamptz(default=None, null=True),
        ended_by=ForeignKey(references=Organization),
    )

    # partnership_party: An organization named in an agreement (the proposer too), and when it
    # accepted.
    table(
        "PartnershipParty",
        "partnership_party",
        id=UUID(primary_key=True),
        partnership=ForeignKey(references=Partnership, null=False, index=True),
        org=ForeignKey(references=Organization, null=False, index=True),
        accepted_at=Timestamptz(default=None, null=True),
    )
    unique("PartnershipParty", "partnership_party", "one_per_org", "partnership", "org")

    # --------------------------------------------------------------------------------------------
    # events: Events: local wall-clock times plus an IANA zone, and derived UTC instants for
    # queries.
    # --------------------------------------------------------------------------------------------

    table(
        "Event",
        "event",
        id=UUID(primary_key=True),
        # host organization
        org=ForeignKey(references=Organization, null=False, index=True),
        # iCalendar UID; never changes
        uid=Varchar(unique=True),
        # iCalendar SEQUENCE; rises on identity changes (RFC 5546)
        sequence=Integer(),
        # exchange_visit / forum / training / meeting / ceremony
        kind=Varchar(length=32),
        title=Varchar(length=300),
        description=Text(),
        location=Varchar(length=500),
        online_url=Varchar(length=2000),
        # local wall-clock start in `timezone`
        starts_at=Timestamp(default=None),
        # local wall-clock end in `timezone`
        ends_at=Timestamp(default=None),
        # IANA zone name, e.g. Asia/Shanghai
        timezone=Varchar(length=64),
        starts_at_utc=Timestamptz(default=None, index=True),
        ends_at_utc=Timestamptz(default=None),
        # end of the last occurrence (UTC); NULL for a series without end
        series_ends_at_utc=Timestamptz(default=None, null=True),
        # RRULE value, e.g. FREQ=WEEKLY;COUNT=6
        recurrence=Varchar(length=500, default=None, null=True),
        # scheduled / cancelled
        status=Varchar(length=16, default="scheduled"),
        # public / private
        visibility=Varchar(length=16, default="public"),
        # maximum accepted participants; NULL = no limit
        capacity=Integer(default=None, null=True),
        # trainings: share of the course's sessions (0 < t <= 1) that completes it
        completion_threshold=DoublePrecision(default=0.8),
        # reminder rules [{"before": "PT1H"} | {"at": "2027-06-10T08:00:00"}]; NULL = org default
        reminders=JSONB(default=None, null=True),
        # the co-operation agreement the event belongs to, and its area of co-operation
        partnership=ForeignKey(references=Partnership, index=True),
        area=Varchar(length=200, default=None, null=True),
        # organizations (ids) of the partnership hosting it with `org`: they read, change, invite
        cohosts=Array(base_column=UUID()),
        # exchange visits: the organization whose premises it is at (NULL: `org` itself) and the
        # visiting organizations (ids), each of which names its delegation
        venue_org=ForeignKey(references=Organization),
        visiting=Array(base_column=UUID()),
        # time blocks within the event: [{"title", "starts_at", "ends_at", "place"}] (local)
        itinerary=JSONB(default=None, null=True),
        # the programme: [{"id", "title", "starts_at", "ends_at", "room", "description", "speakers":
        # [{"email", "name", "role"}]}] (local times; ids keep each session's UID)
        agenda=JSONB(default=None, null=True),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
    )

    # occurrence: One occurrence of a series that differs from its rule: moved, or cancelled.
    table(
        "Occurrence",
        "occurrence",
        id=UUID(primary_key=True),
        event=ForeignKey(references=Event, null=False, index=True),
        # the occurrence's original local start (its RECURRENCE-ID), as the rule produces it
        recurrence_id=Timestamp(default=None),
        # local start now (the original one when cancelled)
        starts_at=Timestamp(default=None),
        # local end now
        ends_at=Timestamp(default=None),
        starts_at_utc=Timestamptz(default=None),
        ends_at_utc=Timestamptz(default=None),
        # scheduled / cancelled
        status=Varchar(length=16, default="scheduled"),
        # this occurrence's SEQUENCE; above the series' own when the occurrence was changed
        sequence=Integer(),
        updated_at=Timestamptz(),
    )
    unique("Occurrence", "occurrence", "one_per_start", "event", "recurrence_id")

    # --------------------------------------------------------------------------------------------
    # delegations: Delegations: who a visiting organization sends to an exchange visit.
    # --------------------------------------------------------------------------------------------

    table(
        "Delegation",
        "delegation",
        id=UUID(primary_key=True),
        event=ForeignKey(references=Event, null=False, index=True),
        # the visiting organization
        org=ForeignKey(references=Organization, null=False),
        # the leader's address (lower case), one of org's contacts
        leader=Varchar(length=254),
        # the other members' addresses (lower case), in order
        members=JSONB(default="[]"),
        updated_at=Timestamptz(),
    )
    unique("Delegation", "delegation", "one_delegation_per_org", "event", "org")

    # --------------------------------------------------------------------------------------------
    # people: People: everyone who receives mail from the service, one row per e-mail address.
    # --------------------------------------------------------------------------------------------

    table(
        "Person",
        "person",
        id=UUID(primary_key=True),
        # address as first given; unique case-insensitively through `email_key`
        email=Varchar(length=254),
        # lower-cased address, for lookups
        email_key=Varchar(length=254, unique=True),
        # display name (CN in ATTENDEE lines)
        name=Varchar(length=200),
        # zh-CN / en
        locale=Varchar(length=8, default="zh-CN"),
        # secret of the personal feed URL (/feeds/people/<token>.ics), 256 random bits; rotating it
        # makes the old URL a 404
        feed_token=Varchar(length=64, default=None, null=True, unique=True),
        created_at=Timestamptz(),
    )

    # --------------------------------------------------------------------------------------------
    # contacts: Contacts: a person as one organization knows them (title, tags).
    # --------------------------------------------------------------------------------------------

    # contact: Kept apart from `person`: a person row is shared by every organization, so one
    # organization's address book must not rename someone for all; invitations make the person row
    # when they first reach them.
    table(
        "Contact",
        "contact",
        id=UUID(primary_key=True),
        # whose contact; no index of its own: `one_per_address` (org, email_key) serves lookups
        org=ForeignKey(references=Organization, null=False),
        # address as last given
        email=Varchar(length=254),
        # lower-cased address; one contact per org and address
        email_key=Varchar(length=254),
        # display name, e.g. 李敏兰
        name=Varchar(length=200),
        # position, e.g. 会长, 秘书长, 督导
        title=Varchar(length=100),
        # zh-CN / en: language of their invitations
        locale=Varchar(length=8, default="zh-CN"),
        # short labels chosen by the organization, e.g. ["督导", "理事"]; invitations select by them
        tags=Array(base_column=Varchar(length=50)),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
    )
    unique("Contact", "contact", "one_per_address", "org", "email_key")

    # --------------------------------------------------------------------------------------------
    # invitations: Invitations: a person invited to an event, with role and answer.
    # --------------------------------------------------------------------------------------------

    table(
        "Invitation",
        "invitation",
        id=UUID(primary_key=True),
        event=ForeignKey(references=Event, null=False, index=True),
        person=ForeignKey(references=Person, null=False, index=True),
        # chair / required / optional / non-participant (RFC 5545 ROLE values)
        role=Varchar(length=20, default="required"),
        # needs-action / accepted / tentative / declined (RFC 5545 PARTSTAT values)
        rsvp=Varchar(length=16, default="needs-action"),
        # the organizer's note sent with the invitation
        message=Text(),
        # rises on each (re-)invitation, so a person invited, removed and invited again gets
        # new keys
        generation=Integer(default=1),
        # set when un-invited
        removed_at=Timestamptz(default=None, null=True),
        # what the person wrote with their answer
        comment=Text(),
        # when `rsvp` was last set by them
        responded_at=Timestamptz(default=None, null=True),
        # how the answer came: link (the RSVP page) / email (a calendar client's iTIP REPLY)
        response_source=Varchar(length=10),
        # set while the person accepted but the event was full; the waitlist is in this order
        waitlisted_at=Timestamptz(default=None, null=True),
        # the highest SEQUENCE of the series an iTIP REPLY answered; older replies are ignored (an
        # occurrence's answers keep theirs in occurrence_answer)
        reply_sequence=Integer(default=None, null=True),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
    )
    # inviting twice is idempotent
    unique("Invitation", "invitation", "one_per_person", "event", "person")

    # occurrence_answer: An answer for one occurrence of a series (a REPLY with RECURRENCE-ID).
    table(
        "OccurrenceAnswer",
        "occurrence_answer",
        id=UUID(primary_key=True),
        invitation=ForeignKey(references=Invitation, null=False, index=True),
        # the occurrence's original local start
        recurrence_id=Timestamp(default=None),
        # accepted / tentative / declined
        rsvp=Varchar(length=16, default="needs-action"),
        comment=Text(),
        # the SEQUENCE of the occurrence this answered; older replies for it are ignored
        sequence=Integer(default=None, null=True),
        updated_at=Timestamptz(),
    )
    unique(
        "OccurrenceAnswer", "occurrence_answer", "one_per_occurrence", "invitation", "recurrence_id"
    )

    # --------------------------------------------------------------------------------------------
    # notifications: The outbox: one row per outgoing message, the truth about what was sent.
    # --------------------------------------------------------------------------------------------

    table(
        "Notification",
        "notification",
        id=UUID(primary_key=True),
        # unique key of the message, e.g. "update:<event>:<person>:s3"; arq job ids derive from it
        key=Varchar(length=200, unique=True),
        # invitation / update / cancellation / reminder / ...
        kind=Varchar(length=20),
        event=ForeignKey(references=Event, null=False, index=True),
        person=ForeignKey(references=Person, null=False, index=True),
        # the event's SEQUENCE when the message was decided
        sequence=Integer(),
        # local start of one occurrence
        occurrence=Varchar(length=20, default=None, null=True),
        # e.g. "uninvited" for a CANCEL to one person
        detail=Varchar(length=40),
        # queued / sending / sent / failed / skipped
        status=Varchar(length=10, default="queued"),
        # sending attempts so far
        attempts=Integer(),
        # not sent before this instant
        next_attempt_at=Timestamptz(),
        # when a worker took it (lease start)
        claimed_at=Timestamptz(default=None, null=True),
        # the worker that took it ("host:pid"); its heartbeat says whether it is still alive
        claimed_by=Varchar(length=120),
        # last SMTP reply or connection error
        last_error=Text(),
        # Message-ID header of the sent mail
        message_id=Varchar(),
        # the server's reply to the accepted message
        smtp_response=Text(),
        # SEQUENCE the sent ICS carried
        sent_sequence=Integer(default=None, null=True),
        sent_at=Timestamptz(default=None, null=True),
        # what the message showed that later messages compare with (an agenda update: the agenda as
        # sent)
        payload=JSONB(default=None, null=True),
        created_at=Timestamptz(),
    )

    # --------------------------------------------------------------------------------------------
    # webhooks: Webhooks: an organization's endpoints, and one row per delivery to one of them.
    # --------------------------------------------------------------------------------------------

    table(
        "Webhook",
        "webhook",
        id=UUID(primary_key=True),
        # the endpoint's owner
        org=ForeignKey(references=Organization, null=False, index=True),
        # http(s) URL the deliveries are POSTed to
        url=Varchar(length=2000),
        # HMAC-SHA256 key of the signatures; kept in clear because every delivery is signed with it
        secret=Varchar(length=200, secret=True),
        # subscribed kinds, e.g. ["rsvp.changed", "delivery.failed"]
        events=JSONB(default="[]"),
        created_at=Timestamptz(),
        # a revoked webhook receives nothing
        revoked_at=Timestamptz(default=None, null=True),
    )

    # webhook_delivery: The outbox of webhooks: one row per (event, webhook), the truth about what
    # was sent.
    table(
        "WebhookDelivery",
        "webhook_delivery",
        # also the payload's "id" and the X-Events-Svc-Delivery header
        id=UUID(primary_key=True),
        webhook=ForeignKey(references=Webhook, null=False, index=True),
        # rsvp.changed / delivery.failed
        kind=Varchar(length=40),
        # the emitter's idempotency key (NULL: none); the same key reaches each webhook once
        key=Varchar(length=200, default=None, null=True),
        # {"id", "type", "created_at", "data"}: the body, as decided at emit
        payload=JSONB(),
        # queued / sending / delivered / failed / skipped; indexed for the sweep (few rows pending)
        status=Varchar(length=10, default="queued", index=True),
        # POST attempts so far
        attempts=Integer(),
        # not sent before this instant
        next_attempt_at=Timestamptz(),
        # when a worker took it (lease start)
        claimed_at=Timestamptz(default=None, null=True),
        # HTTP status of the last answer
        last_status_code=Integer(default=None, null=True),
        # why the last attempt failed: a fixed reason, never the answer
        last_error=Text(),
        created_at=Timestamptz(),
        # when a 2xx answer came
        delivered_at=Timestamptz(default=None, null=True),
    )
    # emitting the same key twice delivers once
    unique("WebhookDelivery", "webhook_delivery", "one_per_key", "webhook", "key")

    # --------------------------------------------------------------------------------------------
    # training: Trainings: check-ins per session, and the certificates that completing a course
    # earns.
    # --------------------------------------------------------------------------------------------

    # attendance: One person checked in at one session of a training.
    table(
        "Attendance",
        "attendance",
        id=UUID(primary_key=True),
        event=ForeignKey(references=Event, null=False, index=True),
        person=ForeignKey(references=Person, null=False, index=True),
        # the session's original local start (a series' RECURRENCE-ID; the event's own start)
        occurrence=Timestamp(default=None),
        checked_in_at=Timestamptz(),
        # the organization (host or co-host) whose key checked the person in
        checked_in_org=ForeignKey(references=Organization, null=False),
        # that API key's public prefix
        checked_in_by=Varchar(length=64),
    )
    unique(
        "Attendance", "attendance", "one_checkin_per_occurrence", "event", "person", "occurrence"
    )

    # certificate: Proof that a person completed a training; public at /certificates/<code>. What
    # it states is a snapshot taken when it was issued: later edits of the course, the person or
    # the organizations do not change a certificate already handed out.
    table(
        "Certificate",
        "certificate",
        id=UUID(primary_key=True),
        # 128 random bits, URL-safe base64: unguessable, so the link is the proof
        code=Varchar(length=64, unique=True),
        event=ForeignKey(references=Event, null=False, index=True),
        person=ForeignKey(references=Person, null=False, index=True),
        # the name as it was when issued
        person_name=Varchar(length=200),
        # the course's title when issued
        title=Varchar(length=300),
        # host, then co-hosts
        issuers=Array(base_column=Varchar(length=300)),
        # attended sessions' hours, one decimal
        hours=DoublePrecision(),
        sessions_attended=Integer(),
        # the sessions completion was measured against
        sessions_total=Integer(),
        # local start of the first attended session
        first_session=Timestamp(default=None),
        # local start of the last attended session
        last_session=Timestamp(default=None),
        # the zone of those local times
        timezone=Varchar(length=64),
        issued_at=Timestamptz(),
        # set by an issuer; the code says so
        revoked_at=Timestamptz(default=None, null=True),
    )
    unique("Certificate", "certificate", "one_certificate_per_course", "event", "person")

    # --------------------------------------------------------------------------------------------
    # inbound: Replies held for the organizer: iTIP REPLYs that did not arrive at the reply
    # address of the invitation they answer for, so they may be forged.
    # --------------------------------------------------------------------------------------------

    table(
        "HeldReply",
        "held_reply",
        id=UUID(primary_key=True),
        event=ForeignKey(references=Event, null=False, index=True),
        invitation=ForeignKey(references=Invitation, null=False, index=True),
        # the ATTENDEE address as the message gave it
        attendee=Text(),
        # ACCEPTED / TENTATIVE / DECLINED
        partstat=Varchar(length=16),
        # None: the REPLY had no COMMENT
        comment=Text(default=None, null=True),
        # the REPLY's SEQUENCE, if it had one
        sequence=Integer(default=None, null=True),
        # the occurrence it answers for (original local start), None for the whole series
        recurrence_id=Timestamp(default=None, null=True),
        # where it arrived (envelope or header recipients)
        recipient=Text(),
        # the message's From
        sender=Text(),
        # why it was held
        reason=Text(),
        # held / applied / discarded
        status=Varchar(length=10, default="held"),
        received_at=Timestamptz(),
        # when the organizer applied/discarded
        decided_at=Timestamptz(default=None, null=True),
    )

    # --------------------------------------------------------------------------------------------
    # Indexes Piccolo's column options cannot declare (raw SQL; run after the tables above)
    # --------------------------------------------------------------------------------------------

    async def outbox_indexes() -> None:
        engine = engine_finder()
        # A partial index for the sweep, and the per-(event, person) lookups the sender makes
        # for every message; Piccolo's column options cannot express either.
        await engine.run_ddl(
            "CREATE INDEX notification_due ON notification (next_attempt_at)"
            " WHERE status IN ('queued', 'sending')"
        )
        await engine.run_ddl(
            "CREATE INDEX notification_event_person ON notification (event, person)"
        )
        # The hourly cap counts an organization's messages per hour of next_attempt_at, sent or
        # not (notification_due only holds unsent rows); reminders are not counted, and leaving
        # them out keeps the index small (they are planned 400 days ahead).
        await engine.run_ddl(
            "CREATE INDEX notification_scheduled ON notification (next_attempt_at)"
            " WHERE kind <> 'reminder'"
        )

    async def drop_outbox_indexes() -> None:
        engine = engine_finder()
        for index in ("notification_due", "notification_event_person", "notification_scheduled"):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {index}")

    manager.add_raw(outbox_indexes)
    manager.add_raw_backwards(drop_outbox_indexes)

    return manager
