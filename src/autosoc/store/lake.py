"""The event lake: every normalized event with its raw fields, as Parquet files queried with DuckDB.

Layout (Hive partitions: UTC day of the event's ``time``, and ``origin.source``)::

    root/day=2024-05-01/source=evtx/000000000042-0.parquet
    root/day=unknown/source=syslog/000000000042-1.parquet      (events without a time)

A file is named after the pipeline checkpoint (``seq``) it was written for, plus a counter
``n`` unique within that checkpoint.  Files are written to a hidden temporary name, flushed to
disk and renamed, so a reader never sees half a file; then each folder that gained a file or a
subfolder is flushed, once per checkpoint, so the files are durable before the state store
commits the checkpoint.  Exactly-once with the state store: the
pipeline writes the files of checkpoint N, then commits N in the state store; at start it
calls :meth:`EventLake.discard_after` with the last committed N, which deletes the files of a
checkpoint that never committed.

Each file holds the batch's ``events`` columns plus ``raw``: the event's raw fields as one JSON
object (non-null fields only, in the raw frame's column order), one row group per batch.

A running pipeline does not wait for the encoding at its checkpoint: :meth:`EventLake.stage` opens
the coming checkpoint's files, and each batch is appended to them as it arrives, by a background
thread (Polars and pyarrow release the GIL while they encode, so detection goes on meanwhile);
:meth:`LakeStage.commit` then only waits for what is left, closes, flushes and renames.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from autosoc.errors import ConfigError, Origin, StoreError
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch
from autosoc.store import _lake_sql
from autosoc.store.state.base import utc

logger = logging.getLogger(__name__)

RAW = "raw"
DAY = "day"
SOURCE = "source"
UNKNOWN = "unknown"
DEFAULT_LIMIT = 10_000
_FILE = re.compile(r"^(\d{12})-(\d+)\.parquet$")
_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
_TMP_SUFFIX = ".tmp"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
#: zstd level 1: measured on the scenario's lake files, 25 % faster to write than the default (3) and
#: within 1 % of its size
ZSTD_LEVEL = 1
#: columns of distinct values in nearly every row, not worth a dictionary page
_NO_DICTIONARY = frozenset({F.EVENT_ID, RAW, F.ORIGIN_RECORD})
#: the ``events`` view of a lake without files: the normalized columns, ``raw`` and the partitions
_EMPTY_COLUMNS = {
    F.EVENT_ID: "VARCHAR", F.FAMILY: "VARCHAR", F.ORIGIN_SOURCE: "VARCHAR", F.ORIGIN_PATH: "VARCHAR",
    F.ORIGIN_RECORD: "BIGINT", F.TIME: "TIMESTAMPTZ", F.CLASS_UID: "INTEGER", F.CATEGORY_UID: "INTEGER",
    **dict.fromkeys(F.OCSF_STRING_COLUMNS, "VARCHAR"), RAW: "VARCHAR", DAY: "VARCHAR", SOURCE: "VARCHAR",
}


@dataclass(frozen=True, slots=True)
class LakeStats:
    files: int
    rows: int  # from the Parquet footers, without reading data
    bytes: int
    days: tuple[str, ...]  # day partitions present, sorted ("unknown" last)


@dataclass(frozen=True, slots=True)
class QueryResult:
    frame: pl.DataFrame
    truncated: bool  # the answer had more than ``limit`` rows; ``frame`` holds the first ``limit``
    limit: int


class EventLake:
    def __init__(self, root: Path, retention_days: int | None = None, *, fsync: bool = True) -> None:
        if retention_days is not None and retention_days < 0:
            raise ConfigError(f"lake retention must be a number of days >= 0, not {retention_days}")
        self.root = Path(root).expanduser().absolute()
        self.retention_days = retention_days
        self.fsync = fsync
        self._seq = -1
        self._n = 0
        self._names = threading.Lock()  # file numbers are taken by stages' threads too
        self._worker: ThreadPoolExecutor | None = None

    # -- writing --------------------------------------------------------------------------

    def write(self, batch: EventBatch, seq: int) -> int:
        """Write ``batch`` as part of checkpoint ``seq``; returns the number of rows written."""
        return self.write_many([batch], seq)

    def write_many(self, batches: Sequence[EventBatch], seq: int) -> int:
        """Write the batches of checkpoint ``seq`` together: one file per day and source, whatever
        the number of batches (a checkpoint of many small steps would otherwise write a file per
        step and partition); returns the number of rows written.

        Every file is on disk when this returns: each is flushed before its rename, and each folder
        that gained a file (or was created) is flushed once after all the renames."""
        stage = self.stage(seq, background=False)
        try:
            for batch in batches:
                stage.add(batch)
            return stage.commit()
        finally:
            stage.abort()

    def stage(self, seq: int, *, background: bool = True) -> LakeStage:
        """The files of checkpoint ``seq``, written as batches are added (see :class:`LakeStage`);
        ``background``: encode in this lake's worker thread, not in the caller's."""
        if seq < 0:
            raise StoreError(f"checkpoint sequence numbers are >= 0, not {seq}", code="bad_request")
        if background and self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosoc-lake")
        return LakeStage(self, seq, self._worker if background else None)

    def close(self) -> None:
        """Stop the background worker (after the jobs it has)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)

    def _target(self, folder: Path, seq: int, folders: dict[Path, None]) -> tuple[Path, Path]:
        """Create ``folder`` (noting the folders to flush), take the next free file name of ``seq`` in
        it and create its temporary file; returns (final name, temporary name). Under the lock that
        :meth:`prune` takes, so that a folder is never removed between its creation and its file's."""
        with self._names:
            if seq != self._seq:
                self._seq, self._n = seq, 0
            for created in _make_folders(folder, self.root):
                folders[created.parent] = None  # a new folder's own entry is in its parent
            while (target := folder / f"{seq:012d}-{self._n}.parquet").exists():
                self._n += 1
            self._n += 1
            temporary = folder / f".{target.name}{_TMP_SUFFIX}"
            temporary.touch()
            return target, temporary

    def discard_after(self, seq: int) -> int:
        """Delete every file written for a checkpoint after ``seq`` (and leftover temporary files);
        returns how many Parquet files were removed."""
        removed = 0
        for path in self._paths(include_temporary=True):
            match = _FILE.match(path.name)
            if path.name.endswith(_TMP_SUFFIX) or (match is not None and int(match.group(1)) > seq):
                self._unlink(path)
                removed += not path.name.endswith(_TMP_SUFFIX)
        self._remove_empty_folders()
        self._seq = -1
        if removed:
            logger.info("Discarded lake files of uncommitted checkpoints. after_seq=%d files=%d", seq, removed)
        return removed

    def prune(self, now: datetime) -> int:
        """With a retention, delete the day partitions older than ``retention_days`` before ``now``'s
        UTC day (``day=unknown`` is kept); returns the number of Parquet files removed."""
        if self.retention_days is None or not self.root.is_dir():
            return 0
        cutoff = (utc(now).date() - timedelta(days=self.retention_days)).isoformat()
        removed = 0
        with self._names:  # a stage's files are created under this lock: an open one is left alone
            for folder in sorted(self.root.iterdir()):
                match = _DAY.match(folder.name)
                if match is None or match.group(1) >= cutoff or not folder.is_dir():
                    continue
                try:
                    for path in sorted(folder.glob(f"{SOURCE}=*/*.parquet")):
                        path.unlink()
                        removed += 1
                    for partition in folder.iterdir():
                        with contextlib.suppress(OSError):  # not empty: a file being written (late events)
                            partition.rmdir()
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                except OSError as exc:
                    raise StoreError(f"cannot delete expired lake partition: {exc.strerror or exc}",
                                     origin=Origin("lake", str(folder)), code="store_unavailable") from exc
        if removed:
            logger.info("Pruned expired lake partitions. before_day=%s files=%d", cutoff, removed)
        return removed

    # -- reading --------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """Every committed-or-pending Parquet file of the lake, sorted."""
        return self._paths(include_temporary=False)

    def stats(self) -> LakeStats:
        files = rows = size = 0
        days: set[str] = set()
        for path in self.files():
            try:
                rows += pq.read_metadata(path).num_rows
                size += path.stat().st_size
            except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) on a bad footer
                raise StoreError(f"unreadable lake file: {exc}", origin=Origin("lake", str(path)),
                                 code="store_error") from exc
            files += 1
            days.add(path.parent.parent.name.removeprefix(f"{DAY}="))
        return LakeStats(files, rows, size, tuple(sorted(days, key=lambda d: (d == UNKNOWN, d))))

    def query(self, sql: str, *, limit: int = DEFAULT_LIMIT) -> pl.DataFrame:
        """The answer to one read-only DuckDB statement over the view ``events`` (at most ``limit`` rows;
        :meth:`execute` also says whether it was cut)."""
        return self.execute(sql, limit=limit).frame

    def execute(self, sql: str, *, limit: int = DEFAULT_LIMIT) -> QueryResult:
        if limit < 1:
            raise StoreError(f"the row limit must be at least 1, not {limit}", code="bad_request")
        connection = _lake_sql.sandbox(self.root, self._view_sql())
        try:
            _lake_sql.check_read_only(connection, sql)
            frame, truncated = _lake_sql.run(connection, sql, limit)
        finally:
            connection.close()
        return QueryResult(frame, truncated, limit)

    def _view_sql(self) -> str:
        if not self.root.is_dir() or next(self.root.glob(f"{DAY}=*/{SOURCE}=*/*.parquet"), None) is None:
            columns = ", ".join(f"CAST(NULL AS {kind}) AS {_lake_sql.identifier(name)}"
                                for name, kind in _EMPTY_COLUMNS.items())
            return f"CREATE VIEW events AS SELECT {columns} WHERE false"
        pattern = _lake_sql.literal(f"{self.root}/{DAY}=*/{SOURCE}=*/*.parquet")
        return (f"CREATE VIEW events AS SELECT * FROM read_parquet({pattern}, hive_partitioning = true, "
                f"union_by_name = true, hive_types = {{'{DAY}': VARCHAR, '{SOURCE}': VARCHAR}})")

    # -- files ----------------------------------------------------------------------------

    def _paths(self, *, include_temporary: bool) -> list[Path]:
        if not self.root.is_dir():
            return []
        paths = sorted(self.root.glob(f"{DAY}=*/{SOURCE}=*/*.parquet"))
        if include_temporary:
            paths += sorted(self.root.glob(f"{DAY}=*/{SOURCE}=*/.*{_TMP_SUFFIX}"))
        return paths

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot delete lake file: {exc.strerror or exc}", origin=Origin("lake", str(path)),
                             code="store_unavailable") from exc

    def _remove_empty_folders(self) -> None:
        for folder in sorted(self.root.glob(f"{DAY}=*/{SOURCE}=*")) + sorted(self.root.glob(f"{DAY}=*")):
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone)
                continue


