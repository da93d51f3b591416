"""Signal writers for ``hunt --format table|jsonl|csv`` and the closing summary."""

from __future__ import annotations

import csv
import heapq
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import IO, Protocol

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autosoc.detect.sigma.rules import RuleSet
from autosoc.detect.sigma.signals import SignalBatch
from autosoc.runtime.hunt import HuntStats
from autosoc.schema import LEVELS, Signal

_LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "informational": "dim"}
CSV_COLUMNS = ("time", "level", "rule_id", "title", "host", "user", "tags", "source", "path", "record", "event_id",
               "signal_id", "matched", "detector", "explanation")


class SignalWriter(Protocol):
    def write(self, signals: Sequence[Signal]) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def write(self, signals: Sequence[Signal]) -> None:
        if isinstance(signals, SignalBatch):  # written from the batch's columns, never built
            signals.write_jsonl(self.stream.write)
        else:
            self.stream.write(b"".join(orjson.dumps(s.as_dict()) + b"\n" for s in signals))
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class CsvWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.writer = csv.writer(stream)
        self.writer.writerow(CSV_COLUMNS)

    def write(self, signals: Sequence[Signal]) -> None:
        for s in signals:
            origin = s.origins[0] if s.origins else None
            self.writer.writerow([
                s.time.isoformat() if s.time else "", s.level, s.rule_id, s.title, s.host or "", s.user or "",
                " ".join(s.tags), origin.source if origin else "", origin.path if origin else "",
                origin.record if origin else "", " ".join(s.event_ids), s.signal_id,
                orjson.dumps(s.matched).decode(), s.detector, s.explanation,
            ])
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class TableWriter:
    """Prints one table at the end: the ``limit`` earliest signals (by time; those without a time
    last), of however many came; only those are kept."""

    def __init__(self, console: Console, limit: int = 500) -> None:
        self.console = console
        self.limit = limit
        self.signals: list[Signal] = []
        self.total = 0

    def write(self, signals: Sequence[Signal]) -> None:
        self.total += len(signals)
        # nsmallest is sorted(...)[:limit]: stable, so equal times keep their arrival order
        self.signals = heapq.nsmallest(self.limit, chain(self.signals, signals), key=_by_time)

    def close(self) -> None:
        if not self.signals:
            return
        table = Table(title="Detections", expand=False, show_lines=False)
        for name in ("time", "level", "rule", "host", "user", "origin (file:record)"):
            table.add_column(name, overflow="fold")
        for s in self.signals:
            origin = s.origins[0] if s.origins else None
            rule = escape(s.title)
            if s.detector != "sigma" and s.explanation:  # correlations say why: counts, window, group
                rule += f"\n[dim]{escape(s.explanation)}[/]"
            table.add_row(
                s.time.strftime("%Y-%m-%d %H:%M:%S") if s.time else "",
                f"[{_LEVEL_STYLE.get(s.level, '')}]{s.level}[/]",
                rule,
                s.host or "",
                s.user or "",
                f"{Path(origin.path).name}:{origin.record}" if origin else "",
            )
        self.console.print(table)
        if self.total > len(self.signals):
            self.console.print(f"... {self.total - len(self.signals)} more; use --format jsonl or csv with --output "
                               "for every detection.")


def _by_time(signal: Signal) -> tuple[bool, datetime | None]:
    return signal.time is None, signal.time


def summary(console: Console, stats: HuntStats, ruleset: RuleSet, show_skipped: bool) -> None:
    table = Table(title="Hunt summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("files read", f"{stats.files:,}")
    table.add_row("files skipped (unknown format)", f"{len(stats.files_skipped):,}")
    table.add_row("events", f"{stats.events:,}")
    table.add_row("events/s", f"{stats.events_per_second:,.0f}")
    table.add_row("rules loaded", f"{len(ruleset.rules):,}" + (" (cached)" if ruleset.from_cache else ""))
    table.add_row("rules skipped", f"{len(ruleset.skipped):,}")
    if ruleset.correlations:
        table.add_row("correlation rules loaded", f"{len(ruleset.correlations):,}")
    table.add_row("dead letters", f"{sum(stats.dead_letters.values()):,}")
    table.add_row("detections", f"{stats.signals:,}")
    for level in reversed(LEVELS):
        if stats.by_level.get(level):
            table.add_row(f"  {level}", f"{stats.by_level[level]:,}")
    if ruleset.correlations:
        table.add_row("  from correlation rules", f"{stats.correlation_signals:,}")
        for name, label in (("late", "late events (correlation)"), ("duplicate", "duplicate events (correlation)")):
            if stats.correlation.get(name):
                table.add_row(f"  {label}", f"{stats.correlation[name]:,}")
    console.print(table)
    if stats.by_rule:
        top = Table(title="Top rules")
        top.add_column("hits", justify="right")
        top.add_column("level")
        top.add_column("rule")
        for (_, title, level), count in stats.by_rule.most_common(10):
            top.add_row(f"{count:,}", level, title)
        console.print(top)
    if stats.tactics:
        console.print("ATT&CK tactics: " + ", ".join(f"{t} ({n})" for t, n in stats.tactics.most_common()))
    if stats.dead_letters:
        console.print("Dead letters by code: " + ", ".join(f"{c} ({n})" for c, n in stats.dead_letters.most_common()))
    if ruleset.skipped:
        by_code: dict[str, int] = {}
        for skipped in ruleset.skipped:
            by_code[skipped.code] = by_code.get(skipped.code, 0) + 1
        console.print("Rules skipped by reason: " + ", ".join(f"{c} ({n})" for c, n in sorted(by_code.items())))
        if show_skipped:
            for skipped in ruleset.skipped:
                console.print(f"  {skipped.path}: [{skipped.code}] {skipped.reason}",
                              markup=False, highlight=False, soft_wrap=True)
        else:
            console.print("  (list them with --show-skipped or `autosoc rules check`)")
