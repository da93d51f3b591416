"""Where the tail source stands in each file: :class:`FileCursor`, and how a file is recognised.

A file is known by its identity, not its name, so that a rename (``auth.log`` -> ``auth.log.1``)
keeps its cursor: the key is ``"<device>:<inode>"``.  Inodes are reused once a file is deleted,
so the cursor also keeps a fingerprint, a blake2b hash of the file's first bytes (up to
:data:`FINGERPRINT_SIZE`; fewer while the file is shorter, and the hash is extended as it
grows).  A file whose first bytes no longer match is another file, or one truncated and
rewritten, and is read again from the start.  EVTX files rewrite their header and their first
chunk header as records are added, so their fingerprint starts at the first record.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from autosoc.errors import InputError

FINGERPRINT_SIZE = 1024
#: where the fingerprint starts, per reader: bytes that never change once written
FINGERPRINT_START = {"evtx": 4096 + 512}
CURSOR_VERSION = 1

Mode = Literal["lines", "document"]


def file_key(st: os.stat_result) -> str:
    """The identity of a file: ``"<device>:<inode>"``."""
    return f"{st.st_dev}:{st.st_ino}"


def fingerprint(fh: Any, reader: str, size: int) -> tuple[str, int, bytes]:
    """(hex digest, bytes hashed, the bytes) of the fingerprint region of an open binary file."""
    start = FINGERPRINT_START.get(reader, 0)
    length = max(0, min(FINGERPRINT_SIZE, size - start))
    fh.seek(start)
    data = fh.read(length)
    return hashlib.blake2b(data, digest_size=16).hexdigest(), len(data), data


def same_prefix(data: bytes, digest: str, length: int) -> bool:
    """Whether the first ``length`` bytes of ``data`` hash to ``digest``."""
    if len(data) < length:
        return False
    return hashlib.blake2b(data[:length], digest_size=16).hexdigest() == digest


@dataclass(frozen=True, slots=True)
class FileCursor:
    """How far the tail source has read one file; JSON-able with :meth:`as_dict`.

    ``mode`` is ``"lines"`` for formats read line by line (JSON lines, syslog, CSV, CloudTrail
    JSON lines): ``offset`` bytes and ``line`` lines have been taken, always up to a line end.
    ``"document"`` is for files read whole (EVTX, CloudTrail ``{"Records": [...]}``, ``.gz``,
    pretty-printed JSON): ``record`` is the highest record number taken by the passes that
    finished (a later pass, when the file has grown, skips records up to it); ``taken`` and
    ``taken_dead`` count the records and dead letters already handed out by the pass in
    progress (a resumed pass skips them); ``size`` and ``mtime_ns`` are the file's when the last
    pass finished (None while a pass is in progress): unchanged means nothing new.
    """

    key: str
    path: str
    reader: str
    mode: Mode
    fingerprint: str
    fp_len: int
    offset: int = 0
    line: int = 0
    record: int = 0
    taken: int = 0
    taken_dead: int = 0
    size: int | None = None
    mtime_ns: int | None = None

    @property
    def done(self) -> bool:
        """A document whose last pass finished."""
        return self.size is not None

    def as_dict(self) -> dict[str, Any]:
        # every field is a scalar: no need for asdict()'s recursive deep copy (a poll saves
        # hundreds of cursors)
        return {"v": CURSOR_VERSION, **{name: getattr(self, name) for name in _FIELDS}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileCursor:
        """Rebuild a cursor saved by :meth:`as_dict`; anything else raises ``InputError`` (``bad_cursor``)."""
        try:
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"unknown cursor version {data.get('v')!r}")
            if data["mode"] not in ("lines", "document"):
                raise ValueError(f"unknown mode {data['mode']!r}")
            ints = ("fp_len", "offset", "line", "record", "taken", "taken_dead")
            values = {name: int(data.get(name, 0)) for name in ints}
            if min(values.values()) < 0:
                raise ValueError("negative position")
            return cls(
                key=str(data["key"]),
                path=str(data["path"]),
                reader=str(data["reader"]),
                mode=data["mode"],
                fingerprint=str(data["fingerprint"]),
                size=None if data.get("size") is None else int(data["size"]),
                mtime_ns=None if data.get("mtime_ns") is None else int(data["mtime_ns"]),
                **values,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"saved file cursor is unreadable ({exc}); delete the source's saved state to read its files "
                "again from the start",
                code="bad_cursor",
            ) from exc

    def moved(self, key: str, path: str) -> FileCursor:
        return replace(self, key=key, path=path)

    def at(self, **changes: Any) -> FileCursor:
        return replace(self, **changes)


_FIELDS = tuple(f.name for f in fields(FileCursor))
