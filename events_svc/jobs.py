"""Job names and enqueue helpers: the only place arq job ids are made.

`events_svc` never imports `workers`; it enqueues by these names.
"""

from __future__ import annotations

#: answers "pong" from a worker: proves the API -> Redis -> worker path end to end
PING = "ping"
