"""A person's registration to a public event, and the confirmation e-mail it sends."""

from piccolo.columns import JSONB, UUID, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.people.tables import Person


class Registration(Table, tablename="registration"):
    """One per (event, person). The row never holds its confirmation link: the link is an
    HMAC of the row's id under SECRET_KEY, made when the e-mail is rendered, so the table
    alone confirms nobody. The e-mail is a side mail (`sidemail`, kind `registration-confirm`)."""

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

    one_registration_per_person = Unique([event, person])  #: registering twice changes nothing
