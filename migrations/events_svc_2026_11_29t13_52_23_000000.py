from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T13:52:23:000000"
VERSION = "1.38.0"
DESCRIPTION = "feed tokens for people known before feeds existed"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="events_svc", description=DESCRIPTION
    )

    async def fill_feed_tokens():
        # 256 bits from pg_strong_random (two v4 UUIDs carry 244 random bits; the rest is
        # fixed version bits), base64url without padding: the same form new rows get
        engine = engine_finder()
        await engine.run_ddl(
            "UPDATE person SET feed_token = rtrim(translate(encode("
            "uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),"
            " '+/', '-_'), '=') WHERE feed_token IS NULL"
        )

    async def nothing():
        pass

    manager.add_raw(fill_feed_tokens)
    manager.add_raw_backwards(nothing)

    return manager
