"""The tail source: files and folders read as they grow, resumable from saved cursors.

``TailSource(paths).poll(cursors)`` reads everything new since ``cursors`` and yields
``(batch, cursor)`` pairs: each batch holds records of one file, and its cursor says how far
that file has been read once the batch is processed.  A pipeline saves the latest cursor of
each file at its checkpoint; after a restart it passes them back and the next poll goes on
right after the last batch committed: no record lost, none read twice.

* **Line formats** (JSON lines, syslog, CSV, CloudTrail JSON lines): read from the saved byte
  offset to the last complete line; a line still being written waits for the next poll (a poll
  with ``final=True`` takes it, and so does any poll once the file has been left unchanged for
  ``partial_line_seconds``).  Line numbers go on from the cursor, so a record's position is its
  line in the whole file; a CSV file's header row is read again from the top.
* **Documents** (EVTX, CloudTrail ``{"Records": [...]}``, ``.gz``, pretty-printed JSON, any
  reader without ``read_input``): read whole with the batch reader once the file has not
  changed for ``settle_seconds``; when it changes later (an EVTX log gets new records) it is
  read again and only records numbered above the highest number already taken come out.
* **Identity**: a file is known by device and inode, checked with a fingerprint of its first
  bytes (:mod:`autosoc.ingest.tail.cursor`).  A renamed file keeps its cursor, whether it is
  still among the watched files or was renamed beside its old path (``auth.log`` ->
  ``auth.log.1`` when only ``auth.log`` is watched): the rest of it is read before the new
  file; a renamed file with nothing new yields an empty batch, so that its cursor takes the
  new name.  A name that leads to another file by the time it is opened (renamed in between,
  another file in its place) is left to the next poll (``vanished``).  A truncated or rewritten
  file is read again from the start (WARNING, counted).
* **Watching** (``watch``): a poll must know every file of the watched paths and its ``stat``.
  ``"poll"`` walks every folder on every poll (one ``scandir`` a folder, one ``stat`` a file).
  ``"inotify"`` (Linux) keeps the last poll's listing and an inotify watch on every folder
  (:mod:`autosoc.ingest.tail.watch`): a poll lists again only the folders whose listing changed,
  stats only the files named by an event, and looks only at those and at the files that still
  wait for something without an event (a partial last line or a document not settled yet, a
  cursor short of the file's end, a file no reader took yet, an unreadable one).  It yields what
  ``"poll"`` yields.  A full walk is still done on the first poll, after the event queue
  overflowed, and every ``rescan_seconds`` (None: never), so that what inotify cannot see (a
  network file system, a write through ``mmap``) is found all the same.  Folders beyond the
  watch limit (``fs.inotify.max_user_watches``; WARNING once, ``watch_limit``) are walked on
  every poll.  If inotify fails (WARNING once, ``watch_error``) the source walks on every poll
  and tries again after ``rescan_seconds``.  ``"auto"`` (the default) is ``"inotify"`` where the platform has it, else
  ``"poll"``.  The inotify descriptor is made by the first poll (a source built before a fork
  is safe to use in the child, which makes its own) and closed by :meth:`TailSource.close` or
  when the source is collected.

Files that vanish between discovery and reading are logged (WARNING, ``vanished``) and
skipped; an unreadable file yields one ``unreadable_file`` dead letter per source object.
Batches hold at most ``batch_size`` records; memory does not grow with file sizes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from autosoc.errors import ConfigError, InputError, Origin
from autosoc.ingest._open import BOM, GZIP_MAGIC, HEAD_SIZE, read_head
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.files import detect_reader, discover_names
from autosoc.ingest.jsonl import is_json_lines, read_json_lines
from autosoc.ingest.tail import inotify
from autosoc.ingest.tail.cursor import FileCursor, Mode, file_key, fingerprint, same_prefix
from autosoc.ingest.tail.ranged import RangeInput
from autosoc.ingest.tail.watch import Pair, WatchedFiles
from autosoc.schema import DeadLetter, RawBatch

logger = logging.getLogger(__name__)

SCAN_BLOCK = 1 << 16
WATCH_MODES = ("auto", "inotify", "poll")
Watch = Literal["auto", "inotify", "poll"]
#: after inotify failed, how long a source walks before it tries again (when rescan_seconds is None)
RETRY_SECONDS = 30.0


@dataclass(slots=True)
class TailStats:
    """What the source has seen (counts since it was built; ``gone`` for the last poll only)."""

    polls: int = 0
    #: polls that walked every watched folder (all of them with ``watch="poll"``)
    walks: int = 0
    batches: int = 0
    records: int = 0
    #: truncated, replaced, renamed, rotated, vanished, unreadable_file, missing_path; watch_error,
    #: watch_overflow, watch_limit (see ``watch``)
    events: Counter[str] = field(default_factory=Counter)
    #: files no reader recognises, with the reason (each listed once)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: keys of the given cursors of this source's paths whose file was not found by the last poll
    #: (deleted, or rotated out of sight); a pipeline may drop them from its saved state
    gone: list[str] = field(default_factory=list)


def _last_line_end(fh: object, low: int, high: int) -> int:
    """The offset just after the last ``\\n`` in ``[low, high)`` of an open file, or ``low``."""
    pos = high
    while pos > low:
        start = max(low, pos - SCAN_BLOCK)
        fh.seek(start)  # type: ignore[attr-defined]
        block = fh.read(pos - start)  # type: ignore[attr-defined]
        cut = block.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return low


def _complete_head(head: bytes) -> bytes:
    """``head`` up to its last line end (all of it when it fills the head size or has no line end)."""
    if len(head) >= HEAD_SIZE:
        return head
    cut = head.rfind(b"\n")
    return head[: cut + 1] if cut >= 0 else head


def _json_lines(head: bytes) -> bool | None:
    """The JSON reader's layout for a growing file: lines, a document, or not known yet."""
    body = head[3:] if head.startswith(BOM) else head
    if b"\n" not in body and len(body) < HEAD_SIZE:
        start = body.lstrip()[:1]
        return False if start == b"[" else None
    return is_json_lines(_complete_head(body))


