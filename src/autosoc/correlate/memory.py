"""Weak signals remembered per entity, so an incident that opens later can pull them in.

A signal below the opening bar that is in no incident is kept as a compact record (time, level,
detector, rule, tactics, techniques, entities, title) under ``s/<signal_id>``, and each of its
(non-hub) entities lists it with the risk it contributed to that entity under ``m/<entity>``
(the ``max_per_entity`` most recent).  When an incident takes a signal its record is dropped;
records and list entries older than the window are dropped by :meth:`SignalMemory.expire`.
"""

from __future__ import annotations

from typing import Any

from autosoc.correlate._state import KeyedState
from autosoc.correlate.risk import decayed


class SignalMemory:
    """Records of unassigned signals and, per entity key, ``[[signal_id, t_us, contribution], ...]``."""

    __slots__ = ("half_life", "lists", "max_per_entity", "records")

    def __init__(self, *, max_per_entity: int, half_life_us: int) -> None:
        self.max_per_entity = max_per_entity
        self.half_life = half_life_us
        self.records = KeyedState("s/")
        self.lists = KeyedState("m/")

    def __contains__(self, signal_id: str) -> bool:
        return signal_id in self.records

    def remember(self, signal_id: str, record: dict[str, Any], contributions: dict[str, float]) -> None:
        t = int(record["t"])
        self.records.put(signal_id, record)
        for key, amount in contributions.items():
            entries = self.lists.get(key) or []
            entries.append([signal_id, t, amount])
            if len(entries) > self.max_per_entity:
                entries.sort(key=lambda e: (e[1], e[0]))
                del entries[: len(entries) - self.max_per_entity]
            self.lists.put(key, entries)

    def recent(self, keys: list[str], t: int, window: int) -> dict[str, float]:
        """Remembered signals on ``keys`` within ``window`` of ``t``: signal id -> the largest risk it
        contributed to one of those keys, decayed to ``t``; ordered by (time, id)."""
        best: dict[str, float] = {}
        when: dict[str, int] = {}
        for key in keys:
            for signal_id, at, amount in self.lists.get(key) or ():
                if abs(t - at) > window or signal_id not in self.records:
                    continue
                value = decayed(amount, at, t, self.half_life)
                if value > best.get(signal_id, -1.0):
                    best[signal_id] = value
                    when[signal_id] = at
        return {sid: best[sid] for sid in sorted(best, key=lambda s: (when[s], s))}

    def record(self, signal_id: str) -> dict[str, Any]:
        return self.records.data[signal_id]

    def take(self, signal_id: str) -> dict[str, Any]:
        """The record of a signal an incident takes; it is forgotten here (list entries fade lazily)."""
        record = self.records.data[signal_id]
        self.records.delete(signal_id)
        return record

    def expire(self, cutoff: int) -> None:
        """Forget records and entries older than ``cutoff`` and entries whose record is gone."""
        for signal_id in [s for s, r in self.records.data.items() if r["t"] < cutoff]:
            self.records.delete(signal_id)
        for key in list(self.lists.data):
            entries = self.lists.data[key]
            kept = [e for e in entries if e[1] >= cutoff and e[0] in self.records]
            if len(kept) == len(entries):
                continue
            if kept:
                self.lists.put(key, kept)
            else:
                self.lists.delete(key)
