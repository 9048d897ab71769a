"""Organizations, their API keys and organizers, and federations' member units."""

from piccolo.columns import JSONB, UUID, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table


class Organization(Table, tablename="organization"):
    id = UUID(primary_key=True)  #: stable, non-enumerable identifier
    slug = Varchar(length=63, unique=True, index=True)  #: URL name, e.g. "bjswa"
    name = Varchar(length=200)  #: display name (usually Chinese)
    name_en = Varchar(length=200, null=True, default=None)  #: English name, when known
    email = Varchar(length=254)  #: contact address; Reply-To of the organization's mail
    #: reminder rules for events that give none, e.g. [{"before": "P1D"}]; NULL = no reminders
    default_reminders = JSONB(null=True, default=None)
    #: federation / provincial_association / city_association / county_association /
    #: service_agency; NULL = not said (organizations made before kinds existed)
    kind = Varchar(length=32, null=True, default=None)
    region = Varchar(length=100, null=True, default=None)  #: e.g. 广东省, 北京市, 深圳市
    created_at = Timestamptz(default=TimestamptzNow())


class ApiKey(Table, tablename="api_key"):
    id = UUID(primary_key=True)
    org = ForeignKey(references=Organization, null=False, index=True)  #: the key's owner
    prefix = Varchar(length=16, unique=True)  #: public part of the key, used to look it up
    key_hash = Varchar(length=64)  #: SHA-256 hex of the whole key; the key itself is never stored
    label = Varchar(length=100, default="")  #: what the key is for
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)  #: updated at most once a minute
    revoked_at = Timestamptz(null=True, default=None)  #: a revoked key authenticates nothing


class OrgMembership(Table, tablename="org_membership"):
    """A federation's member unit: listed by the federation (pending), accepted by the member
    with its own key (active). Ending it deletes the row."""

    id = UUID(primary_key=True)
    #: no index of its own: `one_per_pair` (federation, member) serves its lookups
    federation = ForeignKey(references=Organization, null=False)
    member = ForeignKey(references=Organization, null=False, index=True)
    status = Varchar(length=16, default="pending")  #: pending / active
    invited_at = Timestamptz(default=TimestamptzNow())
    accepted_at = Timestamptz(null=True, default=None)

    one_per_pair = Unique([federation, member])


class Organizer(Table, tablename="organizer"):
    """A person who runs an organization's events in the console."""

    id = UUID(primary_key=True)
    #: no index of its own: `organizer_per_address` (org, email_key) serves its lookups
    org = ForeignKey(references=Organization, null=False)
    email = Varchar(length=254)  #: as normalized by `validation.normalize_email`
    email_key = Varchar(length=254, index=True)  #: lower-cased address, for sign-in lookups
    name = Varchar(length=200, default="")
    locale = Varchar(length=8, default="zh-CN")  #: zh-CN / en: the console's language
    role = Varchar(length=8, default="editor")  #: admin / editor
    created_at = Timestamptz(default=TimestamptzNow())

    organizer_per_address = Unique([org, email_key])
