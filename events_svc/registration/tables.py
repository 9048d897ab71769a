"""A person's registration to a public event, and the confirmation e-mail it sends."""

from piccolo.columns import JSONB, UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.people.tables import Person


class Registration(Table, tablename="registration"):
    """One per (event, person). The row never holds its confirmation link: the link is an
    HMAC of the row's id under SECRET_KEY, made when the e-mail is rendered, so the table
    alone confirms nobody. The e-mail's delivery state lives here too (its own outbox)."""

    id = UUID(primary_key=True)
    event = ForeignKey(references=Event, null=False, index=True)
    person = ForeignKey(references=Person, null=False, index=True)
    name = Varchar(length=200, default="")  #: as typed on the form
    locale = Varchar(length=10, default="zh-CN")  #: zh-CN / en: the e-mails' language
    answers = JSONB(default="{}")  #: question id -> text, or a list for several choices
    status = Varchar(length=10, default="pending")  #: pending / confirmed / expired
    created_at = Timestamptz(default=TimestamptzNow())
    confirmed_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(default=TimestamptzNow())  #: a pending one expires then
    mail_status = Varchar(length=10, default="queued")  #: queued / sending / sent / failed
    mail_attempts = Integer(default=0)
    mail_next_attempt_at = Timestamptz(default=TimestamptzNow())
    mail_claimed_at = Timestamptz(null=True, default=None)
    mail_last_error = Text(default="")
    mail_sent_at = Timestamptz(null=True, default=None)

    one_registration_per_person = Unique([event, person])  #: registering twice changes nothing
