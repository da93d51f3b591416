"""Azure Monitor reader: diagnostic-settings exports ``{"records": [ {...}, ... ]}``, plain or gzip.

This is the shape of an Event Hub message from a diagnostic setting (and of exports saved from
one): Entra ID sign-in and audit logs, risk detections, the Azure Activity log and every
resource log.  A file holds one such object or several one after another (messages saved one
per line); each object is decoded whole (an Event Hub message is at most 1 MB) and its
``records`` become records, a record's position being its 1-based index counted over the whole
file.  Storage-account blobs (``insights-logs-signinlogs/.../PT1H.json``) hold the same records
as JSON lines, one per line, which the ``jsonl`` reader reads (position = line).

Dead-letter codes: ``invalid_json``, ``undecodable_bytes``, ``not_an_object`` (an element of
``records`` that is not an object), ``bad_records`` (no ``records`` array),
``truncated_gzip`` / ``bad_gzip``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from autosoc.errors import Origin
from autosoc.ingest._open import BOM, open_input, raw_text
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.jsonl import GZIP_ERRORS, STAGE, decode_error, gzip_error, json_type, split_json
from autosoc.schema import DeadLetter, RawBatch

#: ``{"records":`` at the start of a file, whitespace allowed (Azure Monitor writes it first).
_RECORDS_FIRST = re.compile(rb'\s*\{\s*"records"\s*:\s*\[')
_RECORDS_KEY = re.compile(rb'"records"\s*:\s*\[')


@readers.register("azure")
class AzureMonitorReader(FileReader):
    name = "azure"
    kind = "json"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        if head.startswith(BOM):
            head = head[3:]
        if _RECORDS_FIRST.match(head):
            return 90
        if head.lstrip()[:1] == b"{" and _RECORDS_KEY.search(head[:4096]):
            return 65  # an object with a records array near the top (above jsonl's 60, below CloudTrail)
        return 0

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        spath = str(path)
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        index = 0
        last_line = 0
        with open_input(path) as inp:
            try:
                for piece in split_json(inp.stream, first_offset=inp.skip_bom()):
                    last_line = piece.line
                    origin = Origin(self.name, spath, None, piece.offset)
                    if piece.error is not None:
                        dead.append(DeadLetter(origin, STAGE, "invalid_json", f"invalid JSON (line {piece.line}): "
                                               f"{piece.error}", raw_text(piece.data)))
                        continue
                    try:
                        doc = orjson.loads(piece.data)
                    except orjson.JSONDecodeError as exc:
                        code, message = decode_error(piece.data, exc)
                        dead.append(DeadLetter(origin, STAGE, code, f"line {piece.line}: {message}",
                                               raw_text(piece.data)))
                        continue
                    items = doc.get("records") if type(doc) is dict else None
                    if not isinstance(items, list):
                        found = ("no 'records' key" if type(doc) is not dict or "records" not in doc
                                 else f"'records' is {json_type(items)}")
                        dead.append(DeadLetter(origin, STAGE, "bad_records",
                                               f"not an Azure Monitor export (line {piece.line}): {found}, "
                                               "expected a 'records' array", raw_text(piece.data[:1024])))
                        continue
                    for item in items:
                        index += 1
                        if type(item) is dict:
                            records.append(item)
                            positions.append(index)
                        else:
                            dead.append(DeadLetter(Origin(self.name, spath, index), STAGE, "not_an_object",
                                                   f"records element {index} is {json_type(item)}, not an object",
                                                   raw_text(orjson.dumps(item))))
                        if len(records) >= batch_size or len(dead) >= batch_size:
                            yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
                            records, positions, dead = [], [], []
            except GZIP_ERRORS as exc:
                code, message = gzip_error(exc)
                dead.append(DeadLetter(Origin(self.name, spath, index + 1 if index else None), STAGE, code,
                                       f"{message} (after line {last_line})"))
            if records or dead:
                yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
