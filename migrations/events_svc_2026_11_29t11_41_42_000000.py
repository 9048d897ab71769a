from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T11:41:42:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox indexes Piccolo cannot declare"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="events_svc", description=DESCRIPTION
    )

    async def outbox_indexes():
        # A partial index for the sweep, and the per-(event, person) lookups the sender
        # makes for every message; Piccolo's column options cannot express either.
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE INDEX notification_due ON notification (next_attempt_at)"
            " WHERE status IN ('queued', 'sending')"
        )
        await engine.run_ddl(
            "CREATE INDEX notification_event_person ON notification (event, person)"
        )

    async def drop_outbox_indexes():
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS notification_due")
        await engine.run_ddl("DROP INDEX IF EXISTS notification_event_person")

    manager.add_raw(outbox_indexes)
    manager.add_raw_backwards(drop_outbox_indexes)

    return manager
