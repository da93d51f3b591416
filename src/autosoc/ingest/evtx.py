"""Windows EVTX reader, on the ``evtx`` package (pyevtx-rs).

Each record becomes the ``{"Event": {...}}`` object the package renders as JSON; its position is
its ``EventRecordID``.

How the package reports damage (observed with evtx 0.14, see tests/ingest/test_evtx.py):

* an unreadable file header (not EVTX, shorter than the 4 KiB header, bad magic) makes the
  parser constructor raise ``OSError`` or ``RuntimeError`` -> one ``bad_evtx_file`` dead letter;
* a bad record makes ``next()`` raise ``RuntimeError("Failed to parse record number N: ...")``
  and the iterator goes on with the next record; a broken record header loses the rest of its
  chunk with one such error; a bad chunk raises one ``RuntimeError("Failed to parse chunk ...")``
  and iteration goes on with the next chunk -> one ``bad_evtx_record`` dead letter per error;
* a file cut inside a chunk: the incomplete chunk is dropped **silently**.  This reader notices
  it from the file size (chunks are 64 KiB after a 4 KiB header), salvages the complete records
  of that chunk by parsing it zero-padded, and dead-letters the record cut in half (or the
  whole chunk when nothing in it can be read).

The package's ``skip_errors=True`` turns errors into ``RuntimeWarning`` s instead, which loses
the error detail into the warnings machinery; this reader keeps the default and catches them.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import evtx
import orjson

from autosoc.errors import Origin
from autosoc.ingest._open import raw_text
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.normalize import decode
from autosoc.schema import DeadLetter, RawBatch

MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"**\x00\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512  # chunk header plus its string and template tables; records follow
STAGE = "ingest"
#: give up a file after this many errors in a row (a file of nothing but garbage chunks)
MAX_CONSECUTIVE_ERRORS = 10_000

_RECORD_NUMBER = re.compile(r"record (?:number|IDs) (\d+)")
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")


def _error_origin(source: str, path: str, message: str) -> Origin:
    """Where a parser error happened, as far as its message tells."""
    m = _RECORD_NUMBER.search(message)
    record = int(m.group(1)) if m else None
    m = _CHUNK_NUMBER.search(message)
    offset = HEADER_SIZE + int(m.group(1)) * CHUNK_SIZE if m else None
    return Origin(source, path, record, offset)


def _complete_records(chunk: bytes) -> tuple[set[int], int | None]:
    """Record ids whose bytes are all in ``chunk`` (a chunk cut short), and the id of the cut record."""
    complete: set[int] = set()
    pos = CHUNK_HEADER_SIZE
    while pos + 24 <= len(chunk) and chunk[pos : pos + 4] == RECORD_MAGIC:
        size, record_id = struct.unpack_from("<IQ", chunk, pos + 4)
        if size < 24:
            break
        if pos + size > len(chunk):
            return complete, record_id
        complete.add(record_id)
        pos += size
    return complete, None


@readers.register("evtx")
class EvtxReader(FileReader):
    name = "evtx"
    kind = "windows"
    suffixes = (".evtx",)
    columnar = True

    def __init__(self, *, threads: int = 0) -> None:
        #: worker threads of the Rust parser; 0 lets it use every core
        self.threads = threads

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        return 100 if head.startswith(MAGIC) else 0

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE, columnar: bool = False) -> Iterator[RawBatch]:
        """Batches of records; with ``columnar``, batches of raw columns where the C decoder takes
        every record of a batch (see :mod:`autosoc.normalize.decode`), records where it does not."""
        spath = str(path)
        size = path.stat().st_size
        try:
            parser = evtx.PyEvtxParser(spath, self.threads)
        except (OSError, RuntimeError, ValueError) as exc:
            with open(path, "rb") as fh:
                head = fh.read(64)
            what = "not an EVTX file" if not head.startswith(MAGIC) else "unreadable EVTX file header"
            dead = DeadLetter(
                Origin(self.name, spath, None, 0), STAGE, "bad_evtx_file", f"{what}: {exc}", raw_text(head)
            )
            yield RawBatch(self.name, spath, self.kind, [], [], [dead], size)
            return
        with open(path, "rb") as fh:
            header = fh.read(HEADER_SIZE)
            fh.seek(HEADER_SIZE)
            first_chunk = fh.read(32)
        first_id = struct.unpack_from("<Q", first_chunk, 24)[0] if first_chunk.startswith(CHUNK_MAGIC) else 1
        next_id = struct.unpack_from("<Q", header, 24)[0]
        span = max(next_id - first_id, 1)

        done = 0

        def progress(record_id: int) -> int:  # bytes_read estimate: record ids grow through the file
            nonlocal done
            done = max(done, min(size, size * (record_id - first_id + 1) // span))
            return done

        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        texts: list[str] = []  # columnar: the JSON of the records in ``positions``, not decoded yet
        columnar = columnar and decode.NATIVE
        last_id = first_id
        errors = 0

        def take(record_id: int, data: str) -> None:
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                dead.append(
                    DeadLetter(
                        Origin(self.name, spath, record_id),
                        STAGE,
                        "bad_evtx_record",
                        f"the parser rendered record {record_id} as invalid JSON: {exc}",
                        data[: DeadLetter.RAW_LIMIT],
                    )
                )
            else:
                records.append(obj)
                positions.append(record_id)

        def batch(bytes_read: int) -> RawBatch:
            nonlocal records, positions, dead, texts
            columns = decode.decode_windows_lines([t.encode() for t in texts]) if texts else None
            if columns is not None:
                out = RawBatch(self.name, spath, self.kind, [], positions, dead, bytes_read, columns)
            else:
                if texts:  # declined: decoded one by one, as without columnar
                    ids, positions = positions, []
                    for record_id, data in zip(ids, texts, strict=True):
                        take(record_id, data)
                out = RawBatch(self.name, spath, self.kind, records, positions, dead, bytes_read)
            records, positions, dead, texts = [], [], [], []
            return out

        for kind, value in self._records(parser):
            if kind == "record":
                record_id, data = value
                if columnar:
                    positions.append(record_id)
                    texts.append(data)
                    last_id = record_id
                else:
                    before = len(records)
                    take(record_id, data)
                    if len(records) > before:
                        last_id = record_id
                errors = 0
            else:
                dead.append(
                    DeadLetter(
                        _error_origin(self.name, spath, value),
                        STAGE,
                        "bad_evtx_record",
                        f"unreadable EVTX data: {value}",
                    )
                )
                errors += 1
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    dead.append(
                        DeadLetter(
                            Origin(self.name, spath),
                            STAGE,
                            "bad_evtx_file",
                            f"gave up after {errors} unreadable records or chunks in a row",
                        )
                    )
                    break
            if len(positions) >= batch_size or len(dead) >= batch_size:
                yield batch(progress(last_id))

        tail = (size - HEADER_SIZE) % CHUNK_SIZE
        if tail:
            if texts:  # the salvaged records are dicts: what was read before goes first
                yield batch(progress(last_id))
            salvaged, lost = self._salvage_tail(path, size - tail, header)
            for obj, record_id in salvaged:
                records.append(obj)
                positions.append(record_id)
                if len(records) >= batch_size:
                    yield batch(size)
            dead.extend(lost)
        if positions or dead:
            yield batch(size)

    @staticmethod
    def _records(parser: Any) -> Iterator[tuple[str, Any]]:
        """("record", (id, json text)) per record and ("error", message) per parser error."""
        it = parser.records_json()
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except (RuntimeError, OSError, ValueError) as exc:
                yield "error", str(exc)
                continue
            yield "record", (rec["event_record_id"], rec["data"])

    def _salvage_tail(
        self, path: Path, chunk_offset: int, header: bytes
    ) -> tuple[list[tuple[dict[str, Any], int]], list[DeadLetter]]:
        """Read the complete records of the chunk the file is cut in (at most 64 KiB)."""
        spath = str(path)
        with open(path, "rb") as fh:
            fh.seek(chunk_offset)
            chunk = fh.read(CHUNK_SIZE)
        complete, cut = _complete_records(chunk)
        salvaged: list[tuple[dict[str, Any], int]] = []
        dead: list[DeadLetter] = []
        missing = f"the file is truncated: its last chunk has {len(chunk)} of {CHUNK_SIZE} bytes"
        if chunk.startswith(CHUNK_MAGIC) and complete:
            padded = io.BytesIO(header + chunk + b"\x00" * (CHUNK_SIZE - len(chunk)))
            try:
                parser = evtx.PyEvtxParser(padded, 1)
            except (OSError, RuntimeError, ValueError):
                parser = None
            if parser is not None:
                for kind, value in self._records(parser):
                    if kind == "record" and value[0] in complete:
                        try:
                            salvaged.append((orjson.loads(value[1]), value[0]))
                        except orjson.JSONDecodeError:
                            continue
        got = {record_id for _, record_id in salvaged}
        for record_id in sorted(complete - got):
            dead.append(
                DeadLetter(
                    Origin(self.name, spath, record_id, chunk_offset),
                    STAGE,
                    "bad_evtx_record",
                    f"{missing}; record {record_id} in it could not be read",
                )
            )
        if cut is not None:
            dead.append(
                DeadLetter(
                    Origin(self.name, spath, cut, chunk_offset),
                    STAGE,
                    "bad_evtx_record",
                    f"{missing}; record {cut} is cut short",
                )
            )
        elif not complete:
            dead.append(
                DeadLetter(
                    Origin(self.name, spath, None, chunk_offset),
                    STAGE,
                    "bad_evtx_record",
                    f"{missing}; no record in it could be read",
                )
            )
        return salvaged, dead
