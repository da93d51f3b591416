"""Keyed plain-data state with dirty tracking, and event-time helpers shared by the correlate modules.

Each part of the correlate state (entity risk, links, remembered signals, incidents) is a
:class:`KeyedState`: a dict of plain JSON values (lists, dicts with string keys, numbers, strings)
under one key prefix.  Snapshots serialize each value with orjson; a dirty snapshot holds the keys
changed since :meth:`KeyedState.mark_clean` and the deleted ones as ``b""``.  Times are integer
microseconds since the epoch (exact through JSON, unlike float seconds).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from autosoc.errors import StoreError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC (how the readers produce it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def span_us(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


class KeyedState:
    """Values by key under ``prefix``, with the changed and deleted keys since the last checkpoint."""

    __slots__ = ("_deleted", "_dirty", "data", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.data: dict[str, Any] = {}
        self._dirty: dict[str, None] = {}
        self._deleted: dict[str, None] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.touch(key)

    def touch(self, key: str) -> None:
        """Mark ``key`` changed (after mutating its value in place)."""
        self._dirty[key] = None
        self._deleted.pop(key, None)

    def delete(self, key: str) -> None:
        if key in self.data:
            del self.data[key]
            self._dirty.pop(key, None)
            self._deleted[key] = None

    def snapshot(self, out: dict[str, bytes], *, dirty_only: bool) -> None:
        keys = self._dirty if dirty_only else self.data
        for key in keys:
            out[self.prefix + key] = orjson.dumps(self.data[key])
        if dirty_only:
            for key in self._deleted:
                out[self.prefix + key] = b""

    def restore(self, state: dict[str, bytes]) -> None:
        """Load this prefix's keys of a full snapshot (in key order, so the result is deterministic)."""
        self.data = {}
        for full in sorted(k for k in state if k.startswith(self.prefix)):
            if not state[full]:
                continue
            try:
                self.data[full[len(self.prefix):]] = orjson.loads(state[full])
            except orjson.JSONDecodeError as exc:
                raise StoreError(f"correlate state {full!r} is not valid JSON: {exc}", code="bad_state") from exc
        self.mark_clean()

    def mark_clean(self) -> None:
        self._dirty.clear()
        self._deleted.clear()

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data
