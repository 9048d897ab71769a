"""Every route of the pages layer, for `create_app`."""

from __future__ import annotations

from events_svc.web.admin_pages import AdminPages, WebhookPages
from events_svc.web.agenda_page import AgendaPage
from events_svc.web.checkin_page import CheckInPage
from events_svc.web.contact_pages import ContactPages
from events_svc.web.event_pages import EventPages
from events_svc.web.invitation_pages import InvitationPages
from events_svc.web.org_pages import OrgPages
from events_svc.web.public import asset, switch_language
from events_svc.web.public_pages import PublicPages
from events_svc.web.signin_pages import SignInController
from events_svc.web.visit_pages import VisitPages

ROUTES: list[object] = [
    asset,
    switch_language,
    SignInController,
    EventPages,
    InvitationPages,
    AgendaPage,
    ContactPages,
    VisitPages,
    AdminPages,
    WebhookPages,
    OrgPages,
    PublicPages,
    CheckInPage,
]