@dataclass(slots=True)
class _OpenFile:
    target: Path
    temporary: Path
    writer: pq.ParquetWriter
    rows: int = 0


class LakeStage:
    """The lake files of one checkpoint, written while its batches arrive.

    :meth:`add` appends a batch, one row group per day and source, to that partition's temporary
    file (a partition whose columns change gets a new file); with a worker, in the worker's
    thread, so the caller goes on at once. :meth:`commit` waits for the added batches, closes and
    flushes the files, renames them to their checkpoint names and flushes their folders;
    :meth:`abort` deletes what was not committed. A failure while writing is raised by
    :meth:`commit` (as :class:`~autosoc.errors.StoreError`).
    """

    def __init__(self, lake: EventLake, seq: int, worker: ThreadPoolExecutor | None) -> None:
        self.lake = lake
        self.seq = seq
        self._worker = worker
        self._jobs: list[Future[None]] = []
        self._files: dict[tuple[str, str], _OpenFile] = {}
        self._closed: list[_OpenFile] = []
        self._folders: dict[Path, None] = {}  # to flush, in order: created parents first
        self._done = False

    def add(self, batch: EventBatch) -> None:
        if self._done:
            raise StoreError("this lake checkpoint is already committed or aborted", code="bad_request")
        if not batch.events.height:
            return
        if self._worker is None:
            self._append(batch)
        else:
            self._jobs.append(self._worker.submit(self._append, batch))

    def commit(self) -> int:
        """Finish the files; returns the rows written. Every file and folder is flushed when it returns."""
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.result()  # the first failure is raised; abort() removes what was written
        self._done = True
        files = self._closed + list(self._files.values())
        self._closed, self._files = [], {}
        written = 0
        try:
            for file in files:
                file.writer.close()
                if self.lake.fsync:
                    _fsync_file(file.temporary)
                os.replace(file.temporary, file.target)
                self._folders[file.target.parent] = None
                written += file.rows
            if self.lake.fsync:
                for folder in self._folders:
                    _fsync(folder)
        except OSError as exc:
            for file in files:
                _remove(file.temporary)
            raise _unwritable(exc, self.lake.root) from exc
        return written

    def abort(self) -> None:
        """Delete the files not committed (waits for the jobs already added)."""
        self._done = True
        for job in self._jobs:
            job.exception()
        self._jobs = []
        for file in self._closed + list(self._files.values()):
            with contextlib.suppress(OSError, pa.ArrowException):
                file.writer.close()
            _remove(file.temporary)
        self._closed, self._files = [], {}

    def _append(self, batch: EventBatch) -> None:
        frame = _lake_frame(batch)
        parts = frame.partition_by(["__day", "__source"], as_dict=True, include_key=False, maintain_order=True)
        named = sorted(((UNKNOWN if day is None else day.isoformat(), source), part)
                       for (day, source), part in parts.items())
        for key, part in named:
            table = part.to_arrow()
            file = self._files.get(key)
            if file is not None and not file.writer.schema.equals(table.schema, check_metadata=False):
                fitted = _fit(table, file.writer.schema)
                if fitted is None:  # other columns: the partition goes on in a new file
                    self._closed.append(self._files.pop(key))
                    file = None
                else:
                    table = fitted
            if file is None:
                file = self._files[key] = self._open(key, table.schema)
            try:
                file.writer.write_table(table)
            except OSError as exc:
                raise _unwritable(exc, file.target.parent) from exc
            file.rows += table.num_rows

    def _open(self, key: tuple[str, str], schema: pa.Schema) -> _OpenFile:
        day, source = key
        folder = self.lake.root / f"{DAY}={day}" / f"{SOURCE}={source}"
        try:
            target, temporary = self.lake._target(folder, self.seq, self._folders)
            writer = pq.ParquetWriter(temporary, schema, compression="zstd", compression_level=ZSTD_LEVEL,
                                      use_dictionary=[n for n in schema.names if n not in _NO_DICTIONARY])
        except OSError as exc:
            raise _unwritable(exc, folder) from exc
        return _OpenFile(target, temporary, writer)


