"""Invitations: a person invited to an event, with role and answer."""

from piccolo.columns import UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
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
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    one_per_person = Unique([event, person])  #: inviting twice is idempotent
