from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the retention job walks finished notifications by age through an index of their own"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="events_svc", description=DESCRIPTION
    )

    async def finished_index():
        # The retention delete takes the oldest finished rows first (ORDER BY created_at
        # LIMIT): with 500,000 rows its plan was a sequential scan of the whole table on every
        # run (bench/outbox_plans.py); this index gives it the rows in that order instead.
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE INDEX notification_finished ON notification (created_at)"
            " WHERE status IN ('sent', 'skipped')"
        )

    async def drop_finished_index():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS notification_finished")

    manager.add_raw(finished_index)
    manager.add_raw_backwards(drop_finished_index)

    return manager
