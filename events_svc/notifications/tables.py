"""The outbox: one row per outgoing message, the truth about what was sent."""

from piccolo.columns import JSONB, UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.people.tables import Person


class Notification(Table, tablename="notification"):
    id = UUID(primary_key=True)
    #: unique key of the message, e.g. "update:<event>:<person>:s3"; arq job ids derive from it
    key = Varchar(length=200, unique=True)
    kind = Varchar(length=20)  #: invitation / update / cancellation / reminder / ...
    event = ForeignKey(references=Event, null=False, index=True)
    person = ForeignKey(references=Person, null=False, index=True)
    sequence = Integer(default=0)  #: the event's SEQUENCE when the message was decided
    occurrence = Varchar(length=20, null=True, default=None)  #: local start of one occurrence
    detail = Varchar(length=40, default="")  #: e.g. "uninvited" for a CANCEL to one person
    status = Varchar(length=10, default="queued")  #: queued / sending / sent / failed / skipped
    attempts = Integer(default=0)  #: sending attempts so far
    next_attempt_at = Timestamptz(default=TimestamptzNow())  #: not sent before this instant
    claimed_at = Timestamptz(null=True, default=None)  #: when a worker took it (lease start)
    #: the worker that took it ("host:pid"); its heartbeat says whether it is still alive
    claimed_by = Varchar(length=120, default="")
    last_error = Text(default="")  #: last SMTP reply or connection error
    message_id = Varchar(length=255, default="")  #: Message-ID header of the sent mail
    smtp_response = Text(default="")  #: the server's reply to the accepted message
    sent_sequence = Integer(null=True, default=None)  #: SEQUENCE the sent ICS carried
    sent_at = Timestamptz(null=True, default=None)
    #: what the message showed that later messages compare with (an agenda update: the
    #: agenda as sent)
    payload = JSONB(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
