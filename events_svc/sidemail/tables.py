"""The side-mail outbox table."""

from piccolo.columns import UUID, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SideMail(Table, tablename="side_mail"):
    """A mail to one person that is not a calendar message: a row first, sent by a worker,
    swept when Redis lost its job (as the notification outbox does for invitations). No row
    holds a link: each kind derives its link with SECRET_KEY when the message is rendered,
    so the table alone signs in or confirms nobody."""

    id = UUID(primary_key=True)
    kind = Varchar(length=30)  #: sign-in / registration-confirm: selects the rendering
    #: the row the mail is about: the organizer (sign-in), the registration (confirmation)
    about = UUID(index=True)
    #: sign-in: names the request kept in Redis (the link is its HMAC under SECRET_KEY)
    nonce = Varchar(length=64, null=True, default=None, unique=True)
    status = Varchar(length=10, default="queued")  #: queued / sending / sent / failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    claimed_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(
        default=TimestamptzNow()
    )  #: unsent by then, it fails: its link is dead
