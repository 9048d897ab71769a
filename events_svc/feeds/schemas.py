"""Response bodies of the feed routes."""

from __future__ import annotations

import msgspec


class FeedTokenRotated(msgspec.Struct):
    email: str
    rotated: bool
