"""The side-mail outbox (sign-in links, registration confirmations): one table, one job, one
sweep. What it promises: a row the queue lost is sent by the sweep, a transient SMTP error is
retried after a backoff, a permanent one fails the row, and a row whose link died unsent
fails instead of going out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from events_svc.organizers import signin
from events_svc.sender import side_mail
from events_svc.sidemail.tables import SideMail
from tests.console.helpers import link_from_mail
from workers.side_mail import sweep_side_mail


async def _row() -> dict[str, Any]:
    (row,) = await SideMail.select(
        SideMail.kind, SideMail.status, SideMail.attempts, SideMail.last_error
    )
    return row


async def test_a_mail_the_queue_lost_is_sent_by_the_sweep(
    app: Any, make_org: Any, smtp: Any, worker: Any, settings: Any
) -> None:
    email = "mishu@sweep.example.org"
    await make_org(email=email)
    # committed, never enqueued: a crash between the commit and the enqueue, or Redis away
    queued = await signin.request_links(app.state.arq, email=email, browser=None)
    assert len(queued) == 1
    await worker.drain()
    assert smtp.for_recipient(email) == []
    ctx = {"settings": dataclasses.replace(settings, sweep_grace=0), "redis": app.state.arq}
    assert await sweep_side_mail(ctx) == 1
    await worker.drain()
    assert link_from_mail(smtp, email).startswith("/console/sign-in/")
    assert await _row() == {"kind": "sign-in", "status": "sent", "attempts": 1, "last_error": ""}
    # the row holds the nonce, never the link: its MAC needs SECRET_KEY
    (stored,) = await SideMail.select()
    mac = signin.link_token(settings.secret_key, stored["nonce"]).split(".", 1)[1]
    assert not any(mac in str(value) for value in stored.values())


async def test_transient_errors_retry_with_backoff_and_permanent_ones_fail(
    app: Any, make_org: Any, smtp: Any, worker: Any, settings: Any
) -> None:
    email = "mishu@retry.example.org"
    await make_org(email=email)
    (queued,) = await signin.request_links(app.state.arq, email=email, browser=None)
    now = datetime.now(UTC)
    smtp.handler.refuse[email] = "451 4.3.0 try again later"
    outcome, _, retry_at = await side_mail.send(
        mail_id=queued["id"], settings=settings, smtp=worker.smtp, now=now
    )
    assert outcome == "retry" and retry_at is not None and retry_at > now
    row = await _row()
    assert row["status"] == "queued" and row["attempts"] == 1 and "451" in row["last_error"]
    # not due before its backoff
    early, _, _ = await side_mail.send(
        mail_id=queued["id"], settings=settings, smtp=worker.smtp, now=now
    )
    assert early == "noop"
    smtp.handler.refuse[email] = "550 5.1.1 no such user"
    outcome, _, _ = await side_mail.send(
        mail_id=queued["id"], settings=settings, smtp=worker.smtp, now=retry_at
    )
    assert outcome == "failed"
    row = await _row()
    assert row["status"] == "failed" and row["attempts"] == 2 and "550" in row["last_error"]
    assert smtp.for_recipient(email) == []


async def test_a_mail_whose_link_died_unsent_fails(
    app: Any, make_org: Any, smtp: Any, worker: Any, settings: Any
) -> None:
    email = "mishu@late.example.org"
    await make_org(email=email)
    asked = datetime.now(UTC) - timedelta(seconds=signin.LINK_TTL + 60)
    (queued,) = await signin.request_links(app.state.arq, email=email, browser=None, now=asked)
    outcome, _, _ = await side_mail.send(
        mail_id=queued["id"], settings=settings, smtp=worker.smtp, now=datetime.now(UTC)
    )
    assert outcome == "failed"
    assert (await _row())["last_error"] == "the link expired"
    # and the sweep fails such rows without sending them
    await SideMail.delete(force=True)
    await signin.request_links(app.state.arq, email=email, browser=None, now=asked)
    ctx = {"settings": dataclasses.replace(settings, sweep_grace=0), "redis": app.state.arq}
    assert await sweep_side_mail(ctx) == 0
    assert (await _row())["last_error"] == "the link expired unsent"
    await worker.drain()
    assert smtp.for_recipient(email) == []
