"""``hunt``: files -> readers -> normalize -> Sigma -> correlations -> signals, once over a fixed set of files.

The one place that wires ingest, normalize and detect together for a batch run; the CLI adds
the progress bar and the output formats.  Sigma correlation rules see every batch after the
single-event rules; by default nothing is late (files are read one after the other, so their
events interleave arbitrarily in time) and every correlation window is decided when the last
file is read.  ``lateness`` bounds that: hits older than the newest event time seen minus the
lateness are counted as late and ignored, and windows are decided as event time passes them.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import polars as pl

from autosoc.detect.correlation import SigmaCorrelationDetector
from autosoc.detect.correlation.signals import DETECTOR as CORRELATION_DETECTOR
from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.loader import load_rules
from autosoc.detect.sigma.rules import RuleSet
from autosoc.detect.sigma.signals import CountKey, SignalBatch, count_key
from autosoc.ingest.files import discover, read_files
from autosoc.normalize import normalize
from autosoc.normalize.deadletter import DeadLetterStore
from autosoc.schema import LEVEL_RANK, EventBatch, RawBatch, Signal
from autosoc.schema.signal import attack_tactics

#: records per batch of a hunt, twice the readers' default (``ingest.DEFAULT_BATCH_SIZE``, which the
#: continuous pipeline's steps use): a batch has a fixed cost (the engine's few hundred Polars
#: queries and their Python, ~80M instructions), paid half as often.  On the benchmark's million
#: Sysmon events, one core, four runs of each: 8.1 CPU µs an event against 9.0 with 20,000 (30,000:
#: 8.2), the same signals; see README, Performance.
HUNT_BATCH_SIZE = 40_000


@dataclass(slots=True)
class HuntStats:
    files: int = 0
    files_skipped: list[tuple[Path, str]] = field(default_factory=list)
    events: int = 0
    bytes_total: int = 0
    signals: int = 0
    by_level: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    tactics: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    correlation_signals: int = 0
    #: the correlation engine's counters: late, duplicate, no_time, missing_group_by, windows, signals
    correlation: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class HuntOptions:
    rules: Sequence[str | Path]
    input_format: str | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    min_level: str = "informational"
    batch_size: int = HUNT_BATCH_SIZE
    placeholders: Mapping[str, Sequence[str]] | None = None
    use_cache: bool = True
    dead_letters: Path | None = None
    #: correlation lateness; None: nothing is late, windows are decided at the end of the run
    lateness: timedelta | None = None


def load(options: HuntOptions) -> tuple[RuleSet, SigmaCorrelationDetector]:
    ruleset = load_rules(options.rules, placeholders=options.placeholders, use_cache=options.use_cache)
    return ruleset, SigmaCorrelationDetector(ruleset.rules, ruleset.correlations, lateness=options.lateness)


def hunt(
    paths: Sequence[str | Path],
    options: HuntOptions,
    on_signals: Callable[[Sequence[Signal]], None],
    *,
    engine: SigmaCorrelationDetector | SigmaEngine | None = None,
    on_batch: Callable[[RawBatch], None] | None = None,
) -> HuntStats:
    stats = HuntStats()
    started = time.perf_counter()
    if engine is None:
        _, engine = load(options)
    stats.load_seconds = time.perf_counter() - started
    files = discover(paths, include=options.include, exclude=options.exclude)
    stats.bytes_total = sum(f.stat().st_size for f in files)
    floor = LEVEL_RANK.get(options.min_level, 0)
    seen_files: set[str] = set()
    run_started = time.perf_counter()
    pending: list[EventBatch] = []

    def emit(signals: Sequence[Signal]) -> None:
        if isinstance(signals, SignalBatch):  # counted and filtered without building the signals
            signals = signals.at_least(options.min_level)
            counts = signals.counts()
        else:
            signals = [s for s in signals if LEVEL_RANK.get(s.level, 0) >= floor]
            counts = Counter(map(count_key, signals))
        if signals:
            _count(stats, counts)
            on_signals(signals)

    def flush() -> None:
        # small files are detected together: per-batch costs (selectors, automata) are paid once
        if not pending:
            return
        batch = pending[0] if len(pending) == 1 else EventBatch(
            pl.concat([b.events for b in pending]), pl.concat([b.raw for b in pending], how="diagonal"))
        pending.clear()
        emit(engine.detect_batch(batch))

    # a batch holds tens of thousands of live dicts; the cyclic GC would rescan them on every
    # allocation burst (measured: about half the reader's time) while they only die by refcount
    gc_was_enabled = gc.isenabled()
    gc.disable()
    with DeadLetterStore(options.dead_letters) as dead:
        for raw_batch in read_files(files, fmt=options.input_format, batch_size=options.batch_size,
                                    skipped=stats.files_skipped, columnar=True):
            seen_files.add(raw_batch.path)
            stats.events += len(raw_batch)
            pending.extend(_normalized(raw_batch, dead))
            if sum(len(b) for b in pending) >= options.batch_size:
                flush()
            if on_batch is not None:
                on_batch(raw_batch)
            # dropped before the next batch is read, so that it reuses this one's memory (fresh
            # pages cost a page fault each and the kernel's zeroing)
            del raw_batch
        flush()
        if isinstance(engine, SigmaCorrelationDetector):
            emit(engine.flush())  # end of input: every open correlation window is decided
            stats.correlation = dict(engine.correlation.stats)
        stats.dead_letters = dead.counts
    if gc_was_enabled:
        gc.enable()
    stats.files = len(seen_files)
    stats.seconds = time.perf_counter() - run_started
    return stats


def _normalized(raw_batch: RawBatch, dead: DeadLetterStore) -> list[EventBatch]:
    """``raw_batch`` normalized, its dead letters written; the batches that hold events."""
    out = []
    for batch in normalize(raw_batch):
        dead.write(batch.dead_letters)
        if len(batch):
            out.append(batch)
    return out


def _count(stats: HuntStats, per_rule: Counter[CountKey]) -> None:
    """Add a batch's signals, counted per rule (a batch holds thousands of a few hundred rules)."""
    for (rule_id, title, level, detector, tags), n in per_rule.items():
        stats.signals += n
        if detector == CORRELATION_DETECTOR:
            stats.correlation_signals += n
        stats.by_level[level] += n
        stats.by_rule[(rule_id, title, level)] += n
        for tactic in attack_tactics(tags):
            stats.tactics[tactic] += n
