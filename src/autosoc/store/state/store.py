"""The state store: everything the pipeline must remember across restarts, in SQLite or PostgreSQL.

``StateStore(url)`` connects lazily.  The schema is managed by Alembic: :meth:`StateStore.migrate`
brings the database to the current revision (``StateStore.open(url)`` is the constructor that
does it, which is what the runtime uses); every other operation first checks, once per store,
that the database is at that revision and otherwise raises a :class:`StoreError` saying to
migrate (code ``not_migrated``) — reads never silently create or alter tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from autosoc.errors import StoreError
from autosoc.schema import Incident
from autosoc.store.state import migrate as migrations
from autosoc.store.state.base import utc
from autosoc.store.state.dead_letters import DeadLetterRow
from autosoc.store.state.engine import WRITE, describe, make_engine, parse_url, redact, translate
from autosoc.store.state.incidents import IncidentRow, incident_from_row
from autosoc.store.state.runtime import CheckpointRow, ComponentStateRow, CursorRow, MetaRow
from autosoc.store.state.signals import SignalRow
from autosoc.store.state.transaction import StateTransaction, UpsertCache

_SIGNALS: Table = SignalRow.__table__  # type: ignore[assignment]
_DEAD: Table = DeadLetterRow.__table__  # type: ignore[assignment]


class StateStore:
    """Cursors, component snapshots, signals, incidents, dead letters and checkpoints."""

    def __init__(self, url: str) -> None:
        self._url = parse_url(url)
        self._engine = make_engine(self._url)
        self._schema_ok = False
        self._statements: UpsertCache = {}  # compiled upserts, reused by every transaction

    @classmethod
    def open(cls, url: str) -> StateStore:
        """A store whose database has been migrated to the current schema."""
        store = cls(url)
        store.migrate()
        return store

    @property
    def url(self) -> str:
        """The database URL with the password hidden (safe to print and log)."""
        return redact(self._url)

    def __repr__(self) -> str:
        return f"StateStore({self.url!r})"

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> str:
        """Run every pending migration (``alembic upgrade head``); returns the revision now in place."""
        with self._errors("migrating"):
            _, after = migrations.upgrade(self._engine)
        self._schema_ok = True
        return after

    def revision(self) -> str | None:
        """The database's schema revision (None before the first migration)."""
        with self._errors("reading the schema revision"), self._engine.connect() as connection:
            return migrations.current_revision(connection)

    def _check_schema(self) -> None:
        if self._schema_ok:
            return
        current = self.revision()
        head = migrations.head_revision()
        if current != head:
            where = describe(self._url)
            if current is not None and not migrations.known_revision(current):
                raise StoreError(f"{where} is at schema revision {current}, which this autosoc does not know: "
                                 "it was migrated by a newer autosoc; upgrade autosoc", code="schema_too_new")
            state = "has no autosoc schema" if current is None else f"is at schema revision {current}"
            raise StoreError(f"{where} {state}, this autosoc needs revision {head}: run the migrations "
                             "(StateStore.migrate(), or open it with StateStore.open(url))", code="not_migrated")
        self._schema_ok = True

    # -- writes ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[StateTransaction]:
        """One atomic checkpoint: commits when the block ends, rolls everything back if it raises."""
        self._check_schema()
        with self._errors("committing a checkpoint"), \
                self._engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
            yield StateTransaction(connection, datetime.now(UTC), statements=self._statements)

    # -- reads ----------------------------------------------------------------------------

    def cursors(self, source: str) -> dict[str, dict[str, Any]]:
        with self._read("reading cursors") as connection:
            rows = connection.execute(select(CursorRow.key, CursorRow.cursor).where(CursorRow.source == source)
                                      .order_by(CursorRow.key))
            return {key: cursor for key, cursor in rows}

    def component_state(self, component: str) -> dict[str, bytes]:
        """Every stored key of ``component``'s state: what its ``restore()`` takes."""
        with self._read("reading component state") as connection:
            rows = connection.execute(select(ComponentStateRow.key, ComponentStateRow.value)
                                      .where(ComponentStateRow.component == component)
                                      .order_by(ComponentStateRow.key))
            return {key: bytes(value) for key, value in rows}

    def incidents(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Incident]:
        """Incidents, most recently active first."""
        _check_page(limit, offset)
        query = select(IncidentRow).order_by(IncidentRow.last_seen.desc(), IncidentRow.incident_id)
        if status is not None:
            query = query.where(IncidentRow.status == status)
        with self._read("reading incidents") as connection, Session(connection) as session:
            return [incident_from_row(row) for row in session.scalars(query.limit(limit).offset(offset))]

    def incident(self, incident_id: str) -> Incident | None:
        with self._read("reading an incident") as connection, Session(connection) as session:
            row = session.get(IncidentRow, incident_id)
            return None if row is None else incident_from_row(row)

    def signals(self, incident_id: str | None = None, limit: int = 1000, since: datetime | None = None,
                offset: int = 0) -> list[dict[str, Any]]:
        """Stored signals as dicts (the columns of the ``signals`` table), oldest first."""
        _check_page(limit, offset)
        query = select(_SIGNALS).order_by(_SIGNALS.c.time.asc().nulls_last(), _SIGNALS.c.signal_id)
        if incident_id is not None:
            query = query.where(_SIGNALS.c.incident_id == incident_id)
        if since is not None:
            query = query.where(_SIGNALS.c.time >= utc(since))
        with self._read("reading signals") as connection:
            return [dict(row) for row in connection.execute(query.limit(limit).offset(offset)).mappings()]

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Stored dead letters, oldest first."""
        _check_page(limit, offset)
        with self._read("reading dead letters") as connection:
            query = select(_DEAD).order_by(_DEAD.c.id).limit(limit).offset(offset)
            return [dict(row) for row in connection.execute(query).mappings()]

    def last_checkpoint(self) -> int:
        """The sequence number of the last committed checkpoint (0 if none)."""
        with self._read("reading the last checkpoint") as connection:
            return connection.scalar(select(func.max(CheckpointRow.seq))) or 0

    def meta(self, key: str) -> str | None:
        with self._read("reading metadata") as connection:
            return connection.scalar(select(MetaRow.value).where(MetaRow.key == key))

    def counts(self) -> dict[str, int]:
        """Row counts for metrics: each table, incidents by status, and the last checkpoint."""
        with self._read("counting rows") as connection:
            out: dict[str, int] = {}
            for name, model in (("cursors", CursorRow), ("component_state", ComponentStateRow),
                                ("signals", SignalRow), ("incidents", IncidentRow),
                                ("dead_letters", DeadLetterRow), ("checkpoints", CheckpointRow)):
                out[name] = connection.scalar(select(func.count()).select_from(model)) or 0
            by_status = connection.execute(select(IncidentRow.status, func.count()).group_by(IncidentRow.status))
            for status, count in sorted(by_status):
                out[f"incidents_{status}"] = count
            out["last_checkpoint"] = connection.scalar(select(func.max(CheckpointRow.seq))) or 0
            return out

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        self._check_schema()
        with self._errors(action), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise translate(exc, self._url, action) from exc

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise StoreError(f"limit and offset must not be negative (got limit={limit}, offset={offset})",
                         code="bad_request")
