"""Running it in production: /metrics, request ids and JSON log lines, send progress,
retrying failed messages (API and `events-svc outbox`), retention, worker heartbeats."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events_svc import logctx
from events_svc.jobs import BEATS_KEY, heartbeat
from events_svc.notifications.tables import Notification
from tests.conftest import METRICS_TOKEN
from tests.helpers import auth, event_body

METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def _event_with(client: Any, key: str, emails: list[str]) -> dict[str, Any]:
    ev = (await client.post("/events", json=event_body(), headers=auth(key))).json()
    resp = await client.post(
        f"/events/{ev['id']}/invitations",
        json={"invitees": [{"email": e} for e in emails]},
        headers=auth(key),
    )
    assert resp.status_code == 202, resp.text
    return dict(ev)


def _value(text: str, name: str, **labels: str) -> float | None:
    """A sample's value in Prometheus text, matched by name and (a subset of) labels."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{", 1)[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


async def test_metrics_need_the_token(client: Any) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 30}
    assert (await client.get("/metrics", headers=wrong)).status_code == 401
    resp = await client.get("/metrics", headers=METRICS)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")


async def test_metrics_show_the_outbox_draining(
    client: Any, make_org: Any, smtp: Any, worker: Any, app: Any
) -> None:
    _org, key = await make_org()
    people = [f"member{i}@assoc.example.org" for i in range(5)]
    smtp.handler.refuse[people[0]] = "550 5.1.1 no such user"
    ev = await _event_with(client, key, people)
    await heartbeat(app.state.arq, "host-a:1:abcd")
    before = (await client.get("/metrics", headers=METRICS)).text
    assert _value(before, "events_svc_outbox_rows", kind="invitation", status="queued") == 5
    assert (_value(before, "events_svc_arq_queue_depth") or 0) >= 1
    age = _value(before, "events_svc_worker_heartbeat_age_seconds", worker="host-a:1:abcd")
    assert age is not None and age < 2
    sent_before = _value(before, "events_svc_messages_total", kind="invitation", outcome="sent")
    failed_before = _value(before, "events_svc_messages_total", kind="invitation", outcome="failed")

    await worker.drain()
    after = (await client.get("/metrics", headers=METRICS)).text
    assert _value(after, "events_svc_outbox_rows", kind="invitation", status="queued") is None
    assert _value(after, "events_svc_outbox_rows", kind="invitation", status="failed") == 1
    sent = _value(after, "events_svc_messages_total", kind="invitation", outcome="sent")
    failed = _value(after, "events_svc_messages_total", kind="invitation", outcome="failed")
    assert (sent or 0) - (sent_before or 0) == 4
    assert (failed or 0) - (failed_before or 0) == 1
    assert (_value(after, "events_svc_smtp_send_seconds_count") or 0) >= 5
    # HTTP requests by route template, never by raw path
    assert (
        _value(
            after,
            "events_svc_http_requests_total",
            method="POST",
            route="/events/{event_id}/invitations",
            status="202",
        )
        or 0
    ) >= 1
    assert ev["id"] not in after


async def test_request_id_is_taken_or_made_and_returned(client: Any, make_org: Any) -> None:
    _org, key = await make_org()
    resp = await client.get("/events", headers={**auth(key), "X-Request-ID": "x" * 200})
    made = resp.headers["x-request-id"]
    assert len(made) == 16  # no sane id (too long): a new one was made
    resp = await client.get("/events", headers={**auth(key), "X-Request-ID": "lb-7f3a.42"})
    assert resp.headers["x-request-id"] == "lb-7f3a.42"


async def test_json_lines_name_the_request_org_and_message(
    client: Any, make_org: Any, smtp: Any, worker: Any, caplog: Any
) -> None:
    """One grep for the recipient's address finds the line with the Message-ID."""
    org, key = await make_org()
    formatter = logctx.JsonFormatter()
    caplog.set_level(logging.INFO)
    ev = await _event_with(client, key, ["zhang.san@gdswa.example.org"])
    await worker.drain()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    access = [line for line in lines if line.get("route") == "/events/{event_id}/invitations"]
    assert access and access[0]["org"] == org["slug"] and access[0]["status"] == 202
    assert access[0]["request_id"] and access[0]["event_id"] == ev["id"]
    sent = [line for line in lines if line.get("recipient") == "zhang.san@gdswa.example.org"]
    assert len(sent) == 1, sent
    row = await Notification.select().where(Notification.event == uuid.UUID(ev["id"])).first()
    assert row is not None
    assert sent[0]["message_id"] == row["message_id"] and sent[0]["message_id"]
    assert sent[0]["notification_id"] == str(row["id"]) and sent[0]["kind"] == "invitation"
    message = smtp.received[0].message
    assert message["Message-ID"] == row["message_id"]


