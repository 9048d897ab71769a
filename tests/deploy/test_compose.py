"""The compose file, checked without a Docker engine: against the Compose Specification's JSON
schema (vendored from the docker-compose 1.29.2 wheel, Apache-2.0, deploy/compose-spec.json),
and for what the deployment promises: replicas behind the proxy, a PostgreSQL connection
budget that fits, Redis that persists its queue, health checks that mean something."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_follows_the_compose_spec() -> None:
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_does_catch_mistakes() -> None:
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text(encoding="utf-8"))
    broken = _compose()
    broken["services"]["api"]["deploy"] = {"replicas": "two"}
    broken["services"]["worker"]["stop_grace_period"] = {"seconds": 70}
    broken["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert len(errors) >= 3


def _env(service: dict[str, Any], name: str) -> str:
    value = str(service["environment"][name])
    # ${VAR:-default} -> default
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def test_connection_budget_fits_postgresql() -> None:
    """DB_POOL_SIZE + 1 per API process (the pool and its outage watch), WORKER_DB_POOL_SIZE
    per worker, a few for migrate and commands: within max_connections at the file's scale
    and at twice as many workers."""
    services = _compose()["services"]
    api, worker = services["api"], services["worker"]
    command = api["command"]
    processes = api["deploy"]["replicas"] * int(command[command.index("--workers") + 1])
    per_api = int(_env(api, "DB_POOL_SIZE")) + 1
    per_worker = int(_env(worker, "WORKER_DB_POOL_SIZE"))
    pg = services["postgres"]["command"]
    max_connections = int(next(a for a in pg if a.startswith("max_connections=")).split("=")[1])
    workers = worker["deploy"]["replicas"]
    for scale in (workers, 2 * workers):
        budget = processes * per_api + scale * per_worker + 4
        assert budget <= max_connections - 3, (scale, budget)  # 3: superuser_reserved


def test_topology_promises() -> None:
    services = _compose()["services"]
    assert services["api"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["api"], "only the proxy is reached from outside"
    assert services["proxy"]["ports"] == ["8000:80"]
    assert "--appendonly" in services["redis"]["command"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["stop_grace_period"] == "70s"
    assert _env(services["worker"], "WORKER_METRICS_PORT") == "9464"
    assert _env(services["api"], "PROMETHEUS_MULTIPROC_DIR") == "/run/metrics"
    proxy_ip = services["proxy"]["networks"]["backend"]["ipv4_address"]
    assert _env(services["api"], "TRUSTED_PROXIES") == proxy_ip
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert "X-Request-ID $request_id" in nginx and "location = /metrics" in nginx
