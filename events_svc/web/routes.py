"""Every route of the pages layer, for `create_app`."""

from __future__ import annotations

from events_svc.web.public import asset, switch_language

ROUTES: list[object] = [asset, switch_language]