def _fit(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """``table`` with the columns of ``schema`` (those it lacks as nulls), or None when it has other
    columns or types."""
    names = set(schema.names)
    if any(name not in names for name in table.column_names):
        return None
    columns = []
    for target in schema:
        if target.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, target.type))
            continue
        column = table.column(target.name)
        if column.type != target.type:
            return None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _unwritable(exc: OSError, where: Path) -> StoreError:
    return StoreError(f"cannot write to the event lake: {exc.strerror or exc}", origin=Origin("lake", str(where)),
                      code="store_unavailable")


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _lake_frame(batch: EventBatch) -> pl.DataFrame:
    """The events columns plus ``raw`` and the two partition keys: ``__day`` (the UTC date, null
    without a time) and ``__source`` (the source name made safe for a folder name)."""
    events, raw = batch.events, batch.raw
    if raw.width and raw.height != events.height:
        raise StoreError(f"batch frames differ in height: events {events.height}, raw {raw.height}",
                         code="bad_batch")
    columns = [pl.col(name).cast(pl.String) if dtype == pl.Null else pl.col(name)
               for name, dtype in events.schema.items() if name != RAW]
    if RAW in events.columns and events.schema[RAW] == pl.String:  # normalization kept each record's JSON
        frame = events.select(*columns, pl.col(RAW).fill_null("{}"))
    else:
        frame = events.select(columns).with_columns(raw_json(raw) if raw.width else pl.lit("{}").alias(RAW))
    if F.TIME in frame.columns:
        time = frame.schema[F.TIME]
        if not isinstance(time, pl.Datetime):
            raise StoreError(f"column {F.TIME!r} must be a datetime, not {time}", code="bad_batch")
        utc_time = (pl.col(F.TIME).dt.replace_time_zone("UTC") if time.time_zone is None
                    else pl.col(F.TIME).dt.convert_time_zone("UTC"))
        frame = frame.with_columns(utc_time)
        day = pl.col(F.TIME).dt.date()
    else:
        day = pl.lit(None, pl.Date)
    if F.ORIGIN_SOURCE in frame.columns:
        # a few distinct names per batch: made safe once each, not once per row
        names = frame.get_column(F.ORIGIN_SOURCE).cast(pl.String).unique().to_list()
        source = pl.col(F.ORIGIN_SOURCE).cast(pl.String).replace_strict(
            names, [folder_name(name) for name in names], return_dtype=pl.String)
    else:
        source = pl.lit(UNKNOWN)
    return frame.with_columns(day.alias("__day"), source.alias("__source"))


