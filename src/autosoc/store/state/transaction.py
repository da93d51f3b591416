"""One atomic write of a pipeline checkpoint: cursors, component state, signals, incidents, dead letters.

Every write is a bulk ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL dialects), so
writing the same checkpoint twice leaves the same rows: signals are keyed by ``signal_id``,
incidents by ``incident_id``, cursors by (source, key), component state by (component, key).
Rows are de-duplicated (the last one wins) and sorted by key before they are sent: one
statement never touches a row twice, and two writers lock rows in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from autosoc.errors import StoreError
from autosoc.schema import DeadLetter, Incident, Signal
from autosoc.store.state.dead_letters import DeadLetterRow, dead_letter_row
from autosoc.store.state.incidents import IncidentRow, incident_row
from autosoc.store.state.runtime import CheckpointRow, ComponentStateRow, CursorRow, MetaRow
from autosoc.store.state.signals import SignalRow, signal_row

_CURSORS: Table = CursorRow.__table__  # type: ignore[assignment]
_STATE: Table = ComponentStateRow.__table__  # type: ignore[assignment]
_SIGNALS: Table = SignalRow.__table__  # type: ignore[assignment]
_INCIDENTS: Table = IncidentRow.__table__  # type: ignore[assignment]
_DEAD: Table = DeadLetterRow.__table__  # type: ignore[assignment]
_CHECKPOINTS: Table = CheckpointRow.__table__  # type: ignore[assignment]
_META: Table = MetaRow.__table__  # type: ignore[assignment]
#: rows per DELETE ... WHERE key IN (...) statement (SQLite limits bound parameters)
_DELETE_CHUNK = 400


class StateTransaction:
    """Handed out by :meth:`StateStore.transaction`; everything commits together or not at all."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        self._connection = connection
        self._now = now  # wall clock, for the updated_at/created_at columns only
        self._insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert

    def put_cursors(self, source: str, cursors: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Set the cursor of each key of ``source``; a ``None`` cursor deletes the key."""
        gone = [key for key, cursor in cursors.items() if cursor is None]
        rows = [{"source": source, "key": key, "cursor": dict(cursor), "updated_at": self._now}
                for key, cursor in cursors.items() if cursor is not None]
        self._delete(_CURSORS, "source", source, gone)
        self._upsert(_CURSORS, rows, ("source", "key"))

    def put_component_state(self, component: str, state: Mapping[str, bytes]) -> None:
        """Apply a (dirty) snapshot of ``component``: each key's bytes replace the stored ones;
        ``b""`` deletes the key (see the stateful-component contract)."""
        gone = [key for key, value in state.items() if not value]
        rows = [{"component": component, "key": key, "value": bytes(value), "updated_at": self._now}
                for key, value in state.items() if value]
        self._delete(_STATE, "component", component, gone)
        self._upsert(_STATE, rows, ("component", "key"))

    def upsert_signals(self, signals: Sequence[Signal], incident_of: Mapping[str, str] | None = None) -> None:
        """Insert or replace ``signals`` by ``signal_id``.

        ``incident_of`` maps signal ids to the incident they belong to.  A signal not in it keeps
        the incident it already had; an id in it that is not among ``signals`` links an already
        stored signal to its incident (an incident that opens late takes in earlier signals).
        """
        incident_of = incident_of or {}
        rows = [signal_row(signal) for signal in signals]
        for row in rows:
            row["incident_id"] = incident_of.get(row["signal_id"])
        self._upsert(_SIGNALS, rows, ("signal_id",), coalesce=("incident_id",))
        written = {row["signal_id"] for row in rows}
        links = [{"b_signal_id": signal_id, "b_incident_id": incident_id}
                 for signal_id, incident_id in sorted(incident_of.items()) if signal_id not in written]
        if links:
            statement = (update(_SIGNALS).where(_SIGNALS.c.signal_id == bindparam("b_signal_id"))
                         .values(incident_id=bindparam("b_incident_id")))
            self._connection.execute(statement, links)

    def upsert_incidents(self, incidents: Sequence[Incident]) -> None:
        """Insert or replace ``incidents`` by ``incident_id`` (``created_at`` is kept from the first write)."""
        self._upsert(_INCIDENTS, [incident_row(incident, self._now) for incident in incidents], ("incident_id",),
                     keep=("created_at",))

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self._connection.execute(_DEAD.insert(), [dead_letter_row(letter, self._now) for letter in letters])

    def set_meta(self, key: str, value: str) -> None:
        self._upsert(_META, [{"key": key, "value": value}], ("key",))

    def add_checkpoint(self, *, events: int, signals: int, seq: int | None = None) -> int:
        """Record this checkpoint and return its sequence number.

        Without ``seq`` it is the last committed one plus one (what the pipeline predicts with
        ``store.last_checkpoint() + 1`` when it names the lake files of this checkpoint); with
        ``seq`` that number is used and must be after the last committed one.
        """
        last = self._connection.scalar(select(func.max(_CHECKPOINTS.c.seq))) or 0
        if seq is None:
            seq = last + 1
        elif seq <= last:
            raise StoreError(f"checkpoint {seq} is not after the last committed checkpoint {last}: "
                             "another writer is using this state database", code="checkpoint_conflict")
        self._connection.execute(_CHECKPOINTS.insert(), {"seq": seq, "committed_at": self._now,
                                                         "events": int(events), "signals": int(signals)})
        return seq

    def _upsert(self, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...], *,
                coalesce: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> None:
        if not rows:
            return
        unique = {tuple(row[key] for key in keys): row for row in rows}
        statement = self._insert(table)
        excluded = statement.excluded
        values: dict[str, Any] = {column.name: excluded[column.name] for column in table.columns
                                  if column.name not in keys and column.name not in keep}
        for name in coalesce:
            values[name] = func.coalesce(excluded[name], table.c[name])
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=values)
        self._connection.execute(statement, [unique[key] for key in sorted(unique)])

    def _delete(self, table: Table, owner_column: str, owner: str, keys: list[str]) -> None:
        keys = sorted(set(keys))
        for start in range(0, len(keys), _DELETE_CHUNK):
            chunk = keys[start:start + _DELETE_CHUNK]
            self._connection.execute(delete(table).where(table.c[owner_column] == owner, table.c.key.in_(chunk)))
