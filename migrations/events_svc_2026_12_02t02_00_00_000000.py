"""One outbox for side mails: `side_mail` replaces `console_mail` (sign-in links) and the
`mail_*` columns of `registration` (confirmation e-mails); mails still queued or in flight
move to the new table before the old ones go."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import UUID
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod

from piccolo.engine.finder import engine_finder

ID = "2026-12-02T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "side_mail: one outbox for sign-in and registration mails"

# The old rows' link lifetimes: a sign-in link lives 15 minutes from its request (LINK_TTL),
# a registration's until the registration expires.
_COPY = (
    "INSERT INTO side_mail (id, kind, about, nonce, status, attempts, next_attempt_at,"
    " claimed_at, last_error, sent_at, created_at, expires_at)"
    " SELECT id, 'sign-in', organizer, nonce, status, attempts, next_attempt_at, claimed_at,"
    " last_error, sent_at, created_at, created_at + interval '15 minutes'"
    " FROM console_mail WHERE status IN ('queued', 'sending')",
    "INSERT INTO side_mail (id, kind, about, nonce, status, attempts, next_attempt_at,"
    " claimed_at, last_error, sent_at, created_at, expires_at)"
    " SELECT gen_random_uuid(), 'registration-confirm', id, NULL, mail_status, mail_attempts,"
    " mail_next_attempt_at, mail_claimed_at, mail_last_error, mail_sent_at, created_at,"
    " expires_at FROM registration"
    " WHERE status = 'pending' AND mail_status IN ('queued', 'sending')",
    # the sweep's query: unfinished rows by due time
    "CREATE INDEX side_mail_due ON side_mail (next_attempt_at)"
    " WHERE status IN ('queued', 'sending')",
)


class SideMailMigration(MigrationManager):
    """Piccolo creates tables before it drops columns and tables: the queued rows are copied
    in between, in the migration's transaction. Backwards, the old tables come back empty."""

    async def _run_add_tables(self, backwards: bool = False) -> None:
        await super()._run_add_tables(backwards=backwards)
        if not backwards and not self.preview:
            engine = engine_finder()
            for statement in _COPY:
                await engine.run_ddl(statement)


async def forwards():
    manager = SideMailMigration(migration_id=ID, app_name="events_svc", description=DESCRIPTION)

    manager.add_table(class_name="SideMail", tablename="side_mail", schema=None, columns=None)

    manager.drop_table(class_name="ConsoleMail", tablename="console_mail", schema=None)

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="id",
        db_column_name="id",
        column_class_name="UUID",
        column_class=UUID,
        params={
            "default": UUID4(),
            "null": False,
            "primary_key": True,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="kind",
        db_column_name="kind",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 30,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="about",
        db_column_name="about",
        column_class_name="UUID",
        column_class=UUID,
        params={
            "default": UUID4(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="nonce",
        db_column_name="nonce",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="status",
        db_column_name="status",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 10,
            "default": "queued",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="attempts",
        db_column_name="attempts",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="next_attempt_at",
        db_column_name="next_attempt_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="claimed_at",
        db_column_name="claimed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="last_error",
        db_column_name="last_error",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="sent_at",
        db_column_name="sent_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="created_at",
        db_column_name="created_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="SideMail",
        tablename="side_mail",
        column_name="expires_at",
        db_column_name="expires_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.drop_column(
        table_class_name="Registration",
        tablename="registration",
        column_name="mail_attempts",
        db_column_name="mail_attempts",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Registration",
        tablename="registration",
        column_name="mail_claimed_at",
        db_column_name="mail_claimed_at",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Registration",
        tablename="registration",
        column_name="mail_last_error",
        db_column_name="mail_last_error",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Registration",
        tablename="registration",
        column_name="mail_next_attempt_at",
        db_column_name="mail_next_attempt_at",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Registration",
        tablename="registration",
        column_name="mail_sent_at",
        db_column_name="mail_sent_at",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Registration",
        tablename="registration",
        column_name="mail_status",
        db_column_name="mail_status",
        schema=None,
    )

    return manager
