"""Invitations: a person invited to an event, with role and answer."""

from piccolo.columns import UUID, ForeignKey, Integer, Text, Timestamp, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.people.tables import Person


class Invitation(Table, tablename="invitation"):
    id = UUID(primary_key=True)
    event = ForeignKey(references=Event, null=False, index=True)
    person = ForeignKey(references=Person, null=False, index=True)
    #: chair / required / optional / non-participant (RFC 5545 ROLE values)
    role = Varchar(length=20, default="required")
    #: needs-action / accepted / tentative / declined (RFC 5545 PARTSTAT values)
    rsvp = Varchar(length=16, default="needs-action")
    message = Text(default="")  #: the organizer's note sent with the invitation
    #: rises on each (re-)invitation, so a person invited, removed and invited again gets new keys
    generation = Integer(default=1)
    removed_at = Timestamptz(null=True, default=None)  #: set when un-invited
    comment = Text(default="")  #: what the person wrote with their answer
    responded_at = Timestamptz(null=True, default=None)  #: when `rsvp` was last set by them
    #: how the answer came: link (the RSVP page) / email (a calendar client's iTIP REPLY)
    response_source = Varchar(length=10, default="")
    #: set while the person accepted but the event was full; the waitlist is in this order
    waitlisted_at = Timestamptz(null=True, default=None)
    #: the highest SEQUENCE of the series an iTIP REPLY answered; older replies are ignored
    #: (an occurrence's answers keep theirs in occurrence_answer)
    reply_sequence = Integer(null=True, default=None)
    #: how the person came on the list: invited (by an organizer) / registration (themselves)
    source = Varchar(length=16, default="invited")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    one_per_person = Unique([event, person])  #: inviting twice is idempotent


class OccurrenceAnswer(Table, tablename="occurrence_answer"):
    """An answer for one occurrence of a series (a REPLY with RECURRENCE-ID)."""

    id = UUID(primary_key=True)
    invitation = ForeignKey(references=Invitation, null=False, index=True)
    recurrence_id = Timestamp(default=None)  #: the occurrence's original local start
    rsvp = Varchar(length=16, default="needs-action")  #: accepted / tentative / declined
    comment = Text(default="")
    #: the SEQUENCE of the occurrence this answered; older replies for it are ignored
    sequence = Integer(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())

    one_per_occurrence = Unique([invitation, recurrence_id])
