"""Webhooks: an organization's endpoints, and one row per delivery to one of them."""

from piccolo.columns import JSONB, UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from events_svc.orgs.tables import Organization


class Webhook(Table, tablename="webhook"):
    id = UUID(primary_key=True)
    org = ForeignKey(references=Organization, null=False, index=True)  #: the endpoint's owner
    url = Varchar(length=2000)  #: http(s) URL the deliveries are POSTed to
    #: HMAC-SHA256 key of the signatures; kept in clear because every delivery is signed with it
    secret = Varchar(length=200, secret=True)
    events = JSONB(default="[]")  #: subscribed kinds, e.g. ["rsvp.changed", "delivery.failed"]
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)  #: a revoked webhook receives nothing


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """The outbox of webhooks: one row per (event, webhook), the truth about what was sent."""

    id = UUID(primary_key=True)  #: also the payload's "id" and the X-Events-Svc-Delivery header
    webhook = ForeignKey(references=Webhook, null=False, index=True)
    kind = Varchar(length=40)  #: rsvp.changed / delivery.failed
    #: the emitter's idempotency key (NULL: none); the same key reaches each webhook once
    key = Varchar(length=200, null=True, default=None)
    payload = JSONB()  #: {"id", "type", "created_at", "data"}: the body, as decided at emit
    #: queued / sending / delivered / failed / skipped; indexed for the sweep (few rows pending)
    status = Varchar(length=10, default="queued", index=True)
    attempts = Integer(default=0)  #: POST attempts so far
    next_attempt_at = Timestamptz(default=TimestamptzNow())  #: not sent before this instant
    claimed_at = Timestamptz(null=True, default=None)  #: when a worker took it (lease start)
    last_status_code = Integer(null=True, default=None)  #: HTTP status of the last answer
    last_error = Text(default="")  #: why the last attempt failed: a fixed reason, never the answer
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)  #: when a 2xx answer came

    one_per_key = Unique([webhook, key])  #: emitting the same key twice delivers once
