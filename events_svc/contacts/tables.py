"""Contacts: a person as one organization knows them (title, tags)."""

from piccolo.columns import UUID, Array, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.orgs.tables import Organization


class Contact(Table, tablename="contact"):
    """Kept apart from `person`: a person row is shared by every organization, so one
    organization's address book must not rename someone for all; invitations make the
    person row when they first reach them."""

    id = UUID(primary_key=True)
    #: whose contact; no index of its own: `one_per_address` (org, email_key) serves lookups
    org = ForeignKey(references=Organization, null=False)
    email = Varchar(length=254)  #: address as last given
    email_key = Varchar(length=254)  #: lower-cased address; one contact per org and address
    name = Varchar(length=200)  #: display name, e.g. 李敏兰
    title = Varchar(length=100, default="")  #: position, e.g. 会长, 秘书长, 督导
    locale = Varchar(length=8, default="zh-CN")  #: zh-CN / en: language of their invitations
    #: short labels chosen by the organization, e.g. ["督导", "理事"]; invitations select by them
    tags = Array(base_column=Varchar(length=50), default=list)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())

    one_per_address = Unique([org, email_key])
