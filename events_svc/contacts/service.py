"""Contacts: an organization's people, kept one by one or imported from CSV, and the people
an invitation reaches through organizations."""

from __future__ import annotations

from events_svc.contacts.checks import (
    CSV_MAX_BYTES,
)
from events_svc.contacts.csv_import import (
    _refuse,
    check_media_type,
    import_csv,
    too_large,
)
from events_svc.contacts.invitees import (
    merge_invitees,
    resolve_invitees,
)
from events_svc.contacts.manage import (
    create_contact,
    delete_contact,
    list_contacts,
    update_contact,
)

__all__ = [
    "CSV_MAX_BYTES",
    "_refuse",
    "check_media_type",
    "create_contact",
    "delete_contact",
    "import_csv",
    "list_contacts",
    "merge_invitees",
    "resolve_invitees",
    "too_large",
    "update_contact",
]
