"""The console's sign-in mail (an outbox of its own) and the audit record of changes."""

from piccolo.columns import UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from events_svc.orgs.tables import Organization, Organizer


class ConsoleMail(Table, tablename="console_mail"):
    """A sign-in e-mail to an organizer: a row first, sent by a worker, swept when Redis lost
    its job (as the notification outbox does for invitations). The row holds a nonce only:
    the link is derived from it with SECRET_KEY when the message is rendered, so the table
    alone cannot sign anyone in."""

    id = UUID(primary_key=True)
    organizer = ForeignKey(references=Organizer, null=False, index=True)
    kind = Varchar(length=20, default="sign-in")  #: sign-in
    nonce = Varchar(length=64, unique=True)  #: names the sign-in request kept in Redis
    status = Varchar(length=10, default="queued")  #: queued / sending / sent / failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    claimed_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class AuditEntry(Table, tablename="audit_entry"):
    """Who changed what, and when: an organizer (console) or an API key (by its prefix)."""

    id = UUID(primary_key=True)
    org = ForeignKey(references=Organization, null=False, index=True)  #: the actor's
    actor = Varchar(length=300)  #: "organizer:<e-mail>" or "api-key:<prefix>"
    action = Varchar(length=80)  #: the route handler's name, e.g. create_event, invite
    route = Varchar(length=200)  #: e.g. "POST /events/{event_id:str}/invitations"
    #: what it acted on: the event's id when the path names one, else the path's parameters
    subject = Varchar(length=300, default="", index=True)
    status = Integer(default=200)  #: the answer's HTTP status
    created_at = Timestamptz(default=TimestamptzNow())