def folder_name(source: str | None) -> str:
    """A source name as the ``source=`` folder holds it: unsafe characters and a leading dot become
    ``_``; no name is ``unknown``."""
    if not source:
        return UNKNOWN
    name = _UNSAFE.sub("_", source)
    return "_" + name[1:] if name.startswith(".") else name


def raw_json(raw: pl.DataFrame) -> pl.Series:
    """Each row's non-null raw fields as one JSON object (columnar: Polars escapes names and values);
    not the working columns normalization adds (names starting with ``__``, the keyword text)."""
    parts = [pl.when(pl.col(name).is_not_null())
             .then(pl.struct(pl.col(name).cast(pl.String)).struct.json_encode().str.slice(1).str.strip_suffix("}"))
             for name in raw.columns if not name.startswith("__")]
    body = pl.concat_str(parts, separator=",", ignore_nulls=True).fill_null("")
    return raw.select(pl.concat_str([pl.lit("{"), body, pl.lit("}")]).alias(RAW)).to_series()


def _make_folders(folder: Path, root: Path) -> list[Path]:
    """Create ``folder`` and its missing parents up to ``root``; returns the ones created, outermost first."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder == root or folder.parent == folder:
            break
        folder = folder.parent
    created = []
    for path in reversed(missing):
        try:
            path.mkdir(parents=path == root)
        except FileExistsError:
            continue
        created.append(path)
    return created


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        descriptor = os.open(path, flags)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
