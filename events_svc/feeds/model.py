"""Feed settings, stamps and bodies as values, the bounded cache of rendered bodies, and a
person's feed links."""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: events that ended longer ago than this leave the feeds
FEED_PAST = timedelta(days=90)
#: a cancelled event stays (as STATUS:CANCELLED) this long, so subscribed clients remove it
CANCELLED_KEPT = timedelta(days=30)
#: part of every ETag: change it when the bytes of a feed change for the same data
FORMAT = "feed-1"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}\Z")
_END = b"END:VCALENDAR\r\n"

_WINDOW = (
    " AND (e.series_ends_at_utc IS NULL OR e.series_ends_at_utc >= {})"
    " AND (e.status <> 'cancelled' OR e.updated_at >= {})"
)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """What every feed of this process shares (from the settings)."""

    base_url: str
    mail_from: str
    refresh: timedelta
    #: REPLY_ADDRESS and SECRET_KEY: a person's feed names each invitation's reply address
    reply_address: str = ""
    secret_key: str = field(default="", repr=False)
    #: `?detail=sessions`: an event with an agenda shows as its sessions, one VEVENT each
    sessions: bool = False


@dataclass(slots=True)
class Stamp:
    """A feed's validators, known before building it."""

    key: str  #: which feed: "org:<id>:<kinds>" or "person:<id>"
    etag: str  #: strong, quoted
    last_modified: datetime
    private: bool
    name: str  #: X-WR-CALNAME
    owner: uuid.UUID  #: the organization or person
    kinds: tuple[str, ...] = ()
    #: for public feeds: "org" (hosted or co-hosted by `owner`) or "partnership" (run under it)
    scope: str = ""


@dataclass(slots=True)
class Body:
    etag: str
    data: bytes
    _gzip: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        """The body gzip-compressed, once per body."""
        if self._gzip is None:
            # level 5: a third of the time of level 9 for a few percent more bytes
            self._gzip = gzip.compress(self.data, compresslevel=5, mtime=0)
        return self._gzip


class _Lru:
    """A small in-process LRU map with a size budget."""

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self._items: collections.OrderedDict[Any, tuple[Any, int]] = collections.OrderedDict()
        self.max_items, self.max_bytes, self.bytes = max_items, max_bytes, 0

    def get(self, key: Any) -> Any:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (value, size)
        self.bytes += size
        while self._items and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
            _k, (_v, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


#: the last body of each feed, by feed key; served again while its ETag holds
BODIES = _Lru(max_items=64, max_bytes=96 * 1024 * 1024)


def _etag(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def _defaults_text(raw: Any) -> str:
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)


# --- personal links ---------------------------------------------------------------------------


def person_feed_urls(base_url: str, token: str) -> tuple[str, str]:
    """The https and webcal URLs of a person's feed."""
    https = f"{base_url}/feeds/people/{token}.ics"
    return https, "webcal://" + https.split("://", 1)[1]
