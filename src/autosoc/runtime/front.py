"""The stateless front of the pipeline: tail -> normalize -> event-time order -> enrich.

A poll of the front reads what is new in every source and yields :class:`Group` s: the events of
at least ``batch_size`` records (many small files together: per-frame costs are paid once),
normalized, sorted by event time and enriched, with the cursors of the files they came from.
The last group of a poll holds the rest, and may hold cursor changes only.

Nothing here keeps state but the cursors, so the front can run ahead of the stateful half in a
process of its own (:class:`FrontProcess`, ``pipeline.front_process: true``): the pipeline then
detects and commits one poll while the front reads and normalizes the next, on another core.
Both run the same :class:`Front`, so a poll yields the same groups either way, and the pipeline
commits a group's cursors only with that group's results: a crash loses only what was in flight,
and the restarted front reads it again from the committed cursors.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from autosoc.enrich.base import Enricher
from autosoc.errors import ConfigError
from autosoc.ingest.tail import FileCursor, TailSource
from autosoc.normalize import fields as F
from autosoc.normalize import normalize_many
from autosoc.schema import DeadLetter, EventBatch, RawBatch
from autosoc.settings import Settings

logger = logging.getLogger(__name__)

#: how long the pipeline waits for a front process to start (rules are not loaded there; GeoIP data is)
START_TIMEOUT_SECONDS = 120.0


@dataclass(slots=True)
class Group:
    """Normalized, time-ordered, enriched events of one or more files, and the cursors after them."""

    batch: EventBatch | None  # None: nothing to detect (cursor moves, dead letters only)
    cursors: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # None: the file is gone
    dead: list[DeadLetter] = field(default_factory=list)
    records: int = 0  # records read
    seconds: dict[str, float] = field(default_factory=dict)  # busy seconds per phase (poll, normalize, enrich)


class Front:
    """The sources, normalization and enrichers of one pipeline."""

    def __init__(self, settings: Settings, *, cursors: Mapping[str, FileCursor] | None = None) -> None:
        self.batch_size = settings.pipeline.batch_size
        self.raw_json = settings.lake.enabled
        # GeoIP first: the identity inventory and the baselines read what it fills in
        self.enrichers: list[Enricher] = [settings.enrich.geoip.build()]
        if settings.enrich.identities is not None:
            self.enrichers.append(settings.enrich.identities.build())
        self.sources = [TailSource(s.paths, include=s.include, exclude=s.exclude, input_format=s.input_format,
                                   batch_size=settings.pipeline.batch_size, settle_seconds=s.settle_seconds,
                                   watch=s.watch)
                        for s in settings.sources]
        self.cursors: dict[str, FileCursor] = dict(cursors or {})

    def poll(self, *, final: bool = False) -> Iterator[Group]:
        """Read what is new in every source once; ``final``: the end of input (see :meth:`TailSource.poll`)."""
        raws: list[RawBatch] = []
        pending: dict[str, dict[str, Any] | None] = {}
        seconds = {"poll": 0.0}
        records = 0
        for source in self.sources:
            polled = source.poll(self.cursors, final=final)
            while True:
                with _timed(seconds, "poll"):
                    item = next(polled, None)
                if item is None:
                    break
                raw, cursor = item
                records += len(raw)
                self.cursors[cursor.key] = cursor
                pending[cursor.key] = cursor.as_dict()
                raws.append(raw)
                if records >= self.batch_size:
                    yield self._group(raws, pending, records, seconds)
                    raws, pending, records, seconds = [], {}, 0, {"poll": 0.0}
            for key in source.stats.gone:  # deleted files: forget their cursors
                self.cursors.pop(key, None)
                pending[key] = None
        if raws or pending:
            yield self._group(raws, pending, records, seconds)

    def _group(self, raws: list[RawBatch], cursors: dict[str, dict[str, Any] | None], records: int,
               seconds: dict[str, float]) -> Group:
        dead: list[DeadLetter] = []
        with _timed(seconds, "normalize"):
            families = normalize_many(raws, raw_json=self.raw_json) if raws else []
        for family in families:
            dead.extend(family.dead_letters)
        families = [b for b in families if len(b)]
        if not families:
            return Group(None, cursors, dead, records, seconds)
        batch = families[0] if len(families) == 1 else EventBatch(
            pl.concat([b.events for b in families], how="diagonal_relaxed"),
            pl.concat([b.raw for b in families], how="diagonal"))
        with _timed(seconds, "enrich"):
            batch = time_ordered(batch)
            for enricher in self.enrichers:
                batch = enricher.enrich(batch)
        return Group(EventBatch(batch.events, batch.raw), cursors, dead, records, seconds)


def time_ordered(batch: EventBatch) -> EventBatch:
    """Rows in event-time order (nulls last; ties keep their read order)."""
    order = batch.events.select(pl.arg_sort_by(pl.col(F.TIME), nulls_last=True, maintain_order=True)).to_series()
    if order.is_sorted():
        return batch
    return EventBatch(batch.events[order], batch.raw[order], batch.dead_letters)


@contextlib.contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - started


# -- the front in a process of its own -----------------------------------------------------------


class FrontProcess:
    """A :class:`Front` in a child process, polling on request.

    :meth:`request` asks for the next poll and returns at once; :meth:`receive` yields that
    poll's groups.  A pipeline requests the next poll before it detects the groups of the last
    one, so the child reads and normalizes while the parent detects.  A request waits up to
    ``patience`` seconds for something new (polling every ``poll_seconds``), so an idle pipeline
    blocks in :meth:`receive` rather than sleeping past new data.  Groups cross as Arrow IPC (zstd).
    The child dies with its parent (``PR_SET_PDEATHSIG`` on Linux).
    """

    def __init__(self, settings: Settings, cursors: Mapping[str, FileCursor]) -> None:
        context = mp.get_context("spawn")
        self._out: Any = context.Queue()
        self._control: Any = context.Queue()
        state = {key: cursor.as_dict() for key, cursor in cursors.items()}
        self._process = context.Process(target=_serve, name="autosoc-front", daemon=True,
                                        args=(settings, state, self._out, self._control))
        self._process.start()
        self.outstanding = False
        message = self._get(START_TIMEOUT_SECONDS)
        if message is None or message[0] != "ready":
            detail = message[1] if message is not None and message[0] == "error" else "no answer"
            self.close()
            raise ConfigError(f"the front process did not start: {detail}", code="front_failed")

    def request(self, *, final: bool = False, patience: float = 0.0) -> None:
        """Start the next poll (``final``: the end of input; ``patience``: wait this long for news)."""
        if self.outstanding:
            raise RuntimeError("a poll is already requested")
        self._control.put(("poll", final, patience))
        self.outstanding = True

    def receive(self) -> Iterator[Group]:
        """The groups of the requested poll (none: nothing new within its patience)."""
        if not self.outstanding:
            return
        while True:
            message = self._get(None)
            assert message is not None
            kind = message[0]
            if kind == "group":
                yield _decode(message[1])
            elif kind == "polled":
                self.outstanding = False
                return
            elif kind == "error":
                self.outstanding = False
                raise RuntimeError(f"the front process failed: {message[1]}")

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(Exception):
                self._control.put(("stop",))
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)
        for q in (self._out, self._control):
            q.cancel_join_thread()
            q.close()

    def _get(self, timeout: float | None) -> tuple[Any, ...] | None:
        """The next message; None after ``timeout`` seconds (None: as long as the child lives)."""
        step = 1.0 if timeout is None else min(timeout, 1.0)
        left = timeout
        while True:
            try:
                return self._out.get(timeout=step)  # type: ignore[no-any-return]
            except queue.Empty:
                if not self._process.is_alive():
                    try:
                        return self._out.get_nowait()  # type: ignore[no-any-return]
                    except queue.Empty:
                        raise RuntimeError(f"the front process died (exit code {self._process.exitcode})") from None
                if left is not None:
                    left -= step
                    if left <= 0:
                        return None


def _serve(settings: Settings, state: dict[str, dict[str, Any]], out: Any, control: Any) -> None:
    """The child: on each request, poll (until something is new or its patience ran out), send the groups."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        front = Front(settings, cursors={k: FileCursor.from_dict(v) for k, v in state.items()})
    except Exception as exc:  # reported to the parent, which raises it
        out.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    out.put(("ready",))
    try:
        while True:
            command = control.get()
            if command[0] != "poll":
                return
            _, final, patience = command
            deadline = time.monotonic() + patience
            while True:
                sent = 0
                # as in the pipeline's step: a poll's tens of thousands of live dicts die by refcount,
                # and the cyclic GC would rescan them on every allocation burst (3x slower polls)
                gc.disable()
                try:
                    for group in front.poll(final=final):
                        out.put(("group", _encode(group)))
                        sent += 1
                finally:
                    gc.enable()
                left = deadline - time.monotonic()
                if sent or final or left <= 0:
                    break
                time.sleep(min(settings.pipeline.poll_seconds, left))
            out.put(("polled",))
    except Exception as exc:  # reported to the parent, which raises it
        logger.exception("The front process failed.")
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a killed pipeline leaves no orphan)."""
    if os.uname().sysname != "Linux":
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _frame_bytes(frame: pl.DataFrame) -> bytes:
    # compressed: a batch's frames are mostly nulls (every family's columns on every row), 30x
    # smaller, and a pipe moves the small form far sooner than the large one
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="zstd", compat_level=pl.CompatLevel.newest())
    return buffer.getvalue()


def _encode(group: Group) -> tuple[Any, ...]:
    frames = None if group.batch is None else (_frame_bytes(group.batch.events), _frame_bytes(group.batch.raw))
    return frames, group.cursors, group.dead, group.records, group.seconds


def _decode(payload: tuple[Any, ...]) -> Group:
    frames, cursors, dead, records, seconds = payload
    batch = None if frames is None else EventBatch(pl.read_ipc(io.BytesIO(frames[0])),
                                                   pl.read_ipc(io.BytesIO(frames[1])))
    return Group(batch, cursors, dead, records, seconds)
