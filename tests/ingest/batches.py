"""Shared by the reader tests: flatten a reader's batches into records, positions, dead letters."""

from __future__ import annotations

from typing import Any

from autosoc.schema import DeadLetter, RawBatch


def collect(batches: list[RawBatch]) -> tuple[list[dict[str, Any]], list[int], list[DeadLetter]]:
    return (
        [r for b in batches for r in b.records],
        [p for b in batches for p in b.positions],
        [d for b in batches for d in b.dead_letters],
    )