def _can_read_lines(reader: FileReader) -> bool:
    return reader.name == "jsonl" or type(reader).read_input is not FileReader.read_input


def _line_records(reader: FileReader, path: Path, inp: RangeInput, batch_size: int) -> Iterator[RawBatch]:
    if reader.name == "jsonl":  # jsonl.py has no read_input: its line decoder takes any input
        return read_json_lines(reader.name, reader.kind, path, inp, batch_size)
    return reader.read_input(path, inp, batch_size=batch_size)


def _shift(batch: RawBatch, *, base_line: int, base_offset: int, prefix: int, prefix_lines: int) -> None:
    """Record numbers and offsets counted in a range input -> counted in the whole file (in place).

    Items on the prefix lines (a header already read by an earlier poll) are dropped.
    """
    if prefix_lines:
        keep = [i for i, p in enumerate(batch.positions) if p > prefix_lines]
        if len(keep) != len(batch.positions):
            batch.records = [batch.records[i] for i in keep]
            batch.positions = [batch.positions[i] for i in keep]
    delta = base_line - prefix_lines
    if delta:
        batch.positions = [p + delta for p in batch.positions]
    dead: list[DeadLetter] = []
    for d in batch.dead_letters:
        record, offset = d.origin.record, d.origin.offset
        if record is not None and record <= prefix_lines:
            continue
        origin = Origin(
            d.origin.source,
            d.origin.path,
            None if record is None else record + delta,
            None if offset is None else offset - prefix + base_offset,
            d.origin.field,
        )
        dead.append(dataclasses.replace(d, origin=origin))
    batch.dead_letters = dead


def _unchanged(name: str | Path, st: os.stat_result, cursor: FileCursor) -> bool:
    """Whether a file has nothing new for its cursor, told without opening it (polls stay cheap):
    a document read to its end and unchanged since, or every line taken and nothing appended."""
    if cursor.path != str(name):
        return False
    if cursor.done and cursor.size == st.st_size and cursor.mtime_ns == st.st_mtime_ns:
        return True
    return cursor.mode == "lines" and bool(cursor.reader) and st.st_size == cursor.offset


