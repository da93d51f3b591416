"""Replay recorded log files into a folder, in event-time order and at a given rate, as live logs.

``autosoc replay SRC SPOOL --rate 10000`` turns a folder of recorded logs (a scenario from
``autosoc simulate``, or real exports) into a live feed for ``autosoc run`` to tail: every line
of every line-format file is appended to the same relative path under SPOOL, in the global order
of event time across all files, at ``rate`` records per second.  Within one file the lines keep
their order (a line never overtakes the line before it), so each record keeps its line number and
the provenance ``path:line`` of the replayed events is the one of the recorded files.
Whole-document files (EVTX, CloudTrail ``{"Records": [...]}``, ``.gz``) are copied in one piece
(written aside, then renamed) at the time of their first event.

Event times come from the normal readers and normalization, so every format autosoc reads can be
replayed.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import polars as pl

from autosoc.errors import InputError
from autosoc.ingest.files import detect_reader, discover, read_files
from autosoc.normalize import fields as F
from autosoc.normalize import normalize

#: readers whose records are lines of the file (replayed line by line)
LINE_READERS = frozenset({"jsonl", "syslog", "csv", "zeek"})
_NEVER = -(2**62)


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One write: ``lines`` (first, last) of ``path``, or the whole file when ``lines`` is None."""

    at: int  # event time, microseconds since the epoch
    path: Path
    lines: tuple[int, int] | None
    records: int


def plan(source: Path, *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[ReplayItem]:
    """The writes, in replay order."""
    items: list[ReplayItem] = []
    for path in discover([source], include=include, exclude=exclude):
        reader = detect_reader(path)
        if reader is None:
            continue
        times = _record_times(path)
        if reader.name in LINE_READERS and not path.name.endswith(".gz"):
            items += _line_items(path, times)
        elif times.height:
            first = times.get_column("at").drop_nulls().min()
            items.append(ReplayItem(int(first) if first is not None else _NEVER, path, None, times.height))
    order = sorted(range(len(items)), key=lambda i: (items[i].at, str(items[i].path), i))
    return [items[i] for i in order]


def _record_times(path: Path) -> pl.DataFrame:
    """(record position, event time in µs) for every record of ``path``, in file order."""
    frames = []
    for raw in read_files([path]):
        for batch in normalize(raw):
            if len(batch):
                frames.append(batch.events.select(
                    pl.col(F.ORIGIN_RECORD).alias("record"),
                    pl.col(F.TIME).dt.epoch("us").alias("at")))
    if not frames:
        return pl.DataFrame(schema={"record": pl.Int64, "at": pl.Int64})
    return pl.concat(frames).sort("record", maintain_order=True)


def _line_items(path: Path, times: pl.DataFrame) -> list[ReplayItem]:
    """One item per record: from its first line to the line before the next record's."""
    with path.open("rb") as handle:
        total = sum(1 for _ in handle)
    if times.height == 0:
        return [ReplayItem(_NEVER, path, (1, total), 0)] if total else []
    # a line never overtakes the one before it: running maximum of the event times
    times = times.with_columns(pl.col("at").forward_fill().fill_null(_NEVER).cum_max())
    starts = times.get_column("record").to_list()
    ats = times.get_column("at").to_list()
    items = []
    if starts[0] > 1:  # header lines before the first record
        items.append(ReplayItem(_NEVER, path, (1, starts[0] - 1), 0))
    for i, (start, at) in enumerate(zip(starts, ats, strict=True)):
        if i + 1 < len(starts) and starts[i + 1] == start:
            continue  # several records on one line (a JSON array): the line is written once
        end = (starts[i + 1] - 1) if i + 1 < len(starts) else total
        items.append(ReplayItem(at, path, (start, max(start, end)), 1))
    return items


@dataclass(slots=True)
class _OpenFile:
    source: BinaryIO
    out: BinaryIO
    line: int = 0  # lines of ``source`` consumed


class Replayer:
    """Writes a plan into ``spool`` at ``rate`` records per second (0: as fast as possible)."""

    def __init__(self, source: Path, spool: Path, *, rate: float = 0.0,
                 on_write: Callable[[ReplayItem, float], None] | None = None) -> None:
        self.source = source
        self.spool = spool
        self.rate = rate
        self.on_write = on_write
        self._open: dict[Path, _OpenFile] = {}

    def run(self, items: Sequence[ReplayItem], *, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Write ``items`` in order; ``on_write`` hears of each once it is on disk. Returns records written."""
        started = time.perf_counter()
        written = 0
        try:
            for item in items:
                if should_stop():
                    break
                if self.rate:
                    ahead = written / self.rate - (time.perf_counter() - started)
                    if ahead > 0.002:
                        self._flush()
                        time.sleep(ahead)
                handle = self._write(item)
                written += item.records
                if self.on_write is not None:
                    if handle is not None:
                        handle.out.flush()  # on disk before it is reported written
                    self.on_write(item, time.time())
        finally:
            self.close()
        return written

    def _target(self, path: Path) -> Path:
        target = self.spool / path.relative_to(self.source)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _write(self, item: ReplayItem) -> _OpenFile | None:
        if item.lines is None:
            target = self._target(item.path)
            aside = target.with_name(f".{target.name}.part")
            shutil.copyfile(item.path, aside)
            os.replace(aside, target)
            return None
        handle = self._open.get(item.path)
        if handle is None:
            handle = self._open[item.path] = _OpenFile(item.path.open("rb"), self._target(item.path).open("ab"))
        first, last = item.lines
        while handle.line < last:
            data = handle.source.readline()
            handle.line += 1
            if handle.line >= first:
                handle.out.write(data)
        return handle

    def _flush(self) -> None:
        for handle in self._open.values():
            handle.out.flush()

    def close(self) -> None:
        for handle in self._open.values():
            handle.source.close()
            handle.out.close()
        self._open.clear()


class PipelineLike(Protocol):
    def open(self) -> None: ...
    def step(self, *, final: bool = False) -> int: ...
    def finish(self) -> None: ...
    def pause(self) -> None: ...


def run_replayed(pipeline: PipelineLike, replayer: Replayer, items: Sequence[ReplayItem], *,
                 should_stop: Callable[[], bool] = lambda: False) -> None:
    """Replay ``items`` into the spool (a thread) while ``pipeline`` tails it, until all is processed.

    The pipeline must have the spool as its source.  Returns after the final checkpoint; a failed
    replay is raised here.
    """
    done = threading.Event()
    failed: list[BaseException] = []

    def feed() -> None:
        try:
            replayer.run(items, should_stop=should_stop)
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)
        finally:
            done.set()

    pipeline.open()
    thread = threading.Thread(target=feed, name="autosoc-replay", daemon=True)
    thread.start()
    drain(pipeline, done.is_set, should_stop=should_stop)
    thread.join()
    if failed:
        raise InputError(f"the replay failed: {failed[0]}", code="replay_failed") from failed[0]


def drain(pipeline: PipelineLike, done: Callable[[], bool], *,
          should_stop: Callable[[], bool] = lambda: False) -> None:
    """Step ``pipeline`` (opened) until ``done()`` and two polls after it found nothing new; then finish.

    Between steps that read nothing it calls ``pipeline.pause()`` (the pipeline knows its poll interval)."""
    idle_after_done = 0
    while not should_stop():
        finished = done()
        read = pipeline.step()
        if finished:
            idle_after_done = idle_after_done + 1 if read == 0 else 0
            if idle_after_done >= 2:
                pipeline.step(final=True)
                break
        if read == 0:
            pipeline.pause()
    pipeline.finish()
