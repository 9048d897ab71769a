"""Co-operation agreements between organizations, e.g. 京粤社工战略合作协议."""

from piccolo.columns import JSONB, UUID, Date, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.orgs.tables import Organization


class Partnership(Table, tablename="partnership"):
    id = UUID(primary_key=True)
    proposer = ForeignKey(references=Organization, null=False, index=True)  #: who proposed it
    title = Varchar(length=300)
    signed_on = Date(null=True, default=None)
    areas = JSONB(default="[]")  #: the areas of co-operation (text), in the agreement's order
    starts_on = Date(null=True, default=None)
    ends_on = Date(null=True, default=None)
    #: proposed (until every party accepted) / active / ended
    status = Varchar(length=16, default="proposed")
    created_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)
    ended_by = ForeignKey(references=Organization, null=True, default=None)


class PartnershipParty(Table, tablename="partnership_party"):
    """An organization named in an agreement (the proposer too), and when it accepted."""

    id = UUID(primary_key=True)
    partnership = ForeignKey(references=Partnership, null=False, index=True)
    org = ForeignKey(references=Organization, null=False, index=True)
    accepted_at = Timestamptz(null=True, default=None)

    one_per_org = Unique([partnership, org])