class TailSource:
    """Files and folders read as they grow; see the module docstring."""

    resumable: ClassVar[bool] = True

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        input_format: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        settle_seconds: float = 2.0,
        partial_line_seconds: float | None = 60.0,
        watch: Watch = "auto",
        rescan_seconds: float | None = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}", code="bad_option")
        if watch not in WATCH_MODES:
            raise ConfigError(f"watch must be one of {', '.join(WATCH_MODES)}, not {watch!r}", code="bad_option")
        if rescan_seconds is not None and rescan_seconds < 0:
            raise ConfigError(f"rescan_seconds must not be negative, not {rescan_seconds}", code="bad_option")
        if watch == "inotify" and not inotify.available():
            raise ConfigError("watch: inotify needs Linux; use watch: auto or poll here", code="bad_option")
        if input_format:
            readers.get(input_format)  # an unknown format fails now, naming the known ones
        self.paths = [Path(p) for p in paths]
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.input_format = input_format
        self.batch_size = batch_size
        #: a document is read once unchanged (size and mtime) for this long
        self.settle_seconds = settle_seconds
        #: a last line without line end is taken once the file is unchanged for this long (None: never)
        self.partial_line_seconds = partial_line_seconds
        #: how a poll finds what changed: see the module docstring
        self.watch: Watch = watch
        #: with inotify, walk every folder anyway this often (None: only when inotify says so)
        self.rescan_seconds = rescan_seconds
        self.stats = TailStats()
        self._clock = clock
        self._roots = [os.path.abspath(p) for p in self.paths]
        self._reported: set[tuple[str, str]] = set()  # (path or key, code) logged once
        self._inotify = watch == "inotify" or (watch == "auto" and inotify.available())
        self._watched: WatchedFiles | None = None  # made by the first poll
        self._watch_retry = 0.0  # after inotify failed: not before this time
        #: keys whose file was unchanged for their cursor (this one) at a poll, and has had no event since
        self._judged: dict[str, FileCursor] = {}

    def close(self) -> None:
        """Close the inotify descriptor (a later poll makes a new one, and walks first)."""
        if self._watched is not None:
            self._watched.close()
            self._watched = None
        self._judged.clear()

    # -- the poll ----------------------------------------------------------------------------------

    def poll(self, cursors: Mapping[str, FileCursor], *, final: bool = False) -> Iterator[tuple[RawBatch, FileCursor]]:
        """Read what is new since ``cursors``; yield each batch with its file's cursor after it.

        ``final``: the end of input: take last lines without line end and documents that have not
        settled.  A batch may be empty: it only moves the cursor on (lines with no record, a
        document that holds nothing new).
        """
        cursors = dict(cursors)  # the caller updates its dict while we run
        self.stats.polls += 1
        self.stats.gone = []
        now = self._clock()
        present: dict[str, Pair] = {}
        changed: set[str] = set()
        watched = self._listing(now)
        if watched is not None:
            try:
                walks = watched.walks
                present, changed, missing = watched.update(now)
                self.stats.walks += watched.walks - walks
            except Exception as exc:  # whatever broke, a walk still finds the files
                self._watch_failed(exc, now)
                watched = None
            else:
                for code, what, message in watched.warnings:
                    self._event(code, what, message)
                watched.warnings.clear()
                for index, root in enumerate(self.paths):
                    if index in missing:
                        self._event("missing_path", str(root), "A watched path does not exist (yet).")
                    else:
                        self._reported.discard((str(root), "missing_path"))
        if watched is None:
            present = {}
            for name, st in self._discover():
                present.setdefault(file_key(st), (name, st))
            self.stats.walks += 1
        followed: list[tuple[str | Path, os.stat_result, FileCursor | None]] = []
        beside: dict[str, dict[str, tuple[Path, os.stat_result]]] = {}
        unlisted = cursors.keys() - present.keys()  # most polls: none, told without a loop in Python
        for key, cursor in cursors.items() if unlisted else ():
            if key not in unlisted or not self._owns(cursor.path):
                continue
            hit = self._find_beside(cursor, beside)
            if hit is None:
                self.stats.gone.append(key)
                continue
            if (key, "rotated") not in self._reported:
                self._reported.add((key, "rotated"))
                self.stats.events["rotated"] += 1
                logger.info("Following a rotated file.", extra={"path": str(hit[0]), "was": cursor.path})
            followed.append((hit[0], hit[1], cursor))
        known: list[tuple[str | Path, os.stat_result, FileCursor | None]]
        new: list[tuple[str | Path, os.stat_result, FileCursor | None]]
        if watched is None:
            # most files of a large folder have nothing new: told from their stat alone, here
            known = [(p, st, c) for k, (p, st) in present.items()
                     if (c := cursors.get(k)) is not None and not _unchanged(p, st, c)]
            new = [(p, st, None) for k, (p, st) in present.items() if k not in cursors]
        else:
            known, new = self._changed(watched, present, changed, cursors)
        for path, st, cursor in followed + known + new:
            for batch, after in self._file(path, st, cursor, final, now):
                self.stats.batches += 1
                self.stats.records += len(batch)
                yield batch, after

    def _changed(
        self, watched: WatchedFiles, present: dict[str, Pair], changed: set[str], cursors: dict[str, FileCursor]
    ) -> tuple[list[tuple[str | Path, os.stat_result, FileCursor | None]],
               list[tuple[str | Path, os.stat_result, FileCursor | None]]]:
        """``known`` and ``new`` of a poll from the files that changed since the last one: a file
        judged unchanged for its cursor stays so while neither the file (no event) nor the cursor
        changes; the others are judged again, in the walk's order."""
        judged = self._judged
        for key in changed:
            judged.pop(key, None)
        if judged and not judged.items() <= cursors.items():  # the caller changed some cursors
            for key, cursor in list(judged.items()):
                if cursors.get(key) != cursor:
                    del judged[key]
        candidates = present.keys() - judged.keys()
        if len(candidates) * 4 > len(present):
            keys = [key for key in present if key in candidates]
        else:
            keys = sorted(candidates, key=watched.order().__getitem__)
        known: list[tuple[str | Path, os.stat_result, FileCursor | None]] = []
        new: list[tuple[str | Path, os.stat_result, FileCursor | None]] = []
        for key in keys:
            path, st = present[key]
            cursor = cursors.get(key)
            if cursor is None:
                new.append((path, st, None))
            elif _unchanged(path, st, cursor):
                judged[key] = cursor
            else:
                known.append((path, st, cursor))
        return known, new

    def _listing(self, now: float) -> WatchedFiles | None:
        """The inotify listing (made now if need be), or None: walk."""
        if not self._inotify:
            return None
        watched = self._watched
        if watched is not None and watched.pid != os.getpid():
            # a forked child: the descriptor is shared with the parent, whose events it would take
            watched.close()
            watched = self._watched = None
        if watched is None:
            if 0 < self._watch_retry - now <= (self.rescan_seconds or RETRY_SECONDS):
                return None  # failed a moment ago: walk until then (a clock set back does not stop it)
            self._judged.clear()
            try:
                watched = WatchedFiles(self.paths, include=self.include, exclude=self.exclude,
                                       rescan_seconds=self.rescan_seconds)
            except OSError as exc:
                self._watch_failed(exc, now)
                return None
            self._watched = watched
        return watched

    def _watch_failed(self, exc: Exception, now: float) -> None:
        """inotify failed: walk on every poll, and try again after ``rescan_seconds``."""
        self.stats.events["watch_error"] += 1
        if ("", "watch_error") not in self._reported:
            self._reported.add(("", "watch_error"))
            logger.warning("The inotify watch failed; walking the watched folders on every poll for now.",
                           extra={"path": str(self.paths[0]) if self.paths else "", "code": "watch_error",
                                  "error": f"{type(exc).__name__}: {exc}"})
        if self._watched is not None:
            self._watched.close()
            self._watched = None
        self._judged.clear()
        self._watch_retry = now + (self.rescan_seconds or RETRY_SECONDS)

    def _discover(self) -> list[tuple[str, os.stat_result]]:
        found: list[tuple[str, os.stat_result]] = []
        for root in self.paths:
            try:
                found.extend(discover_names([root], include=self.include, exclude=self.exclude))
            except InputError as exc:
                self._event(exc.code, str(root), "A watched path does not exist (yet).")
                continue
            self._reported.discard((str(root), "missing_path"))
        return found

    def _owns(self, path: str) -> bool:
        """Whether a cursor's file is one of ours: under a watched folder, a watched file, or a
        rotated name of a watched file beside it (``auth.log.1``, ``auth.log-20240501``)."""
        full = os.path.abspath(path)
        for root in self._roots:
            if full == root or full.startswith(root.rstrip(os.sep) + os.sep):
                return True
            if os.path.dirname(full) == os.path.dirname(root) and os.path.basename(full).startswith(
                os.path.basename(root)
            ):
                return True
        return False

    def _find_beside(
        self, cursor: FileCursor, cache: dict[str, dict[str, tuple[Path, os.stat_result]]]
    ) -> tuple[Path, os.stat_result] | None:
        """The file with the cursor's identity in the directory of its last known path."""
        folder = os.path.dirname(os.path.abspath(cursor.path))
        if folder not in cache:
            entries: dict[str, tuple[Path, os.stat_result]] = {}
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        try:
                            if entry.is_file():
                                st = entry.stat()
                                entries.setdefault(file_key(st), (Path(entry.path), st))
                        except OSError:
                            continue
            except OSError:
                pass
            cache[folder] = entries
        return cache[folder].get(cursor.key)

    def _event(self, code: str, what: str, message: str, *, once: bool = True) -> None:
        self.stats.events[code] += 1
        if once and (what, code) in self._reported:
            return
        self._reported.add((what, code))
        logger.warning(message, extra={"path": what, "code": code})

    # -- one file ----------------------------------------------------------------------------------

    def _file(
        self, name: str | Path, st: os.stat_result, cursor: FileCursor | None, final: bool, now: float
    ) -> Iterator[tuple[RawBatch, FileCursor]]:
        if cursor is not None and _unchanged(name, st, cursor):
            return
        path = Path(name)
        key = file_key(st)
        given = cursor
        end, last = 0, False
        try:
            with open(path, "rb") as fh:
                if file_key(os.fstat(fh.fileno())) != key:
                    # renamed since it was listed, another file in its place: the next poll lists both
                    raise FileNotFoundError(path)
                cursor = self._check(path, st, cursor, fh)
                reader: FileReader | None = None
                if cursor is not None:
                    try:
                        reader = readers.get(cursor.reader)()
                    except ConfigError:
                        cursor = None
                if cursor is None or reader is None:
                    made = self._start(path, st, fh, final, now)
                    if made is None:
                        return
                    cursor, reader = made
                if cursor.mode == "lines":
                    end, last = self._line_end(st, cursor, fh, final, now)
            if cursor.mode == "lines":
                batches = self._read_lines(path, cursor, reader, end, last)
            else:
                batches = self._read_document(path, st, cursor, reader, final, now)
            moved = given is not None and given.key == cursor.key and given.path != cursor.path
            with contextlib.closing(batches):
                for item in batches:
                    moved = False
                    yield item
            if moved:  # renamed, nothing new: the cursor alone takes the new name (else: renamed on every poll)
                done = cursor.offset if cursor.mode == "lines" else st.st_size
                yield RawBatch(reader.name, str(path), reader.kind, [], [], [], done), cursor
        except FileNotFoundError:
            self._event("vanished", str(path), "A file vanished before it was read.", once=False)
        except OSError as exc:
            if (key, "unreadable_file") in self._reported:
                return
            self._reported.add((key, "unreadable_file"))
            self.stats.events["unreadable_file"] += 1
            source = cursor.reader if cursor is not None else (self.input_format or "files")
            dead = DeadLetter(
                Origin(source, str(path)),
                "ingest",
                "unreadable_file",
                f"cannot read the file: {exc.strerror or exc} ({type(exc).__name__})",
            )
            after = cursor or FileCursor(key, str(path), "", "lines", "", 0)
            yield RawBatch(source, str(path), "json", [], [], [dead], 0), after

    def _check(self, path: Path, st: os.stat_result, cursor: FileCursor | None, fh: object) -> FileCursor | None:
        """The cursor if it still describes this file (fingerprint extended), else None (read anew)."""
        if cursor is None or not cursor.reader:
            return None
        digest, length, data = fingerprint(fh, cursor.reader, st.st_size)
        shrunk = st.st_size < (cursor.offset if cursor.mode == "lines" else (cursor.size or 0))
        if shrunk or not same_prefix(data, cursor.fingerprint, cursor.fp_len):
            if os.path.abspath(path) == os.path.abspath(cursor.path):
                what = "truncated" if shrunk else "replaced"
                self._event(what, str(path), "A file was truncated or rewritten; reading it again from the start.",
                            once=False)
            else:  # the inode of a deleted file, reused
                logger.info("A new file has the identity of one read before.", extra={"path": str(path)})
            return None
        if str(path) != cursor.path:
            self.stats.events["renamed"] += 1
            cursor = cursor.moved(cursor.key, str(path))
        if length > cursor.fp_len:
            cursor = cursor.at(fingerprint=digest, fp_len=length)
        return cursor

    def _start(
        self, path: Path, st: os.stat_result, fh: object, final: bool, now: float
    ) -> tuple[FileCursor, FileReader] | None:
        """A fresh cursor and reader for a file read from the start; None while it cannot be told yet."""
        found = detect_reader(path, self.input_format)
        if found is None:
            if st.st_size and (str(path), "skipped") not in self._reported:
                self._reported.add((str(path), "skipped"))
                self.stats.skipped.append((path, "no reader recognises this file"))
                logger.info("No reader recognises a file; skipped.", extra={"path": str(path)})
            return None
        reader = found()
        fh.seek(0)  # type: ignore[attr-defined]
        compressed = fh.read(2) == GZIP_MAGIC  # type: ignore[attr-defined]
        mode: Mode = "document"
        if not compressed and _can_read_lines(reader):
            head = read_head(path)
            verdict = _json_lines(head) if reader.name == "jsonl" else reader.lines(_complete_head(head))
            if verdict is None and not (final or self._idle(st, now)):
                return None  # no complete line yet: the layout is not known
            mode = "lines" if verdict else "document"
        digest, length, _ = fingerprint(fh, reader.name, st.st_size)
        return FileCursor(file_key(st), str(path), reader.name, mode, digest, length), reader

    def _idle(self, st: os.stat_result, now: float) -> bool:
        return self.partial_line_seconds is not None and now - st.st_mtime >= self.partial_line_seconds

    def _line_end(
        self, st: os.stat_result, cursor: FileCursor, fh: object, final: bool, now: float
    ) -> tuple[int, bool]:
        """Where to stop reading, and whether that is the end of the input (a last line without
        line end, or a CSV row cut there, is taken as it is)."""
        if st.st_size <= cursor.offset:
            return cursor.offset, False
        if final or self._idle(st, now):
            return st.st_size, True
        return _last_line_end(fh, cursor.offset, st.st_size), False

    def _read_lines(
        self, path: Path, cursor: FileCursor, reader: FileReader, end: int, last: bool
    ) -> Iterator[tuple[RawBatch, FileCursor]]:
        if end <= cursor.offset:
            return
        prefix, prefix_lines = reader.header(path) if cursor.offset > 0 else (b"", 0)
        after = cursor
        with RangeInput(path, cursor.offset, end, prefix=prefix, prefix_lines=prefix_lines, final=last) as inp:
            if file_key(os.fstat(inp.raw.fileno())) != cursor.key:
                raise FileNotFoundError(path)  # renamed a moment ago, another file in its place
            for batch in _line_records(reader, path, inp, self.batch_size):
                offset, lines = inp.position()
                _shift(batch, base_line=cursor.line, base_offset=cursor.offset, prefix=len(prefix),
                       prefix_lines=prefix_lines)
                after = cursor.at(offset=offset, line=cursor.line + lines)
                yield batch, after
            offset, lines = inp.position()
        if offset > after.offset:
            empty = RawBatch(reader.name, str(path), reader.kind, [], [], [], offset)
            yield empty, cursor.at(offset=offset, line=cursor.line + lines)

    def _read_document(
        self, path: Path, st: os.stat_result, cursor: FileCursor, reader: FileReader, final: bool, now: float
    ) -> Iterator[tuple[RawBatch, FileCursor]]:
        if cursor.done and cursor.size == st.st_size and cursor.mtime_ns == st.st_mtime_ns:
            return
        if not final and now - st.st_mtime < self.settle_seconds:
            return  # still being written
        high = cursor.record  # records up to this number were taken by earlier passes
        kept_records = kept_dead = 0
        pending_records = pending_dead = 0
        top = high
        pending: RawBatch | None = None
        if file_key(os.stat(path)) != cursor.key:
            raise FileNotFoundError(path)  # renamed a moment ago, another file in its place
        for batch in reader.read(path, batch_size=self.batch_size):
            records, positions = [], []
            for record, position in zip(batch.records, batch.positions, strict=True):
                top = max(top, position)
                if position > high:
                    kept_records += 1
                    if kept_records > cursor.taken:
                        records.append(record)
                        positions.append(position)
            dead = []
            for letter in batch.dead_letters:
                number = letter.origin.record
                if high == 0 or (number is not None and number > high):
                    kept_dead += 1
                    if kept_dead > cursor.taken_dead:
                        dead.append(letter)
            if not records and not dead:
                continue
            if pending is not None:
                yield pending, cursor.at(taken=pending_records, taken_dead=pending_dead, size=None, mtime_ns=None)
            pending = RawBatch(batch.source, batch.path, batch.kind, records, positions, dead, batch.bytes_read)
            pending_records, pending_dead = kept_records, kept_dead
        done = cursor.at(record=top, taken=0, taken_dead=0, size=st.st_size, mtime_ns=st.st_mtime_ns)
        if pending is None:
            pending = RawBatch(reader.name, str(path), reader.kind, [], [], [], st.st_size)
        yield pending, done


__all__ = ["TailSource", "TailStats"]
