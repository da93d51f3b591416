"""Finding input files, picking a reader for each, and reading them one after another.

* :func:`discover` expands the paths a user gave (files and directories) into a sorted list of
  files, filtered by glob patterns;
* :func:`detect_reader` picks the reader of one file: a forced format, a suffix a reader claims
  (``.evtx``), the EVTX magic, else the reader whose ``sniff`` scores the file's first 64 KiB
  (gunzipped) highest; ``None`` when no reader recognises it;
* :func:`read_files` reads files in turn and yields their batches; a file no reader recognises is
  reported in ``skipped``, a file that cannot be read becomes one dead letter (``unreadable_file``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path

from autosoc.errors import InputError, Origin
from autosoc.ingest._open import HEAD_SIZE, read_head, strip_gz
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.schema import DeadLetter, RawBatch

__all__ = ["DEFAULT_BATCH_SIZE", "detect_reader", "discover", "read_files"]

EVTX_MAGIC = b"ElfFile\x00"


def _matches(patterns: Sequence[str], name: str, rel: str) -> bool:
    """Whether a glob matches the file name or its path relative to the walked directory.

    ``*`` also matches ``/`` (fnmatch), and a leading ``**/`` may match nothing, so
    ``**/sysmon/*.json`` matches both ``sysmon/a.json`` and ``host1/sysmon/a.json``.
    """
    for pattern in patterns:
        if fnmatch(name, pattern) or fnmatch(rel, pattern):
            return True
        if pattern.startswith("**/") and fnmatch(rel, pattern[3:]):
            return True
    return False


def discover(
    paths: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Path]:
    """Expand files and directories into a deterministic list of files.

    A file given directly is always kept.  A directory is walked recursively, skipping hidden
    entries (names starting with ``.``), and its files are listed sorted by their path relative
    to it (``a/x.log`` before ``b.log``); they are kept when they match one of ``include`` (if
    any) and none of ``exclude``, each a glob matched against the file name and against its path
    relative to that directory.  A file reached twice is listed once.  A path
    that does not exist raises :class:`~autosoc.errors.InputError` (``missing_path``).
    """
    return [path for path, _ in discover_stat(paths, include=include, exclude=exclude)]


