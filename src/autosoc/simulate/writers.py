"""Writing the telemetry files: JSON lines and CloudTrail ``{"Records": [...]}`` gzip files.

A file is written whole once its records are known (one host-day, one hour of one account's
trail), sorted by time; the writer reports where each tagged record landed, numbered the way
the readers number them (1-based line, or 1-based index in ``Records``).  Output bytes depend
only on the records: gzip headers carry no name and a zero mtime.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: (time, tie-break, record, tag) -- tag is None for benign records, else (story id, step)
Item = tuple[int, int, dict[str, Any], tuple[str, str] | None]
Finalize = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class Placed:
    """Where one story record was written."""

    path: str  # relative to the output directory, with forward slashes
    record: int
    us: int
    story: str
    step: str


@dataclass(slots=True)
class Output:
    root: Path
    placed: list[Placed] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0

    def _count(self, source: str, n: int) -> None:
        self.counts[source] = self.counts.get(source, 0) + n
        self.files += 1

    def write_jsonl(self, rel: str, source: str, items: list[Item], finalize: Finalize | None = None) -> None:
        if not items:
            return
        items.sort(key=lambda it: (it[0], it[1]))
        lines = []
        for n, (us, _, rec, tag) in enumerate(items, 1):
            if finalize is not None:
                finalize(rec)
            lines.append(orjson.dumps(rec))
            if tag is not None:
                self.placed.append(Placed(rel, n, us, tag[0], tag[1]))
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(lines) + b"\n")
        self._count(source, len(items))

    def write_cloudtrail(self, rel: str, items: list[Item]) -> None:
        if not items:
            return
        items.sort(key=lambda it: (it[0], it[1]))
        parts = []
        for n, (us, _, rec, tag) in enumerate(items, 1):
            parts.append(orjson.dumps(rec))
            if tag is not None:
                self.placed.append(Placed(rel, n, us, tag[0], tag[1]))
        data = b'{"Records":[' + b",".join(parts) + b"]}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
        self._count("cloudtrail", len(items))


class RecordNumbers:
    """``EventRecordID`` per (host, channel), increasing in time order across the scenario."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.next: dict[tuple[str, str], int] = {}

    def finalizer(self, host: str) -> Finalize:
        def finalize(rec: dict[str, Any]) -> None:
            system = rec["Event"]["System"]
            key = (host, system["Channel"])
            value = self.next.get(key)
            if value is None:
                value = random.Random(f"{self.seed}/recid/{host}/{key[1]}").randrange(1_000, 900_000)
            system["EventRecordID"] = value
            self.next[key] = value + 1

        return finalize
