"""`GET /metrics` (Prometheus text format, bearer METRICS_TOKEN), `GET /healthz/workers`, and the
ASGI middleware that gives every request its id (X-Request-ID), its access log line and its
HTTP metrics, and answers 503 while the database watch (`availability`) says PostgreSQL is down.

`/metrics` holds this process's counters (or, with PROMETHEUS_MULTIPROC_DIR, those of every
process writing there) and gauges read when it is scraped: outbox rows by kind and status (from
the partial indexes, so it stays cheap on a large table), the arq queue's depth, and the age of
each worker's last heartbeat (kept in Redis for a day after a worker stops beating, so a dead
worker shows as an age that rises rather than as a missing series).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Iterable
from typing import Any

from litestar import Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from piccolo.querystring import QueryString
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from events_svc import logctx, telemetry
from events_svc.availability import send_503, watch_of
from events_svc.errors import Unauthorized, problem_response
from events_svc.jobs import BEATS_KEY, HEARTBEAT_TTL
from events_svc.openapi import problem_spec, problems
from events_svc.piccolo_conf import DB
from events_svc.ratelimit import guard_credentials

log = logging.getLogger("events_svc.http")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: a scrape waits this long for PostgreSQL and Redis; the gauges are left out past it
SCRAPE_TIMEOUT = 2.0
#: /healthz/workers answers 503 when no worker has beaten within this many seconds
WORKERS_STALE_AFTER = HEARTBEAT_TTL

_OUTBOX_ROWS = (
    # for notification: both statuses are in the partial index notification_due, failed in
    # notification_failed; side_mail (sign-in links, registration confirmations) is small
    "SELECT kind, CASE WHEN status = 'queued' AND next_attempt_at > now() THEN 'scheduled'"
    " ELSE status END AS status, count(*) AS n,"
    " coalesce(extract(epoch FROM now() - min(next_attempt_at)"
    "  FILTER (WHERE status = 'queued' AND next_attempt_at <= now())), 0) AS oldest"
    " FROM {table} WHERE status IN ('queued', 'sending', 'failed') GROUP BY 1, 2"
)
_OUTBOX_SQL = " UNION ALL ".join(
    _OUTBOX_ROWS.format(table=t) for t in ("notification", "side_mail")
)


class _Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _process_registry() -> Any:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


async def heartbeat_ages(redis: Any) -> dict[str, float]:
    """Seconds since each worker's last heartbeat (workers that stopped cleanly are gone)."""
    now = time.time()
    beats = await redis.hgetall(BEATS_KEY)
    ages: dict[str, float] = {}
    stale = []
    for raw_name, raw_at in beats.items():
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        age = max(now - float(raw_at), 0.0)
        if age > 86400:
            stale.append(raw_name)
        else:
            ages[name] = age
    if stale:
        await redis.hdel(BEATS_KEY, *stale)
    return ages