def discover_stat(
    paths: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[tuple[Path, os.stat_result]]:
    """:func:`discover`, each file with its ``stat`` (symbolic links followed), taken once."""
    return [(Path(path), info) for path, info in discover_names(paths, include=include, exclude=exclude)]


def discover_names(
    paths: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[tuple[str, os.stat_result]]:
    """:func:`discover_stat` with the paths as text: a tail source lists thousands of files on
    every poll and opens few of them, and a ``Path`` costs more to make than the ``stat``."""
    found: list[tuple[str, os.stat_result]] = []
    seen: set[str] = set()  # real paths: a file reached twice (a symlink, a second root) is listed once

    def add(path: str, real: str, info: os.stat_result) -> None:
        if real not in seen:
            seen.add(real)
            found.append((path, info))

    for given in paths:
        root = os.fspath(given)
        try:
            info = os.stat(root)
        except OSError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode):
            add(str(Path(root)), os.path.realpath(root), info)
            continue
        if info is None or not stat.S_ISDIR(info.st_mode):
            what = "does not exist" if info is None else "is neither a file nor a directory"
            raise InputError(
                f"input path {root!r} {what}; check the spelling, or give an existing log file or a "
                "directory of log files",
                code="missing_path",
                origin=Origin("files", root),
            )
        walked: list[tuple[tuple[str, ...], str, str, os.stat_result]] = []
        _walk(str(Path(root)), os.path.realpath(root), (), walked, include, exclude)
        walked.sort(key=lambda w: w[0])
        for _, path, real, info in walked:
            add(path, real, info)
    return found


def _walk(folder: str, real_dir: str, parts: tuple[str, ...],
          out: list[tuple[tuple[str, ...], str, str, os.stat_result]],
          include: Sequence[str], exclude: Sequence[str]) -> None:
    """One folder's visible files (with their real path and stat) and, recursively, its sub-folders.

    ``real_dir`` is the folder's real path: a sub-folder is entered only when it is not a link,
    so its real path is ``real_dir`` and its name (one ``realpath`` per walk, not per folder)."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return  # vanished or unreadable: as os.walk, skip it
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                _walk(entry.path, os.path.join(real_dir, name), (*parts, name), out, include, exclude)
                continue
            if include or exclude:
                rel = "/".join((*parts, name))
                if include and not _matches(include, name, rel):
                    continue
                if exclude and _matches(exclude, name, rel):
                    continue
            link = entry.is_symlink()
            info = entry.stat(follow_symlinks=True)
        except OSError:
            continue  # vanished, or a dangling link
        if stat.S_ISREG(info.st_mode):  # not a socket or fifo
            real = os.path.realpath(entry.path) if link else os.path.join(real_dir, name)
            out.append(((*parts, name), entry.path, real, info))


def detect_reader(path: Path, fmt: str | None = None) -> type[FileReader] | None:
    """The reader for ``path``: forced by ``fmt``, claimed by suffix or magic, or sniffed.

    An unknown ``fmt`` raises :class:`~autosoc.errors.ConfigError` naming the known readers.
    Returns ``None`` when no reader scores the file above 0.  Raises :class:`OSError` when the
    file cannot be read.
    """
    if fmt:
        return readers.get(fmt)
    name = path.name.lower()
    for _, reader in readers:
        if reader.suffixes and name.endswith(tuple(s.lower() for s in reader.suffixes)):
            return reader
    head = read_head(path, HEAD_SIZE)
    if head.startswith(EVTX_MAGIC) and "evtx" in readers:
        return readers.get("evtx")
    best: type[FileReader] | None = None
    best_score = 0
    for _, reader in readers:
        score = reader.sniff(head, path)
        if score > best_score:
            best, best_score = reader, score
    return best


def _reason(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    if size == 0:
        return "empty file"
    kind = "compressed " if path.name.lower().endswith(".gz") else ""
    known = ", ".join(readers.names())
    return (
        f"no reader recognises this {kind}file ({strip_gz(path.name)}); known formats: {known} "
        "(force one with --format)"
    )


def _unreadable(path: Path, fmt: str | None, exc: OSError) -> RawBatch:
    source = fmt or "files"
    reason = exc.strerror or str(exc)
    dead = DeadLetter(
        Origin(source, str(path)),
        "ingest",
        "unreadable_file",
        f"cannot read the file: {reason} ({type(exc).__name__})",
    )
    return RawBatch(source, str(path), "json", [], [], [dead], 0)


def read_files(
    files: Iterable[Path],
    *,
    fmt: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    skipped: list[tuple[Path, str]] | None = None,
    columnar: bool = False,
) -> Iterator[RawBatch]:
    """Read ``files`` in order, yielding each file's batches.

    ``fmt`` forces one reader for every file.  With ``columnar``, readers that can (see
    :attr:`FileReader.columnar`) may yield raw columns instead of records: for a consumer that
    only passes the batches to :func:`~autosoc.normalize.normalize`.  A file no reader recognises is appended to
    ``skipped`` as ``(path, reason)``; a file that cannot be opened or read (permission denied,
    vanished, I/O error) yields one batch holding only an ``unreadable_file`` dead letter.
    """
    for path in files:
        path = Path(path)
        try:
            reader = detect_reader(path, fmt)
        except OSError as exc:
            yield _unreadable(path, fmt, exc)
            continue
        if reader is None:
            if skipped is not None:
                skipped.append((path, _reason(path)))
            continue
        try:
            if columnar and reader.columnar:
                yield from reader().read(path, batch_size=batch_size, columnar=True)
            else:
                yield from reader().read(path, batch_size=batch_size)
        except OSError as exc:
            batch = _unreadable(path, reader.name, exc)
            batch.kind = reader.kind
            yield batch
