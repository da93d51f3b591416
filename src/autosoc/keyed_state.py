"""Keyed plain-data state with dirty tracking: what every stateful component checkpoints.

A :class:`KeyedState` is a dict of plain JSON values (lists, dicts with string keys, numbers,
strings) under one key prefix.  Snapshots serialize each value with orjson; a dirty snapshot holds
the keys changed since :meth:`KeyedState.mark_clean` and the deleted ones as ``b""`` (the contract
of the stateful components: the runtime writes them to the state store at each checkpoint).
"""

from __future__ import annotations

from typing import Any

import orjson

from autosoc.errors import StoreError


class KeyedState:
    """Values by key under ``prefix``, with the changed and deleted keys since the last checkpoint.

    ``label`` names the component in errors about unreadable state.
    """

    __slots__ = ("_deleted", "_dirty", "data", "label", "prefix")

    def __init__(self, prefix: str = "", *, label: str = "correlate") -> None:
        self.prefix = prefix
        self.label = label
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

    def snapshot_into(self, out: dict[str, bytes], *, dirty_only: bool) -> None:
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
                value = orjson.loads(state[full])
            except orjson.JSONDecodeError as exc:
                raise StoreError(f"{self.label} state {full!r} is not valid JSON: {exc}", code="bad_state") from exc
            self.check(full, value)
            self.data[full[len(self.prefix):]] = value
        self.mark_clean()

    def check(self, key: str, value: Any) -> None:
        """Raise :class:`StoreError` (``bad_state``) for a restored value of the wrong shape."""

    def mark_clean(self) -> None:
        self._dirty.clear()
        self._deleted.clear()

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data
