"""Alembic, configured in code: upgrade a state database to the head revision, or tell its revision.

No ``alembic.ini`` is needed: the script location is this package's ``migrations`` folder, and
the migrations run on a connection we open (one transaction; on PostgreSQL under an advisory
lock, so two processes starting at once do not both migrate).
"""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from autosoc.errors import StoreError
from autosoc.store.state.engine import WRITE

SCRIPT_LOCATION = "autosoc.store.state:migrations"
_PG_LOCK_KEY = 0x6175746F736F63  # "autosoc"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its revisions
        raise RuntimeError("no Alembic revisions in autosoc.store.state.migrations")
    return head


def known_revision(revision: str) -> bool:
    """Whether this autosoc ships ``revision`` (a database migrated by a newer autosoc has one it does not)."""
    script = ScriptDirectory.from_config(alembic_config())
    return any(item.revision == revision for item in script.walk_revisions())


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the head revision; returns (revision before, revision after)."""
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        before = current_revision(connection)
        if before is not None and not known_revision(before):
            raise StoreError(f"the state database is at schema revision {before}, which this autosoc does not "
                             "know: it was migrated by a newer autosoc; upgrade autosoc", code="schema_too_new")
        if before != head_revision():
            command.upgrade(alembic_config(connection), "head")
        return before, head_revision()
