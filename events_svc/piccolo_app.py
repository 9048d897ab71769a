"""The Piccolo app: every table of the service and the migrations folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

import migrations
from events_svc.contacts.tables import Contact
from events_svc.delegations.tables import Delegation
from events_svc.events.tables import Event, Occurrence
from events_svc.inbound.tables import HeldReply
from events_svc.invitations.tables import Invitation, OccurrenceAnswer
from events_svc.notifications.tables import Notification
from events_svc.organizers.tables import AuditEntry
from events_svc.orgs.tables import ApiKey, Organization, Organizer, OrgMembership
from events_svc.partnerships.tables import Partnership, PartnershipParty
from events_svc.people.tables import Person
from events_svc.registration.tables import Registration
from events_svc.reminders.tables import CheckinCode
from events_svc.sidemail.tables import SideMail
from events_svc.training.tables import Attendance, Certificate
from events_svc.webhooks.tables import Webhook, WebhookDelivery

TABLES = [
    Organization,
    ApiKey,
    OrgMembership,
    Partnership,
    PartnershipParty,
    Event,
    Occurrence,
    Delegation,
    Person,
    Contact,
    Invitation,
    OccurrenceAnswer,
    Notification,
    Webhook,
    WebhookDelivery,
    Attendance,
    Certificate,
    HeldReply,
    Organizer,
    AuditEntry,
    Registration,
    SideMail,
    CheckinCode,
]

APP_CONFIG = AppConfig(
    app_name="events_svc",
    migrations_folder_path=str(Path(migrations.__file__).parent),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
