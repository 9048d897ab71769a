"""People: everyone who receives mail from the service, one row per e-mail address."""

from piccolo.columns import UUID, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Person(Table, tablename="person"):
    id = UUID(primary_key=True)
    #: address as first given; unique case-insensitively through `email_key`
    email = Varchar(length=254)
    email_key = Varchar(length=254, unique=True)  #: lower-cased address, for lookups
    name = Varchar(length=200, default="")  #: display name (CN in ATTENDEE lines)
    locale = Varchar(length=8, default="zh-CN")  #: zh-CN / en
    #: secret of the personal feed URL (/feeds/people/<token>.ics), 256 random bits; rotating
    #: it makes the old URL a 404
    feed_token = Varchar(length=64, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
