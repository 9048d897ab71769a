"""The audit record of changes."""

from piccolo.columns import UUID, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from events_svc.orgs.tables import Organization


class AuditEntry(Table, tablename="audit_entry"):
    """Who changed what, and when: an organizer (console) or an API key (by its prefix)."""

    id = UUID(primary_key=True)
    org = ForeignKey(references=Organization, null=False, index=True)  #: the actor's
    actor = Varchar(length=300)  #: "organizer:<e-mail>" or "api-key:<prefix>"
    action = Varchar(length=80)  #: the route handler's name, e.g. create_event, invite
    route = Varchar(length=200)  #: e.g. "POST /events/{event_id:str}/invitations"
    #: what it acted on: the event's id when the path names one, else the path's parameters
    subject = Varchar(length=300, default="", index=True)
    status = Integer(default=200)  #: the answer's HTTP status
    created_at = Timestamptz(default=TimestamptzNow())
