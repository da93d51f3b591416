"""AWS CloudTrail reader: ``{"Records": [ {...}, ... ]}`` log files, plain or gzip, and JSON lines.

A log file as CloudTrail delivers it (``Records`` is the first key) is streamed element by
element with :func:`~autosoc.ingest.jsonl.split_json`, so memory stays bounded whatever the file
size; a record's position is its 1-based index in ``Records``.  A file where ``Records`` is not
the first key is decoded whole (the only case that is not streamed).  JSON lines where every
line is one CloudTrail record (``eventVersion``, ``eventSource``, ``eventName``) are read like
the JSON-lines reader does: position = line number.

Dead-letter codes: ``invalid_json`` (the file, or one element, does not decode: no exception,
and streaming stops at a structural break), ``undecodable_bytes``, ``not_an_object`` (a
``Records`` element that is not an object), ``bad_records`` (no ``Records`` array at all),
``truncated_gzip`` / ``bad_gzip``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from autosoc.errors import Origin
from autosoc.ingest._open import BOM, Input, ReadableInput, open_input, raw_text, read_head
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.jsonl import (
    GZIP_ERRORS,
    STAGE,
    decode_error,
    gzip_error,
    has_json_suffix,
    json_type,
    read_json_lines,
    split_json,
)
from autosoc.schema import DeadLetter, RawBatch

#: ``{"Records":`` at the start of a file, whitespace allowed.
_RECORDS_FIRST = re.compile(rb'\s*\{\s*"Records"\s*:\s*')
_RECORDS_KEY = re.compile(rb'"Records"\s*:\s*\[')
#: keys every CloudTrail record has
_RECORD_KEYS = (b'"eventVersion"', b'"eventSource"', b'"eventName"')


def _is_record_line(line: bytes) -> bool:
    """Whether a line is one CloudTrail record (a whole one, or the start of a long one)."""
    line = line.strip()
    if line[:1] != b"{" or not all(key in line for key in _RECORD_KEYS):
        return False
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return b'"Records"' not in line  # cut short by the head: judge by the keys
    return isinstance(value, dict) and all(key[1:-1].decode() in value for key in _RECORD_KEYS)


@readers.register("cloudtrail")
class CloudTrailReader(FileReader):
    name = "cloudtrail"
    kind = "cloudtrail"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        if head.startswith(BOM):
            head = head[3:]
        if _RECORDS_FIRST.match(head):
            return 90
        first = head.lstrip().split(b"\n", 1)[0]
        if _is_record_line(first):
            return 85
        if head.lstrip()[:1] == b"{" and _RECORDS_KEY.search(head):
            return 75 if has_json_suffix(path) else 65  # an object with a Records array near the top
        return 0

    def lines(self, head: bytes) -> bool | None:
        """JSON lines of CloudTrail records: True; a ``{"Records": [...]}`` document: False."""
        if head.startswith(BOM):
            head = head[3:]
        if _RECORDS_FIRST.match(head):
            return False
        stripped = head.lstrip()
        if b"\n" not in stripped:
            return None if stripped else False
        return _is_record_line(stripped.split(b"\n", 1)[0])

    def read_input(self, path: Path, inp: ReadableInput, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        """CloudTrail JSON lines from a line boundary on (the document layout is read whole by ``read``)."""
        return read_json_lines(self.name, self.kind, path, inp, batch_size)

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        head = read_head(path)
        if head.startswith(BOM):
            head = head[3:]
        with open_input(path) as inp:
            if (m := _RECORDS_FIRST.match(head)) and len(head) > m.end():
                yield from self._stream_records(path, inp, batch_size)
            elif _is_record_line(head.lstrip().split(b"\n", 1)[0]):
                yield from read_json_lines(self.name, self.kind, path, inp, batch_size)
            else:
                yield from self._whole_file(path, inp, batch_size)

    def _stream_records(self, path: Path, inp: Input, batch_size: int) -> Iterator[RawBatch]:
        spath = str(path)
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        index = 0
        offset = 0
        try:
            offset = inp.skip_bom()
            prefix = inp.stream.peek(4096)[:4096]  # type: ignore[attr-defined]
            m = _RECORDS_FIRST.match(prefix)
            if m is None:  # the head said otherwise; decode the file whole
                yield from self._whole_file(path, inp, batch_size)
                return
            inp.stream.read(m.end())
            offset += m.end()
            lines = prefix.count(b"\n", 0, m.end())
            for piece in split_json(inp.stream, first_line=1 + lines, first_offset=offset, single=True):
                index, offset = piece.index, piece.offset
                origin = Origin(self.name, spath, index if piece.element else None, piece.offset)
                if not piece.element:
                    dead.append(
                        DeadLetter(
                            origin,
                            STAGE,
                            "bad_records",
                            f"'Records' (line {piece.line}) is not an array",
                            raw_text(piece.data),
                        )
                    )
                elif piece.error is not None:
                    dead.append(
                        DeadLetter(
                            origin,
                            STAGE,
                            "invalid_json",
                            f"invalid JSON in Records element {index} (line {piece.line}): "
                            f"{piece.error}; reading stopped here",
                            raw_text(piece.data),
                        )
                    )
                else:
                    try:
                        obj = orjson.loads(piece.data)
                    except orjson.JSONDecodeError as exc:
                        code, message = decode_error(piece.data, exc)
                        dead.append(
                            DeadLetter(
                                origin,
                                STAGE,
                                code,
                                f"Records element {index} (line {piece.line}, decoding failed at "
                                f"byte {piece.offset + exc.pos}): {message}",
                                raw_text(piece.data),
                            )
                        )
                    else:
                        if type(obj) is dict:
                            records.append(obj)
                            positions.append(index)
                        else:
                            dead.append(
                                DeadLetter(
                                    origin,
                                    STAGE,
                                    "not_an_object",
                                    f"Records element {index} (line {piece.line}) is "
                                    f"{json_type(obj)}, not an object",
                                    raw_text(piece.data),
                                )
                            )
                if len(records) >= batch_size or len(dead) >= batch_size:
                    yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
                    records, positions, dead = [], [], []
        except GZIP_ERRORS as exc:
            code, message = gzip_error(exc)
            dead.append(DeadLetter(Origin(self.name, spath, index + 1, offset), STAGE, code, message))
        if records or dead:
            yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())

    def _whole_file(self, path: Path, inp: Input, batch_size: int) -> Iterator[RawBatch]:
        """A file whose first key is not ``Records``: decoded whole (not streamed)."""
        spath = str(path)
        try:
            data = inp.stream.read()
        except GZIP_ERRORS as exc:
            code, message = gzip_error(exc)
            yield RawBatch(
                self.name,
                spath,
                self.kind,
                [],
                [],
                [DeadLetter(Origin(self.name, spath), STAGE, code, message)],
                inp.consumed(),
            )
            return
        if data.startswith(BOM):
            data = data[3:]
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            code, message = decode_error(data, exc)
            origin = Origin(self.name, spath, None, exc.pos)
            yield RawBatch(
                self.name,
                spath,
                self.kind,
                [],
                [],
                [
                    DeadLetter(
                        origin,
                        STAGE,
                        code,
                        f"the file is not valid JSON: {message}",
                        raw_text(data[max(0, exc.pos - 200) : exc.pos + 200]),
                    )
                ],
                inp.consumed(),
            )
            return
        items = doc.get("Records") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            found = (
                "no 'Records' key"
                if not isinstance(doc, dict) or "Records" not in doc
                else (f"'Records' is {json_type(items)}")
            )
            yield RawBatch(
                self.name,
                spath,
                self.kind,
                [],
                [],
                [
                    DeadLetter(
                        Origin(self.name, spath),
                        STAGE,
                        "bad_records",
                        f"not a CloudTrail log file: {found}, expected a 'Records' array",
                        raw_text(data[:1024]),
                    )
                ],
                inp.consumed(),
            )
            return
        del data, doc
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        for index, item in enumerate(items, 1):
            if type(item) is dict:
                records.append(item)
                positions.append(index)
            else:
                dead.append(
                    DeadLetter(
                        Origin(self.name, spath, index),
                        STAGE,
                        "not_an_object",
                        f"Records element {index} is {json_type(item)}, not an object",
                        raw_text(orjson.dumps(item)),
                    )
                )
            if len(records) >= batch_size or len(dead) >= batch_size:
                yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
                records, positions, dead = [], [], []
        if records or dead:
            yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
