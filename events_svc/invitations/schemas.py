"""Request and response bodies of invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from events_svc.contacts.schemas import OrgSelector
from events_svc.people.schemas import MAX_INVITEES, InviteeIn

Rsvp = Literal["needs-action", "accepted", "tentative", "declined"]


class InvitationsCreate(msgspec.Struct, forbid_unknown_fields=True):
    """People named one by one, organizations whose contacts to invite, or both."""

    invitees: Annotated[list[InviteeIn], msgspec.Meta(max_length=MAX_INVITEES)] = msgspec.field(
        default_factory=list
    )
    organizations: Annotated[list[OrgSelector], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    message: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class InvitationsCreated(msgspec.Struct, omit_defaults=True):
    invited: int  #: people newly invited (each gets one invitation e-mail)
    already_invited: int  #: people who were on the list already (nothing is sent)
    #: only when the organization's hourly cap was reached: invitations queued for later
    #: hours (none is dropped), the last of them going out from `deferred_until`
    deferred: int = 0
    deferred_until: datetime | None = None


class Delivery(msgspec.Struct):
    """The latest message to this person about this event."""

    kind: str
    status: str  #: queued / sending / sent / failed / skipped
    attempts: int
    last_error: str
    sent_at: datetime | None


class InvitationOut(msgspec.Struct):
    email: str
    name: str
    role: str
    rsvp: str
    locale: str
    invited_at: datetime
    delivery: Delivery | None


class InvitationPage(msgspec.Struct):
    items: list[InvitationOut]
    next: str | None
