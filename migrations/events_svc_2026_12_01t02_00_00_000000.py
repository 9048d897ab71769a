from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the operator: failed rows, and the retention job's age scans"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="events_svc", description=DESCRIPTION
    )

    async def ops_indexes():
        # /metrics counts failed rows at every scrape and `outbox retry --failed` finds them:
        # a partial index keeps both cheap however many rows were sent. The retention job
        # walks old rows by age, in small batches, instead of scanning the tables each time.
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE INDEX notification_failed ON notification (next_attempt_at)"
            " WHERE status = 'failed'"
        )
        await engine.run_ddl("CREATE INDEX notification_created ON notification (created_at)")
        await engine.run_ddl(
            "CREATE INDEX webhook_delivery_created ON webhook_delivery (created_at)"
        )

    async def drop_ops_indexes():
        engine = engine_finder()
        for name in ("notification_failed", "notification_created", "webhook_delivery_created"):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(ops_indexes)
    manager.add_raw_backwards(drop_ops_indexes)

    return manager
