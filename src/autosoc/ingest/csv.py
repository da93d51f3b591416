"""CSV reader: a header row, then one record per row (plain or gzip).

The header names the keys; each row becomes a dict of strings where empty cells are left out.
A row with more cells than the header has names is dead-lettered (``bad_csv_row``); a row with
fewer simply lacks the missing keys.  A record's position is the 1-based line where its row
starts (a quoted cell may span lines; the ``csv`` module's line counter accounts for that).
Bytes that are not UTF-8 are replaced.  Records are announced as ``kind="json"``: generic
key/value records.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autosoc.errors import Origin
from autosoc.ingest._open import ReadableInput, open_input, strip_gz
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.jsonl import GZIP_ERRORS, gzip_error
from autosoc.schema import DeadLetter, RawBatch

STAGE = "ingest"
CSV_SUFFIXES = (".csv",)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _header(cells: list[str]) -> list[str]:
    """Header cells as keys: stripped, empty ones named ``column<N>``, repeats numbered."""
    keys: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells, 1):
        key = cell.strip() or f"column{i}"
        base, n = key, 1
        while key in seen:
            n += 1
            key = f"{base}_{n}"
        seen.add(key)
        keys.append(key)
    return keys


@readers.register("csv")
class CsvReader(FileReader):
    name = "csv"
    kind = "json"
    suffixes = (".csv", ".csv.gz")

    def __init__(self, *, delimiter: str = ",") -> None:
        self.delimiter = delimiter

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        if not strip_gz(path.name.lower()).endswith(CSV_SUFFIXES) or b"\x00" in head[:4096]:
            return 0
        return 70

    def lines(self, head: bytes) -> bool | None:
        return True

    def header(self, path: Path) -> tuple[bytes, int]:
        """The header row at the top of ``path`` (blank lines before it included): its bytes and lines."""
        consumed: list[bytes] = []

        with open(path, "rb") as fh:

            def pull() -> Iterator[str]:
                for raw in fh:
                    consumed.append(raw)
                    yield raw.decode("utf-8", "replace")

            rows = csv.reader(pull(), delimiter=self.delimiter)
            for cells in rows:
                if cells:
                    return b"".join(consumed), rows.line_num
        return b"", 0

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        with open_input(path) as inp:
            yield from self.read_input(path, inp, batch_size=batch_size)

    def read_input(self, path: Path, inp: ReadableInput, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        spath = str(path)
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        text = inp.text_lines()
        rows = csv.reader(text, delimiter=self.delimiter)
        keys: list[str] | None = None
        width = header_line = 0
        line = 0  # last line of the previous row
        try:
            while True:
                start = line + 1
                try:
                    cells = next(rows)
                except StopIteration:
                    break
                except csv.Error as exc:
                    if not inp.row_end():
                        break
                    line = rows.line_num
                    dead.append(
                        DeadLetter(
                            Origin(self.name, spath, start),
                            STAGE,
                            "bad_csv_row",
                            f"unreadable CSV row: {exc}",
                        )
                    )
                    continue
                if not inp.row_end():  # the row runs on past the data there is (a quoted cell being written)
                    break
                line = rows.line_num
                if not cells:
                    continue  # blank line
                if keys is None:
                    keys, width, header_line = _header(cells), len(cells), start
                    continue
                if len(cells) > width:
                    dead.append(
                        DeadLetter(
                            Origin(self.name, spath, start),
                            STAGE,
                            "bad_csv_row",
                            f"row has {len(cells)} cells but the header (line {header_line}) "
                            f"names {width}",
                            self.delimiter.join(cells)[: DeadLetter.RAW_LIMIT],
                        )
                    )
                else:
                    records.append({k: v for k, v in zip(keys, cells, strict=False) if v})
                    positions.append(start)
                if len(records) >= batch_size or len(dead) >= batch_size:
                    yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
                    records, positions, dead = [], [], []
        except GZIP_ERRORS as exc:
            code, message = gzip_error(exc)
            dead.append(DeadLetter(Origin(self.name, spath, line + 1), STAGE, code, message))
        finally:
            text.close()
        if records or dead:
            yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