async def _gauges(redis: Any) -> list[Metric]:
    outbox = GaugeMetricFamily(
        "events_svc_outbox_rows",
        "Outbox rows not finished, by kind and status (queued: due now; scheduled: later)",
        labels=["kind", "status"],
    )
    oldest = GaugeMetricFamily(
        "events_svc_outbox_oldest_due_seconds",
        "How long the oldest due queued row of each kind has waited",
        labels=["kind"],
    )
    depth = GaugeMetricFamily("events_svc_arq_queue_depth", "Jobs waiting in the arq queue")
    beat = GaugeMetricFamily(
        "events_svc_worker_heartbeat_age_seconds",
        "Seconds since each worker's last heartbeat",
        labels=["worker"],
    )
    freshest = GaugeMetricFamily(
        "events_svc_worker_heartbeat_freshest_age_seconds",
        "Seconds since the last heartbeat of any worker (alert when it rises)",
    )
    up = GaugeMetricFamily(
        "events_svc_scrape_ok", "1 when PostgreSQL and Redis answered the scrape"
    )
    ok = 1.0
    try:
        rows = await asyncio.wait_for(DB.run_querystring(QueryString(_OUTBOX_SQL)), SCRAPE_TIMEOUT)
        for r in rows:
            outbox.add_metric([r["kind"], r["status"]], float(r["n"]))
            if r["status"] == "queued":
                oldest.add_metric([r["kind"]], float(r["oldest"]))
    except Exception as exc:  # noqa: BLE001 - the process metrics still go out
        log.warning("metrics: outbox query failed: %s", exc)
        ok = 0.0
    try:
        depth.add_metric(
            [], float(await asyncio.wait_for(redis.zcard(redis.default_queue_name), SCRAPE_TIMEOUT))
        )
        ages = await asyncio.wait_for(heartbeat_ages(redis), SCRAPE_TIMEOUT)
        for name, age in sorted(ages.items()):
            beat.add_metric([name], age)
        if ages:
            freshest.add_metric([], min(ages.values()))
    except Exception as exc:  # noqa: BLE001 - the process metrics still go out
        log.warning("metrics: Redis read failed: %s", exc)
        ok = 0.0
    up.add_metric([], ok)
    return [outbox, oldest, depth, beat, freshest, up]


@get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics (bearer METRICS_TOKEN)",
    media_type=CONTENT_TYPE,
    responses=problems(401),
)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    token = request.app.state.settings.metrics_token
    given = request.headers.get("authorization", "")

    async def verify() -> None:
        scheme, _, credential = given.partition(" ")
        if (
            token is None
            or scheme.lower() != "bearer"
            or not secrets.compare_digest(credential.strip().encode(), token.encode())
        ):
            raise Unauthorized("send METRICS_TOKEN as a bearer token")

    await guard_credentials(request, verify)
    body = generate_latest(_process_registry())
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(await _gauges(request.app.state.arq)))
    body += generate_latest(snapshot)
    return Response(body, media_type=CONTENT_TYPE)


@get(
    "/healthz/workers",
    tags=["health"],
    summary="Whether some worker's heartbeat is fresh (503 when none is)",
    responses={503: problem_spec("No worker's heartbeat is fresh, or Redis cannot tell")},
)
async def healthz_workers(request: Request[Any, Any, Any]) -> Response[Any]:
    """Apart from /readyz on purpose: dead workers must not take the API out of a load
    balancer; alert on this route (or on the heartbeat metric) instead."""
    try:
        ages = await asyncio.wait_for(heartbeat_ages(request.app.state.arq), SCRAPE_TIMEOUT)
    except Exception:  # noqa: BLE001 - Redis away: nobody can tell
        return problem_response(
            request,
            status=503,
            slug="unavailable",
            title="Service unavailable",
            detail="Redis is unreachable: worker heartbeats cannot be read",
        )
    fresh = [a for a in ages.values() if a <= WORKERS_STALE_AFTER]
    body = {
        "status": "ok" if fresh else "stale",
        "live": len(fresh),
        "stale": len(ages) - len(fresh),
        "freshest_age_seconds": round(min(ages.values()), 3) if ages else None,
    }
    return Response(body, status_code=200 if fresh else 503)


# --- per request ------------------------------------------------------------------------------


