from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T10:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index for the per-organization hourly cap on queued messages"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="events_svc", description=DESCRIPTION
    )

    async def cap_index():
        # The cap counts an organization's messages per hour of next_attempt_at, sent or
        # not (notification_due only holds unsent rows); reminders are not counted, and
        # leaving them out keeps the index small (they are planned 400 days ahead).
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE INDEX notification_scheduled ON notification (next_attempt_at)"
            " WHERE kind <> 'reminder'"
        )

    async def drop_cap_index():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS notification_scheduled")

    manager.add_raw(cap_index)
    manager.add_raw_backwards(drop_cap_index)

    return manager
