"""Build normalized event batches for baseline tests straight from Polars, and run detectors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from autosoc.detect.baselines import BaselineDetector
from autosoc.normalize import fields as F
from autosoc.normalize.parser import empty_events
from autosoc.schema import EventBatch, Signal

#: a Monday
START = datetime(2025, 3, 3, tzinfo=UTC)


def at(day: float, hour: float = 0.0) -> datetime:
    return START + timedelta(days=day, hours=hour)


def event(time: datetime, class_uid: int, **columns: Any) -> dict[str, Any]:
    """One event row; ``columns`` by OCSF name via the F constants (pass a dict with ** for dotted names)."""
    return {F.TIME: time, F.CLASS_UID: class_uid, **{k: None if v is None else str(v) for k, v in columns.items()}}


def signin(time: datetime, user: str, status: str = "Success", **columns: Any) -> dict[str, Any]:
    return event(time, 3002, **{F.USER: user, F.STATUS: status, **columns})


def batch(rows: Sequence[dict[str, Any]], *, path: str = "test.jsonl") -> EventBatch:
    """An EventBatch with the full OCSF schema; ids are hashes of the row, origins its position."""
    base = empty_events()
    filled = []
    for index, row in enumerate(rows):
        text = repr(sorted((k, str(v)) for k, v in row.items()))
        full = dict.fromkeys(base.columns)
        full.update(row)
        full[F.EVENT_ID] = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        full[F.ORIGIN_SOURCE], full[F.ORIGIN_PATH], full[F.ORIGIN_RECORD] = "jsonl", path, index + 1
        full[F.FAMILY] = "json"
        filled.append(full)
    events = pl.DataFrame(filled, schema=base.schema) if filled else base
    return EventBatch(events=events, raw=pl.DataFrame({"_": [None] * events.height}, schema={"_": pl.String}))


def by_day(rows: Iterable[dict[str, Any]]) -> list[EventBatch]:
    """One batch per day of event time (in time order)."""
    days: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        days.setdefault((row[F.TIME] - START).days, []).append(row)
    return [batch(days[d], path=f"day{d}.jsonl") for d in sorted(days)]


def run(detector: BaselineDetector, batches: Iterable[EventBatch]) -> list[Signal]:
    out: list[Signal] = []
    for b in batches:
        out.extend(detector.process(b))
    out.extend(detector.flush())
    return out


def run_with_checkpoints(factory: Callable[[], BaselineDetector], batches: Sequence[EventBatch],
                         crash_after: int) -> list[Signal]:
    """Checkpoint with dirty snapshots after every batch (as the runtime does), crash after
    ``crash_after`` batches, restore a fresh detector from the checkpoint store and go on."""
    store: dict[str, bytes] = {}
    detector = factory()
    out: list[Signal] = []
    for index, b in enumerate(batches):
        if index == crash_after:
            detector = factory()
            detector.restore(dict(store))
        out.extend(detector.process(b))
        for key, value in detector.snapshot(dirty_only=True).items():
            if value:
                store[key] = value
            else:
                store.pop(key, None)
        detector.mark_clean()
    out.extend(detector.flush())
    assert store == detector.snapshot(), "dirty snapshots applied in turn must equal the full snapshot"
    return out


def dicts(signals: Iterable[Signal]) -> list[dict[str, Any]]:
    return [s.as_dict() for s in signals]
