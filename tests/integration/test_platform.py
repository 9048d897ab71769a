"""Health, OpenAPI, migrations, CLI and the worker path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from arq.worker import Worker
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.querystring import QueryString

from events_svc.jobs import PING
from events_svc.piccolo_app import APP_CONFIG, TABLES
from events_svc.piccolo_conf import DB


async def test_health_and_readiness(client: Any) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["postgresql"] == "ok"


async def test_readiness_names_what_is_down(app: Any, client: Any) -> None:
    real = app.state.arq
    app.state.arq = _DeadRedis()
    try:
        resp = await client.get("/readyz")
    finally:
        app.state.arq = real
    assert resp.status_code == 503
    assert resp.json()["detail"] == "unreachable: redis"


class _DeadRedis:
    async def ping(self) -> None:
        raise ConnectionError("connection refused")


async def test_openapi_describes_endpoints_errors_and_auth(client: Any) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    paths = doc["paths"]
    for path in ("/events", "/events/{event_id}", "/events/{event_id}/cancel", "/orgs", "/orgs/me"):
        assert path in paths, path
    create = paths["/events"]["post"]
    assert {"401", "413", "422"} <= set(create["responses"])
    assert create["security"] == [{"BearerAuth": []}]
    assert "problem+json" in json.dumps(create["responses"]["422"])
    page = await client.get("/schema")
    assert page.status_code == 200 and "<html" in page.text.lower()


async def test_migrations_match_the_tables_exactly() -> None:
    statements = await AutoMigrationManager().get_alter_statements(app_config=APP_CONFIG)
    assert [s for s in statements if s.statements] == []
    rows = await DB.run_querystring(
        QueryString(
            "SELECT table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema = 'public'"
        )
    )
    in_db: dict[str, dict[str, tuple[str, bool]]] = {}
    for r in rows:
        in_db.setdefault(r["table_name"], {})[r["column_name"]] = (
            r["data_type"],
            r["is_nullable"] == "YES",
        )
    assert set(in_db) - {"migration"} == {t._meta.tablename for t in TABLES}
    for table in TABLES:
        columns = {c._meta.db_column_name: c._meta.null for c in table._meta.columns}
        assert set(in_db[table._meta.tablename]) == set(columns), table
        for name, null in columns.items():
            assert in_db[table._meta.tablename][name][1] == null, (table, name)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "events_svc.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


async def test_cli_org_create_prints_one_json_object(client: Any) -> None:
    done = _cli(
        "org",
        "create",
        "--slug",
        "bjswa",
        "--name",
        "北京社会工作者协会",
        "--email",
        "office@bjswa.example.org",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["organization"]["slug"] == "bjswa"
    me = await client.get("/orgs/me", headers={"Authorization": f"Bearer {out['api_key']}"})
    assert me.json()["name"] == "北京社会工作者协会"
    again = _cli("org", "create", "--slug", "bjswa", "--name", "x", "--email", "a@b.example.org")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_cli_migrate_is_idempotent_and_names_missing_settings() -> None:
    assert _cli("migrate").returncode == 0
    missing = _cli("migrate", env={"DATABASE_URL": ""})
    assert missing.returncode == 2 and "DATABASE_URL" in missing.stderr
    serve = _cli("serve", env={"SECRET_KEY": "short"})
    assert serve.returncode == 2 and "SECRET_KEY" in serve.stderr


async def test_a_worker_runs_enqueued_jobs(app: Any) -> None:
    from workers.main import WorkerSettings, redis_settings

    job = await app.state.arq.enqueue_job(PING, _job_id="ping-test")
    assert await app.state.arq.enqueue_job(PING, _job_id="ping-test") is None  # deduplicated
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_settings=redis_settings(),
        burst=True,
        poll_delay=0.05,
        on_startup=None,
        on_shutdown=None,
        handle_signals=False,
    )
    worker.ctx["worker_name"] = "test"
    try:
        await worker.main()
    finally:
        await worker.close()
    assert (await job.result(timeout=5)).startswith("pong")
