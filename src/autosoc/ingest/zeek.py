"""Zeek reader: native TSV logs (``conn.log``, ``dns.log``, ``http.log``, ...), plain or gzip.

A Zeek ASCII log opens with a header of ``#`` lines::

    #separator \\x09
    #set_separator	,
    #empty_field	(empty)
    #unset_field	-
    #path	conn
    #fields	ts	uid	id.orig_h	id.orig_p	...
    #types	time	string	addr	port	...

and each following line is one record, its values separated by ``#separator``.  A value equal
to ``#unset_field`` is left out (Zeek's JSON writer omits unset fields too); ``#empty_field`` is
an empty string or an empty container.  Values are typed from ``#types`` the way Zeek's JSON
writer types them (``bool`` -> true/false, ``count``/``int``/``port`` -> integers,
``time``/``double``/``interval`` -> numbers, ``set[..]``/``vector[..]`` -> lists split on
``#set_separator``), so the same event read from its TSV and its JSON log has the same fields,
the same values and the same event id.  ``\\xHH`` escapes are decoded.  ``#path`` becomes the
``_path`` field (the name Zeek's JSON streaming logs use).  A header may appear again
mid-file (logs concatenated); ``#close`` and other comment lines are skipped.  Zeek JSON logs
are JSON lines and go to the ``jsonl`` reader.

Position = 1-based line number.  Dead-letter codes: ``missing_header`` (a record before any
``#fields`` line), ``bad_zeek_row`` (a record whose value count differs from ``#fields``),
``bad_zeek_value`` (a value that does not parse as its ``#types`` type),
``undecodable_bytes``, ``truncated_gzip`` / ``bad_gzip``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from autosoc.errors import Origin
from autosoc.ingest._open import ReadableInput, open_input, raw_text
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.jsonl import GZIP_ERRORS, STAGE, gzip_error
from autosoc.schema import DeadLetter, RawBatch

_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")
_CONTAINER = re.compile(r"^(?:set|vector)\[(.+)\]$")


def _unescape(text: str) -> str:
    """Zeek's ``\\xHH`` escapes (separators, non-printable bytes) back to characters."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\x" in text else text


def _bool(text: str) -> bool:
    if text == "T":
        return True
    if text == "F":
        return False
    raise ValueError(f"expected T or F, got {text!r}")


_SCALARS: dict[str, Callable[[str], Any]] = {
    "bool": _bool, "count": int, "int": int, "port": int,
    "double": float, "time": float, "interval": float,
}


class _Header:
    """The ``#`` directives of one Zeek log section."""

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path: str | None = None
        self.fields: list[str] | None = None
        self.types: list[str] = []

    def directive(self, line: str) -> None:
        if line.startswith("#separator"):
            value = line[len("#separator"):].strip()
            self.separator = _unescape(value) if value else "\t"
            return
        name, _, value = line[1:].partition(self.separator)
        if name == "set_separator":
            self.set_separator = _unescape(value)
        elif name == "empty_field":
            self.empty = value
        elif name == "unset_field":
            self.unset = value
        elif name == "path":
            self.path = value
        elif name == "fields":
            self.fields = value.split(self.separator)
            self.types = []
        elif name == "types":
            self.types = value.split(self.separator)

    def convert(self, kind: str, text: str) -> Any:
        container = _CONTAINER.match(kind)
        if container is not None:
            if text == self.empty:
                return []
            inner = _SCALARS.get(container.group(1))
            items = [_unescape(item) for item in text.split(self.set_separator)]
            return [inner(item) for item in items] if inner else items
        if text == self.empty:
            return ""
        scalar = _SCALARS.get(kind)
        return scalar(text) if scalar else _unescape(text)

    def record(self, values: list[str]) -> dict[str, Any]:
        assert self.fields is not None
        out: dict[str, Any] = {}
        if self.path:
            out["_path"] = self.path
        types = self.types
        for i, (name, text) in enumerate(zip(self.fields, values, strict=True)):
            if text == self.unset:
                continue
            kind = types[i] if i < len(types) else "string"
            try:
                out[name] = self.convert(kind, text)
            except ValueError as exc:
                raise ValueError(f"field {name!r} ({kind}): {exc}") from exc
        return out


@readers.register("zeek")
class ZeekReader(FileReader):
    name = "zeek"
    kind = "json"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        if head.startswith(b"#separator") and b"\n#fields" in head[:8192]:
            return 95
        if head.startswith(b"#separator"):
            return 80
        return 0

    def lines(self, head: bytes) -> bool | None:
        return True  # one record per line: tailed line by line

    def header(self, path: Path) -> tuple[bytes, int]:
        """The ``#`` directive lines at the top of ``path`` (what every later line needs): bytes and count."""
        consumed: list[bytes] = []
        with open_input(path) as inp:
            for raw_line in inp.stream:
                if not raw_line.startswith(b"#"):
                    break
                consumed.append(raw_line)
        return b"".join(consumed), len(consumed)

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        with open_input(path) as inp:
            yield from self.read_input(path, inp, batch_size=batch_size)

    def read_input(self, path: Path, inp: ReadableInput, *, batch_size: int = DEFAULT_BATCH_SIZE
                   ) -> Iterator[RawBatch]:
        spath = str(path)
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        header = _Header()
        lineno = 0
        try:
            inp.skip_bom()
            for raw_line in inp.stream:
                lineno += 1
                try:
                    line = raw_line.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    dead.append(DeadLetter(Origin(self.name, spath, lineno), STAGE, "undecodable_bytes",
                                           f"invalid UTF-8 at byte {exc.start}: {exc.reason}",
                                           raw_text(raw_line)))
                    continue
                if not line:
                    continue
                if line[0] == "#":
                    header.directive(line)
                    continue
                letter = self._record(header, line, spath, lineno, records, positions)
                if letter is not None:
                    dead.append(letter)
                if len(records) >= batch_size or len(dead) >= batch_size:
                    yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
                    records, positions, dead = [], [], []
        except GZIP_ERRORS as exc:
            code, message = gzip_error(exc)
            dead.append(DeadLetter(Origin(self.name, spath, lineno + 1), STAGE, code, message))
        if records or dead:
            yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())

    def _record(self, header: _Header, line: str, spath: str, lineno: int,
                records: list[dict[str, Any]], positions: list[int]) -> DeadLetter | None:
        origin = Origin(self.name, spath, lineno)
        if header.fields is None:
            return DeadLetter(origin, STAGE, "missing_header",
                              "a record before any '#fields' line: not a Zeek log, or its header is missing",
                              raw_text(line))
        values = line.split(header.separator)
        if len(values) != len(header.fields):
            return DeadLetter(origin, STAGE, "bad_zeek_row",
                              f"the record has {len(values)} values but '#fields' names {len(header.fields)}",
                              raw_text(line))
        try:
            records.append(header.record(values))
        except ValueError as exc:
            return DeadLetter(origin, STAGE, "bad_zeek_value", f"bad value: {exc}", raw_text(line))
        positions.append(lineno)
        return None