_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled counter and histogram of a (method, route, status), looked up once: the
    `labels()` call takes a lock and builds its key on every request otherwise."""
    key = (method, route, status)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = (
            telemetry.HTTP_REQUESTS.labels(method, route, str(status)),
            telemetry.HTTP_LATENCY.labels(method, route),
        )
    return found


#: polled all the time: no access line each
_QUIET = frozenset({"/metrics", "/healthz", "/healthz/workers", "/readyz"})

#: an exchange's answer: not started, started by the app, or answered 503 by the watch
_WAITING, _STARTED, _ANSWERED = 0, 1, 2


class _Exchange:
    """One request through `request_middleware`: its id, its answer's status, and (when the
    database watch guards it) its place among the requests the watch answers 503."""

    __slots__ = ("scope", "send", "rid", "fields", "started", "status", "state", "task", "answer")

    def __init__(self, scope: Scope, send: Send, rid: str, fields: dict[str, Any]) -> None:
        self.scope = scope
        self.send = send
        self.rid = rid.encode()
        self.fields = fields
        self.started = time.perf_counter()
        self.status = 500
        self.state = _WAITING
        #: the request's task, while the watch guards it
        self.task: asyncio.Task[Any] | None = None
        #: the watch's task sending the 503
        self.answer: asyncio.Task[None] | None = None

    async def send_with_id(self, message: Message) -> None:
        if self.state == _ANSWERED:
            return  # the watch answered 503: what the cancelled work still sends goes nowhere
        if message["type"] == "http.response.start":
            self.state = _STARTED
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), (b"x-request-id", self.rid)]
        await self.send(message)

    def database_down(self) -> None:
        """The watch noticed the database stopped answering (`availability.Waiter`)."""
        if self.state != _WAITING or self.task is None:
            return
        self.state = _ANSWERED
        self.status = 503
        # answered beside the request's own task: its work, cancelled, may take long to undo
        # (a frozen server holds the connection it waited on)
        self.answer = asyncio.create_task(self._answer_503())
        self.task.cancel()  # its transaction, never committed, dies with its connection

    async def _answer_503(self) -> None:
        try:
            await send_503(self.scope, self.send, [(b"x-request-id", self.rid)])
        except Exception as exc:  # noqa: BLE001 - the client went away meanwhile
            log.debug("could not answer 503: %r", exc)
        self.finish(with_fields=True)

    def finish(self, *, with_fields: bool = False) -> None:
        """The request's metrics and its access line (`with_fields`: written outside the
        request's context, so its fields are given outright)."""
        elapsed = time.perf_counter() - self.started
        scope = self.scope
        route = scope.get("path_template") or "unmatched"
        method = str(scope.get("method", ""))
        if telemetry.enabled:
            count, latency = _children(method, route, self.status)
            count.inc()
            latency.observe(elapsed)
        if telemetry.access_log and route not in _QUIET and log.isEnabledFor(logging.INFO):
            # a constant message: the fields are the line (and none can hold a token: the
            # route is the template, not the path)
            extra = {
                "method": method,
                "route": route,
                "status": self.status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            log.info("request", extra={**self.fields, **extra} if with_fields else extra)


def request_middleware(app: ASGIApp) -> ASGIApp:
    """Request id in and out, context for the log lines, one access line, HTTP metrics; and
    the database watch's promise (`availability`): while it says the database is down, a new
    request gets a 503 at once, and one waiting on the database is answered 503 when the
    watch notices. One middleware, no task of its own per request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        rid = logctx.request_id_from(header)
        event_id = (scope.get("path_params") or {}).get("event_id")
        fields = (
            {"request_id": rid} if event_id is None else {"request_id": rid, "event_id": event_id}
        )
        token = logctx.begin_fields(fields)  # `bind` adds to this dict (the organization)
        exchange = _Exchange(scope, send, rid, fields)
        watch = watch_of(scope)
        try:
            if watch is None:
                await app(scope, receive, exchange.send_with_id)
            elif watch.down:
                exchange.status = 503
                await send_503(scope, send, [(b"x-request-id", exchange.rid)])
            else:
                task = exchange.task = asyncio.current_task()
                watch.waiting.add(exchange)
                try:
                    await app(scope, receive, exchange.send_with_id)
                except asyncio.CancelledError:
                    if exchange.answer is None:
                        raise  # not the watch's cancel
                finally:
                    watch.waiting.discard(exchange)
                if exchange.answer is not None:
                    # the watch answers 503 and cancelled the work: that cancel is done with,
                    # and the request ends once the answer is out (uvicorn calls a return
                    # before it an error)
                    if task is not None and task.cancelling():
                        task.uncancel()
                    await exchange.answer
        finally:
            if exchange.state != _ANSWERED:  # else the watch's answer wrote them
                exchange.finish()
            logctx.end(token)

    return middleware
