"""events-svc: events, iMIP invitations, reminders and calendar feeds for associations."""

import os

# Piccolo finds its engine through this module path; set it before any table is used.
os.environ.setdefault("PICCOLO_CONF", "events_svc.piccolo_conf")

__version__ = "0.1.0"
