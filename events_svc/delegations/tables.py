"""Delegations: who a visiting organization sends to an exchange visit."""

from piccolo.columns import JSONB, UUID, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.events.tables import Event
from events_svc.orgs.tables import Organization


class Delegation(Table, tablename="delegation"):
    id = UUID(primary_key=True)
    event = ForeignKey(references=Event, null=False, index=True)
    org = ForeignKey(references=Organization, null=False)  #: the visiting organization
    leader = Varchar(length=254)  #: the leader's address (lower case), one of org's contacts
    members = JSONB(default="[]")  #: the other members' addresses (lower case), in order
    updated_at = Timestamptz(default=TimestamptzNow())

    one_delegation_per_org = Unique([event, org])
