"""Replies held for the organizer: iTIP REPLYs that did not arrive at the reply address of the
invitation they answer for, so they may be forged."""

from piccolo.columns import UUID, ForeignKey, Integer, Text, Timestamp, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.invitations.tables import Invitation


class HeldReply(Table, tablename="held_reply"):
    id = UUID(primary_key=True)
    event = ForeignKey(references=Event, null=False, index=True)
    invitation = ForeignKey(references=Invitation, null=False, index=True)
    attendee = Text(default="")  #: the ATTENDEE address as the message gave it
    partstat = Varchar(length=16, default="")  #: ACCEPTED / TENTATIVE / DECLINED
    comment = Text(null=True, default=None)  #: None: the REPLY had no COMMENT
    sequence = Integer(null=True, default=None)  #: the REPLY's SEQUENCE, if it had one
    #: the occurrence it answers for (original local start), None for the whole series
    recurrence_id = Timestamp(null=True, default=None)
    recipient = Text(default="")  #: where it arrived (envelope or header recipients)
    sender = Text(default="")  #: the message's From
    reason = Text(default="")  #: why it was held
    status = Varchar(length=10, default="held")  #: held / applied / discarded
    received_at = Timestamptz(default=TimestamptzNow())
    decided_at = Timestamptz(null=True, default=None)  #: when the organizer applied/discarded