def test_json_lines_carry_no_capability_token() -> None:
    token = "Ab3" + "x" * 40
    record = logging.LogRecord(
        "events_svc", logging.INFO, __file__, 1, "answered %s", (f"/rsvp/{token}",), None
    )
    record.link = f"https://events.example.org/feeds/people/{token}.ics"
    from events_svc.logredact import RedactFilter

    RedactFilter().filter(record)
    line = logctx.JsonFormatter().format(record)
    assert token not in line and "[redacted]" in line


async def test_deliveries_report_progress_and_failures(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    org, key = await make_org()
    people = [f"p{i}@assoc.example.org" for i in range(4)]
    smtp.handler.refuse[people[1]] = "550 5.1.1 mailbox unavailable"
    ev = await _event_with(client, key, people)
    early = (await client.get(f"/events/{ev['id']}/deliveries", headers=auth(key))).json()
    assert early["counts"] == {"invitation": {"queued": 4}}
    assert early["remaining"] == 4 and early["eta_seconds"] is None
    await worker.drain()
    resp = await client.get(f"/events/{ev['id']}/deliveries?limit=1", headers=auth(key))
    body = resp.json()
    assert body["counts"] == {"invitation": {"sent": 3, "failed": 1}}
    assert body["sent_last_minute"] == 3 and body["rate_per_second"] == 0.05
    assert body["remaining"] == 0 and body["eta_seconds"] == 0
    [failure] = body["failures"]["items"]
    assert failure["email"] == people[1] and "550 5.1.1" in failure["smtp_reply"]
    assert body["failures"]["next"] is None
    mine = (await client.get("/orgs/me/deliveries", headers=auth(key))).json()
    assert mine["totals"] == {"sent": 3, "failed": 1}
    assert mine["failures"]["items"][0]["event_id"] == ev["id"]
    # another organization sees none of it
    _other, other_key = await make_org()
    hidden = await client.get(f"/events/{ev['id']}/deliveries", headers=auth(other_key))
    assert hidden.status_code == 404
    assert (await client.get("/orgs/me/deliveries", headers=auth(other_key))).json()["totals"] == {}
    bad = await client.get(f"/events/{ev['id']}/deliveries?limit=0", headers=auth(key))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"

    # the recipient's mailbox is fixed: the operator retries that one message
    smtp.handler.refuse.clear()
    retry = f"/events/{ev['id']}/deliveries/{failure['id']}/retry"
    assert (await client.post(retry, headers=auth(other_key))).status_code == 404
    resp = await client.post(retry, headers=auth(key))
    assert resp.status_code == 202, resp.text
    again = await client.post(retry, headers=auth(key))
    assert again.status_code == 409 and "queued" in again.json()["detail"]
    await worker.drain()
    assert [r.recipients for r in smtp.received].count([people[1]]) == 1
    nobody = f"/events/{ev['id']}/deliveries/{uuid.uuid4()}/retry"
    assert (await client.post(nobody, headers=auth(key))).status_code == 404
    garbage = f"/events/{ev['id']}/deliveries/not-an-id/retry"
    assert (await client.post(garbage, headers=auth(key))).status_code == 404


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "events_svc.cli", "outbox", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_outbox_commands_resend_what_an_outage_failed(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    _org, key = await make_org()
    people = [f"q{i}@assoc.example.org" for i in range(3)]
    ev = await _event_with(client, key, people)
    other = await _event_with(client, key, ["r0@assoc.example.org"])
    # an SMTP outage that outlasted the retries: every row ended failed
    await Notification.raw(
        "UPDATE notification SET status = 'failed', attempts = 9,"
        " last_error = 'gave up after 9: connection refused'"
    )
    status = json.loads(_cli("status").stdout)
    assert {s["status"]: s["total"] for s in status["statuses"]} == {"failed": 4}
    row = await Notification.select().where(Notification.event == uuid.UUID(ev["id"])).first()
    assert row is not None
    shown = json.loads(_cli("show", str(row["id"])).stdout)
    assert shown["status"] == "failed" and shown["email"] in people
    assert _cli("show", str(uuid.uuid4())).returncode == 1
    refused = _cli("retry", "--failed", "--since", "yesterday")
    assert refused.returncode == 2 and "--since" in refused.stderr

    done = _cli("retry", "--failed", "--event", ev["id"], "--since", "1h")
    assert json.loads(done.stdout) == {"retried": 3}, done.stderr
    await worker.drain()
    assert sorted(r.recipients[0] for r in smtp.received) == sorted(people)
    assert json.loads(_cli("retry", "--failed").stdout) == {"retried": 1}
    await worker.drain()
    assert len(smtp.received) == 4
    assert other["id"]


async def test_retention_keeps_what_is_still_needed(
    client: Any, make_org: Any, smtp: Any, worker: Any
) -> None:
    from events_svc.retention import purge

    _org, key = await make_org()
    ev = await _event_with(client, key, ["a@assoc.example.org", "b@assoc.example.org"])
    await worker.drain()
    resp = await client.patch(f"/events/{ev['id']}", json={"location": "北京"}, headers=auth(key))
    assert resp.status_code == 200
    await worker.drain()
    # everything is a year old; one more message failed back then, another never went
    await Notification.raw(
        "UPDATE notification SET created_at = created_at - interval '365 days',"
        " sent_at = sent_at - interval '365 days'"
    )
    rows = await Notification.select().where(Notification.event == uuid.UUID(ev["id"]))
    assert sorted(r["kind"] for r in rows) == ["invitation", "invitation", "update", "update"]
    person = rows[0]["person"]
    old = datetime.now(UTC) - timedelta(days=300)
    for status, suffix in (("failed", "x1"), ("queued", "x2")):
        await Notification.insert(
            Notification(
                id=uuid.uuid4(),
                key=f"update:{ev['id']}:{person}:{suffix}",
                kind="update",
                event=uuid.UUID(ev["id"]),
                person=person,
                status=status,
                created_at=old,
                next_attempt_at=old
                if status == "failed"
                else datetime.now(UTC) + timedelta(days=1),
            )
        )
    removed = await purge(
        now=datetime.now(UTC),
        notifications_days=180,
        webhook_deliveries_days=30,
        held_replies_days=90,
    )
    assert removed["notifications"] == 2  # each person's invitation; their update is kept
    left = await Notification.select().where(Notification.event == uuid.UUID(ev["id"]))
    assert sorted((r["kind"], r["status"]) for r in left) == [
        ("update", "failed"),
        ("update", "queued"),
        ("update", "sent"),
        ("update", "sent"),
    ]
    again = await purge(
        now=datetime.now(UTC),
        notifications_days=180,
        webhook_deliveries_days=30,
        held_replies_days=90,
    )
    assert again["notifications"] == 0
    # a setting of 0 keeps everything
    assert (
        await purge(
            now=datetime.now(UTC) + timedelta(days=9999),
            notifications_days=0,
            webhook_deliveries_days=0,
            held_replies_days=0,
        )
    ) == {"notifications": 0, "webhook_deliveries": 0, "held_replies": 0}


async def test_worker_heartbeats_are_reported_apart_from_readiness(client: Any, app: Any) -> None:
    assert (await client.get("/healthz/workers")).status_code == 503  # none yet
    await heartbeat(app.state.arq, "host-b:2:beef")
    resp = await client.get("/healthz/workers")
    assert resp.status_code == 200 and resp.json()["live"] == 1
    # the worker dies: its age rises, /healthz/workers says so, /readyz stays green
    await app.state.arq.hset(BEATS_KEY, "host-b:2:beef", str(time.time() - 30))
    resp = await client.get("/healthz/workers")
    assert resp.status_code == 503 and resp.json()["stale"] == 1
    assert resp.json()["freshest_age_seconds"] >= 30
    assert (await client.get("/readyz")).status_code == 200
    text = (await client.get("/metrics", headers=METRICS)).text
    age = _value(text, "events_svc_worker_heartbeat_age_seconds", worker="host-b:2:beef")
    assert age is not None and age >= 30


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "postgresql://h/db?sslmode=verify-fully", "sslmode=verify-fully"),
        ("DATABASE_URL", "postgresql://h/db?sslmode=verify-full&sslrootcert=/nope.pem", "no such"),
        ("REDIS_URL", "redis+sentinel://s1:26379,s2:26379/mymaster", "Sentinel"),
        ("REDIS_URL", "redis://h:6379/0?ssl_ca_certs=/etc/hosts", "rediss://"),
        ("METRICS_TOKEN", "short", "16 characters"),
        ("LOG_FORMAT", "xml", "json or text"),
    ],
)
def test_settings_refuse_what_cannot_work(variable: str, value: str, message: str) -> None:
    from events_svc.settings import Settings, SettingsError

    env = {
        "DATABASE_URL": "postgresql://h/db",
        "REDIS_URL": "redis://h:6379/0",
        "SECRET_KEY": "s" * 40,
        variable: value,
    }
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert info.value.variable == variable and message in str(info.value)
