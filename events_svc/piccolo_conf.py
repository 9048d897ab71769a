"""Piccolo's engine and app registry; the engine's DSN comes from DATABASE_URL."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(
    config={
        "dsn": os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/events_svc")
    },
    extensions=(),
)

APP_REGISTRY = AppRegistry(apps=["events_svc.piccolo_app"])
