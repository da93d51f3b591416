"""The table writer keeps only what it prints: the earliest signals, however many come."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from autosoc.cli.output import TableWriter
from autosoc.schema import Signal


def _signal(title: str, hour: int | None) -> Signal:
    return Signal("r", title, "high", "test", [], ["e"], [],
                  time=datetime(2025, 1, 1, hour, tzinfo=UTC) if hour is not None else None)


def test_the_table_shows_the_earliest_signals_and_counts_the_rest() -> None:
    out = io.StringIO()
    writer = TableWriter(Console(file=out, width=200), limit=3)
    writer.write([_signal("late", 9), _signal("untimed", None), _signal("first-a", 1)])
    writer.write([_signal("first-b", 1), _signal("second", 2), _signal("later", 8)])
    writer.write([_signal("earliest", 0)])
    assert [s.title for s in writer.signals] == ["earliest", "first-a", "first-b"]
    writer.close()
    text = out.getvalue()
    assert "earliest" in text and "first-b" in text and "second" not in text and "untimed" not in text
    assert "... 4 more; use --format jsonl or csv" in text
