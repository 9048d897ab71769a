"""The garbage collector's settings for a long-running process (the API and the workers)."""

from __future__ import annotations

import gc

#: the youngest generation is collected after this many allocations (Python's default: 700)
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Once started: what start-up made (modules, tables, routes, pools; some 150,000
    objects) goes out of the cyclic collector's sight (`gc.freeze`), and the young generation
    is collected less often. Otherwise every full collection walks all of it (tens of
    milliseconds, several times a minute under load), and the work in flight is walked once
    per 700 allocations."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
