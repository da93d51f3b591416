"""``autosoc run``: sources -> normalize -> enrich -> detect -> correlate, continuously, exactly once.

The one place that builds the running pipeline from :class:`~autosoc.settings.Settings`.

Exactly-once, across crashes: nothing is committed between checkpoints.  A checkpoint writes the
lake files of its events under its sequence number (encoded by a background thread as the batches
arrive, so the checkpoint mostly only closes and renames them), then commits in ONE state-store transaction
the file cursors, every stateful component's changed state (correlation windows, baselines,
entity risk and incidents), the signals, incidents and dead letters, and the checkpoint row.  On
start the pipeline drops lake files of checkpoints that never committed, restores every component
from the store and continues from the saved cursors.  Since batching restarts at a checkpoint
boundary and every component is deterministic, a killed and restarted run ends with the same
signals and incidents as an uninterrupted one.

Records are normalized and detected in groups of at least ``batch_size`` (many small files
together: per-frame costs are paid once), sorted by event time within the group, so that live
sources interleave sensibly.  Reading, normalizing and enriching (:mod:`.front`) keep no state but
the cursors; with ``pipeline.front_process`` they run in a process of their own, one poll ahead
of detection, on another core.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from autosoc.correlate import IncidentEngine, Prevalence
from autosoc.detect.baselines import build_baselines
from autosoc.detect.correlation.detector import SigmaCorrelationDetector
from autosoc.detect.sigma.loader import load_rules
from autosoc.errors import ConfigError
from autosoc.ingest.tail import FileCursor
from autosoc.runtime.front import Front, FrontProcess, Group
from autosoc.schema import LEVEL_RANK, DeadLetter, Incident, Signal
from autosoc.settings import Settings
from autosoc.store.lake import EventLake, LakeStage
from autosoc.store.state import StateStore

logger = logging.getLogger(__name__)

SOURCE_KEY = "tail"


class Stateful(Protocol):
    name: str

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]: ...
    def restore(self, state: dict[str, bytes]) -> None: ...
    def mark_clean(self) -> None: ...


@dataclass(slots=True)
class RunStats:
    events: int = 0
    signals: int = 0
    steps: int = 0
    checkpoints: int = 0
    incidents_changed: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    signals_by_detector: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # busy seconds of this process
    waiting: float = 0.0  # seconds this process waited for the front process
    #: busy seconds per phase (poll, normalize, enrich, sigma, baselines, correlate, checkpoint; the first
    #: three are the front process's own when it runs apart)
    phases: Counter[str] = field(default_factory=Counter)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] += time.perf_counter() - started

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class _Pending:
    """What the next checkpoint commits."""

    cursors: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # None: the file is gone
    signals: list[Signal] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    events: int = 0

    def empty(self) -> bool:
        return not (self.cursors or self.signals or self.incidents or self.dead or self.events)


class Pipeline:
    """The running pipeline; ``run()`` loops, ``step()`` does one poll (tests and benchmarks use it)."""

    def __init__(self, settings: Settings, *,
                 on_checkpoint: Callable[[int, list[Incident], list[Signal]], None] | None = None) -> None:
        if not settings.sources:
            raise ConfigError("no sources configured: add `sources: [{paths: [...]}]` to the config file "
                              "or pass --source PATH", code="no_sources")
        if not settings.rules:
            raise ConfigError("no Sigma rules configured: add `rules: [DIR]` or pass --rules DIR", code="no_rules")
        self.settings = settings
        self.on_checkpoint = on_checkpoint
        self.stats = RunStats()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(settings.state_database)
        self.lake = EventLake(settings.lake_dir, settings.lake.retention_days) if settings.lake.enabled else None
        self.ruleset = load_rules(settings.rules, placeholders=settings.placeholders or None)
        self.sigma = SigmaCorrelationDetector(self.ruleset.rules, self.ruleset.correlations,
                                              lateness=timedelta(seconds=settings.pipeline.lateness_seconds))
        self.correlation = self.sigma.correlation
        self.baselines = build_baselines(settings.baselines)
        self.prevalence = Prevalence(settings.correlate.prevalence)
        self.incidents = IncidentEngine(settings.correlate)
        self.floor = LEVEL_RANK.get(settings.pipeline.min_level, 0)
        self._pending = _Pending()
        self._last_commit = time.monotonic()
        self._front: Front | FrontProcess | None = None  # built by open(), from the committed cursors
        self._seq = 0
        self._lake_stage: LakeStage | None = None  # the lake files of the next checkpoint, being written

    @property
    def stateful(self) -> list[Stateful]:
        return [self.correlation, *self.baselines, self.prevalence, self.incidents]

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Migrate the state DB, drop uncommitted lake files, restore every component and cursor."""
        self.store.migrate()
        self._seq = self.store.last_checkpoint()
        self._abort_lake_stage()
        if self.lake is not None:
            dropped = self.lake.discard_after(self._seq)
            if dropped:
                logger.warning("Dropped lake files of an uncommitted checkpoint.", extra={"files": dropped})
            if self.settings.lake.retention_days:
                self.lake.prune(datetime.now(UTC))
        for component in self.stateful:
            component.restore(self.store.component_state(component.name))
        cursors = {key: FileCursor.from_dict(value) for key, value in self.store.cursors(SOURCE_KEY).items()}
        if self._front is not None:
            self._close_front()
        self._front = (FrontProcess(self.settings, cursors) if self.settings.pipeline.front_process
                       else Front(self.settings, cursors=cursors))

    def close(self) -> None:
        self._close_front()
        self._abort_lake_stage()
        if self.lake is not None:
            self.lake.close()
        self.store.close()

    def _abort_lake_stage(self) -> None:
        stage, self._lake_stage = self._lake_stage, None
        if stage is not None:
            stage.abort()  # what was staged is read again from the committed cursors

    def _close_front(self) -> None:
        front, self._front = self._front, None
        if isinstance(front, FrontProcess):
            front.close()

    @property
    def waits_for_input(self) -> bool:
        """Whether :meth:`step` itself waits (up to ``poll_seconds``) for new input when there is none."""
        return isinstance(self._front, FrontProcess)

    def pause(self) -> None:
        """Between steps that read nothing: sleep ``poll_seconds``, unless the step already waited."""
        if not self.waits_for_input:
            time.sleep(self.settings.pipeline.poll_seconds)

    # -- the loop --------------------------------------------------------------------------------

    def step(self, *, final: bool = False) -> int:
        """Read what is new in every source once and process it; returns records read."""
        # a group holds tens of thousands of live dicts that die by refcount; the cyclic GC would
        # rescan them (and the components' state) on every allocation burst
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._step(final)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _step(self, final: bool) -> int:
        started = time.perf_counter()
        self.stats.steps += 1
        read = 0
        front = self._front
        if front is None:
            raise RuntimeError("the pipeline is not open: call open() first")
        if isinstance(front, Front):
            for group in front.poll(final=final):
                read += self._take_group(group)
        else:
            # the poll the last step asked for (or one asked for now); the next poll starts before
            # this one's detection, so the front reads while this process detects
            patience = self.settings.pipeline.poll_seconds
            waited = time.perf_counter()
            if not front.outstanding and not final:
                front.request(patience=patience)
            groups = list(front.receive())
            if final:
                front.request(final=True)
                groups += front.receive()
            else:
                front.request(patience=patience)
            waited = time.perf_counter() - waited
            self.stats.waiting += waited
            started += waited  # waiting for the front is not busy time
            for group in groups:
                read += self._take_group(group)
        self._maybe_checkpoint(force=final)
        self.stats.seconds += time.perf_counter() - started
        return read

    def finish(self) -> None:
        """End of input (``--once``): decide every open correlation window, flush, checkpoint."""
        signals = self.sigma.flush()
        for detector in self.baselines:
            signals += detector.flush()
        self._take_signals(signals)
        self.checkpoint()

    def run(self, *, once: bool = False, should_stop: Callable[[], bool] = lambda: False) -> RunStats:
        """Open, then poll until stopped (or, with ``once``, until nothing new is left). The caller closes."""
        self.open()
        while not should_stop():
            read = self.step(final=once)
            if once and read == 0:
                self.finish()
                break
            if read == 0:
                self.pause()
        else:
            if not self._pending.empty():
                self.checkpoint()
        return self.stats

    # -- processing ------------------------------------------------------------------------------

    def _take_group(self, group: Group) -> int:
        """Detect one group of the front; its cursors commit with its results. Returns records read."""
        for phase, seconds in group.seconds.items():
            self.stats.phases[phase] += seconds
        self._pending.cursors.update(group.cursors)
        self._pending.dead.extend(group.dead)
        batch = group.batch
        if batch is not None and len(batch):
            if self.lake is not None:  # encoded while this batch is detected
                if self._lake_stage is None:
                    self._lake_stage = self.lake.stage(self._seq + 1)
                self._lake_stage.add(batch)
            with self.stats.timed("sigma"):
                signals = self.sigma.detect(batch)
            with self.stats.timed("baselines"):
                for detector in self.baselines:
                    signals += detector.process(batch)
            self._pending.events += len(batch)
            self.stats.events += len(batch)
            self._take_signals(signals)
        self._maybe_checkpoint()
        return group.records

    def _take_signals(self, signals: list[Signal]) -> None:
        signals = [s for s in signals if s.detector != "sigma" or LEVEL_RANK.get(s.level, 0) >= self.floor]
        if not signals:
            return
        with self.stats.timed("correlate"):
            signals.sort(key=_signal_order)
            signals = self.prevalence.weigh(signals)
            for incident in self.incidents.process(signals):
                self._pending.incidents[incident.incident_id] = incident
        self._pending.signals += signals
        self.stats.signals += len(signals)
        for signal in signals:
            self.stats.signals_by_detector[signal.detector] += 1

    def _maybe_checkpoint(self, *, force: bool = False) -> None:
        settings = self.settings.pipeline
        due = (time.monotonic() - self._last_commit >= settings.checkpoint_seconds
               or (settings.checkpoint_on_incident and bool(self._pending.incidents)))
        if (force or due) and not self._pending.empty():
            self.checkpoint()

    def checkpoint(self) -> int:
        """Commit everything pending; returns the new checkpoint sequence number."""
        with self.stats.timed("checkpoint"):
            return self._commit()

    def _commit(self) -> int:
        pending, self._pending = self._pending, _Pending()
        seq = self._seq + 1
        stage, self._lake_stage = self._lake_stage, None
        if stage is not None:
            try:
                stage.commit()
            finally:
                stage.abort()  # nothing left after a commit; the temporary files after a failure
        incident_of = {sid: iid for sid in (s.signal_id for s in pending.signals)
                       if (iid := self.incidents.incident_of(sid)) is not None}
        with self.store.transaction() as tx:
            tx.put_cursors(SOURCE_KEY, pending.cursors)
            tx.put_component_states({component.name: component.snapshot(dirty_only=True)
                                     for component in self.stateful})
            tx.upsert_signals(pending.signals, incident_of)
            tx.upsert_incidents(list(pending.incidents.values()))
            tx.add_dead_letters(pending.dead)
            committed = tx.add_checkpoint(seq=seq, events=pending.events, signals=len(pending.signals))
        for component in self.stateful:
            component.mark_clean()
        self._seq = committed
        self._last_commit = time.monotonic()
        self.stats.checkpoints += 1
        self.stats.incidents_changed += len(pending.incidents)
        for letter in pending.dead:
            self.stats.dead_letters[f"{letter.stage}:{letter.code}"] += 1
        if self.lake is not None and self.settings.lake.retention_days and self.stats.checkpoints % 100 == 1:
            self.lake.prune(datetime.now(UTC))
        if self.on_checkpoint is not None:
            self.on_checkpoint(committed, list(pending.incidents.values()), pending.signals)
        return committed


def _signal_order(signal: Signal) -> tuple[Any, ...]:
    return (signal.time is None, signal.time, signal.signal_id)
