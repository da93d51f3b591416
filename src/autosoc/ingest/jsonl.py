"""JSON reader: JSON lines, one JSON document per file, or JSON documents one after another.

The layout is decided from the first lines of the file:

* **JSON lines** (the fast path): every line is decoded on its own with ``orjson``; a record's
  position is its 1-based line number.  A line holding an array yields one record per element.
* **documents**: pretty-printed documents written one after another (``{ ... }{ ... }`` over many
  lines), or one document, possibly a top-level array.  :func:`split_json` finds where each
  value begins and ends with a tokenizer over a bounded buffer (it never holds more than the
  value being read plus one read block), so a top-level array is streamed element by element.
  A record's position is the 1-based line where its value starts.

A file is read as documents when its first non-empty line does not decode on its own and either
is a lone ``{`` / ``[`` or the line after it does not decode on its own either, or when it
starts with ``[`` on a line longer than the 64 KiB head (a big array on one line is streamed).

Dead-letter codes: ``invalid_json``, ``undecodable_bytes`` (invalid UTF-8), ``not_an_object``,
``truncated_gzip`` / ``bad_gzip`` (reading stops there).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from autosoc.errors import Origin
from autosoc.ingest._open import BOM, HEAD_SIZE, Input, open_input, raw_text, read_head, strip_gz
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.normalize import decode
from autosoc.schema import DeadLetter, RawBatch

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
CHUNK_SIZE = 1 << 20
READ_BLOCK = 1 << 22  # bytes per read on the columnar path of a plain file
STAGE = "ingest"

# Between values: a string (closed on its line), a structural character, a bare word (number,
# literal, colon, garbage), or a lone quote: a string not closed before the end of its line
# (which JSON forbids) or of the data read so far.
_TOKEN = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|[{}\[\],]|[^\s{}\[\],"]+|"')
# Inside a value: everything up to the next bracket, skipping whole strings; what follows the
# match is a bracket, a lone quote (an unterminated string), or the end of the data.
_SKIP = re.compile(rb'(?:[^"{}\[\]]++|"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+")*+')
# Where to resume after a broken value: the next line that starts with "{" or "[".
_RESYNC = re.compile(rb"\n(?=[{\[])")
_LBRACKET, _RBRACE, _RBRACKET, _COMMA, _QUOTE = b'[}],"'
_OPENERS = frozenset(b"{[")
_CLOSERS = frozenset(b"}]")
_PUNCTUATION = frozenset(b"{}[],")


class Piece(NamedTuple):
    """One JSON value cut out of a stream by :func:`split_json`."""

    line: int  # 1-based line where the value starts
    offset: int  # byte offset where it starts (in the decompressed stream)
    index: int  # 1-based number of the value: the document, or the element of the top-level array
    data: bytes  # the value's bytes; for a broken value, its text up to where it broke
    error: str | None = None  # why the value is broken; None when ``data`` is one whole value
    element: bool = False  # True for an element of a top-level array


def split_json(
    stream: BinaryIO,
    *,
    first_line: int = 1,
    first_offset: int = 0,
    single: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Piece]:
    """Cut a stream of JSON values into pieces, one per document or per top-level array element.

    The buffer holds the value being read plus one block of ``chunk_size`` bytes, so a top-level
    array (or CloudTrail's ``Records``) is streamed whatever its size, even on a single line.
    Only brackets are tracked (strings are skipped whole), so a piece is not validated: the
    caller decodes ``data``.  Non-container values at the top level are returned whole up to the
    end of their line (the caller reports them).  After a structural break (an unterminated
    string, a stray closing bracket, end of file inside a value) a piece with ``error`` set is
    returned and scanning resumes at the next line starting with ``{`` or ``[`` -- or stops when
    ``single`` is true.  With ``single`` the scan also stops after the first top-level value.
    """
    buf = bytearray()
    base = first_offset  # stream offset of buf[0]
    line, line_pos = first_line, 0  # line number at buf[line_pos]
    pos = 0  # next byte to scan
    depth = 0  # open brackets
    level = 0  # depth at which values are cut out: 0, or 1 inside a top-level array
    start = -1  # buf index of the value being read, -1 between values
    start_line = 0
    array_line = 0
    index = 0
    resync = False
    eof = False
    skip = _SKIP.match
    token = _TOKEN.search
    read = getattr(stream, "read1", stream.read)  # read1: what is there, not a full block
    while True:
        # Drop what is behind us, read one more block.
        keep = start if start >= 0 else pos
        if keep:
            if line_pos < keep:
                line += buf.count(b"\n", line_pos, keep)
                line_pos = keep
            del buf[:keep]
            base += keep
            pos -= keep
            line_pos -= keep
            if start >= 0:
                start = 0
        block = read(chunk_size)
        if block:
            buf += block
        else:
            eof = True
        limit = len(buf)

        while pos < limit:
            broken: str | None = None
            if resync:
                m = _RESYNC.search(buf, pos, limit)
                if m is None:  # keep a final newline: the next block may start a value
                    newline = buf.rfind(b"\n", pos, limit)
                    pos = newline if newline >= 0 and not eof else limit
                    break
                pos = m.end()
                resync = False

            elif depth > level:  # inside a value: find the next bracket
                p = skip(buf, pos, limit).end()  # type: ignore[union-attr]  # it matches empty
                if p >= limit:
                    pos = limit
                    break
                c = buf[p]
                if c in _OPENERS:
                    depth += 1
                    pos = p + 1
                elif c in _CLOSERS:
                    depth -= 1
                    pos = p + 1
                    if depth == level:
                        index += 1
                        yield Piece(start_line, base + start, index, bytes(buf[start:pos]), None, level > 0)
                        start = -1
                        if single and level == 0:
                            return
                elif buf.find(b"\n", p, limit) >= 0:  # a lone quote: an unterminated string
                    pos = p
                    broken = "a string is not closed on its line"
                elif eof:
                    pos = p
                    broken = f"the file ends inside a string of the value that starts at line {start_line}"
                else:
                    pos = p  # the string may end in the next block
                    break

            else:  # between values
                m = token(buf, pos, limit)
                if m is None:
                    pos = limit
                    break
                s = m.start()
                c = buf[s]
                if not eof and m.end() == limit and c not in _PUNCTUATION:
                    pos = s  # a bare word or string cut by the block end
                    break
                if line_pos < s:
                    line += buf.count(b"\n", line_pos, s)
                    line_pos = s
                pos = m.end()
                if c in _OPENERS:
                    if c == _LBRACKET and level == 0:  # a top-level array: cut out its elements
                        array_line = line
                        depth = level = 1
                    else:
                        start, start_line = s, line
                        depth += 1
                elif level and c == _COMMA:
                    pass
                elif level and c == _RBRACKET:
                    depth = level = 0
                    if single:
                        return
                elif level:  # an element that is not a container, or a stray "}" or '"'
                    if c == _QUOTE and pos - s == 1 and not eof and buf.find(b"\n", s, limit) < 0:
                        pos = s  # a string that may end in the next block
                        break
                    if c == _RBRACE or (c == _QUOTE and pos - s == 1):
                        start, start_line, pos = s, line, s
                        broken = f"unexpected {chr(c)!r} in the array that starts at line {array_line}"
                    else:
                        index += 1
                        yield Piece(line, base + s, index, m.group(), None, True)
                else:  # top level, not a container: hand back the rest of the line
                    end = buf.find(b"\n", s, limit)
                    if end < 0:
                        if not eof:
                            pos = s
                            break
                        end = limit
                    index += 1
                    yield Piece(line, base + s, index, bytes(buf[s:end]))
                    if single:
                        return
                    pos = end

            if broken is not None:  # give up this value; resume at the next line starting a value
                end = buf.find(b"\n", pos, limit)
                end = limit if end < 0 else end
                index += 1
                yield Piece(start_line, base + start, index, bytes(buf[start:end]), broken, level > 0)
                if single:
                    return
                start = -1
                depth = level = 0
                pos = end
                resync = True

        if eof:
            if start >= 0:
                index += 1
                yield Piece(
                    start_line,
                    base + start,
                    index,
                    bytes(buf[start:]),
                    f"the file ends inside the value that starts at line {start_line}",
                    level > 0,
                )
            elif level:
                index += 1
                if line_pos < len(buf):
                    line += buf.count(b"\n", line_pos)
                yield Piece(
                    line,
                    base + len(buf),
                    index,
                    b"",
                    f"the file ends inside the array that starts at line {array_line} (no closing ']')",
                    True,
                )
            return


def decode_error(data: bytes, exc: Exception) -> tuple[str, str]:
    """(code, message) for bytes ``orjson`` refused: invalid UTF-8 or invalid JSON."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return "undecodable_bytes", f"invalid UTF-8 at byte {err.start}: {err.reason}"
    return "invalid_json", f"invalid JSON: {exc}"


def json_type(value: Any) -> str:
    """How a decoded JSON value is named in messages: "an array", "a string", ..."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "an object"


def gzip_error(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, EOFError):
        return "truncated_gzip", f"the gzip stream is truncated ({exc}); reading stopped here"
    return "bad_gzip", f"the gzip stream is corrupt ({exc}); reading stopped here"


GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def read_json_lines(
    source: str, kind: str, path: Path, inp: Input, batch_size: int, *, columnar: bool = False
) -> Iterator[RawBatch]:
    """Decode every line of ``inp`` with ``orjson``; position = 1-based line number.

    With ``columnar`` (and ``kind`` "json"), each batch's lines are first offered to
    :func:`~autosoc.normalize.decode.decode_windows_lines`, which turns Windows events straight
    into raw columns; a batch it declines is decoded line by line as usual.
    """
    spath = str(path)
    lines = _LineDecoder(source, spath)
    try:
        lines.offset = inp.skip_bom()
        if columnar and kind == "json" and decode.NATIVE:
            yield from _columnar_batches(lines, kind, inp, batch_size)
            return
        for line in inp.stream:
            lines.take(line)
            if len(lines.records) >= batch_size or len(lines.dead) >= batch_size:
                yield from lines.batches(kind, batch_size, inp.consumed())
    except GZIP_ERRORS as exc:
        lines.gzip_error(exc)
    yield from lines.batches(kind, batch_size, inp.consumed())


def _columnar_batches(lines: _LineDecoder, kind: str, inp: Input, batch_size: int) -> Iterator[RawBatch]:
    if not inp.compressed:
        yield from _block_batches(lines, kind, inp, batch_size)
        return
    stream = iter(inp.stream)
    broken: Exception | None = None
    while broken is None:
        chunk: list[bytes] = []
        try:  # line by line: what came before a break in the stream is kept
            for line in stream:
                chunk.append(line)
                if len(chunk) >= batch_size:
                    break
        except GZIP_ERRORS as exc:  # what was read before the break is still decoded
            broken = exc
        if not chunk:
            break
        first = lines.lineno + 1
        kept = [line for line in chunk if not line.isspace()]  # blank lines are skipped, as below
        columns = decode.decode_windows_lines(kept) if kept else None
        whole = len(chunk) == batch_size
        if columns is not None:
            positions = (list(range(first, first + len(chunk))) if len(kept) == len(chunk)
                         else [first + i for i, line in enumerate(chunk) if not line.isspace()])
            lines.lineno += len(chunk)
            lines.offset += sum(map(len, chunk))
            del chunk, kept  # the lines are in the columns now: not kept alive while the batch is used
            yield RawBatch(lines.source, lines.path, kind, [], positions, [], inp.consumed(), columns)
            del columns  # not kept while the next chunk is decoded (see _block_batches)
        else:
            for line in chunk:
                lines.take(line)
            del chunk, kept
            yield from lines.batches(kind, batch_size, inp.consumed())
        if not whole:
            break
    if broken is not None:
        lines.gzip_error(broken)
        yield from lines.batches(kind, batch_size, inp.consumed())


def _block_batches(lines: _LineDecoder, kind: str, inp: Input, batch_size: int) -> Iterator[RawBatch]:
    """A plain file read into one buffer a block at a time, its lines found and decoded in C
    (:func:`~autosoc.normalize.decode.decode_windows_block`): no bytes object per line.  A batch
    the decoder declines is split into lines and decoded the usual way."""
    buf = bytearray(READ_BLOCK + 1)  # + the byte the decoder needs after the data
    filled = newlines = 0
    eof = False
    while True:
        while not eof and newlines < batch_size:
            if len(buf) - 1 - filled < READ_BLOCK // 2:
                buf = _grown(buf, filled, newlines, batch_size)
            with memoryview(buf) as whole, whole[filled:len(buf) - 1] as free:
                got = inp.stream.readinto(free)
            if not got:
                eof = True
                break
            newlines += decode.newlines(buf, filled, filled + got)
            filled += got
        if filled == 0:
            return
        used, count, skipped, columns = decode.decode_windows_block(buf, filled, batch_size, final=eof)
        rest = filled - used
        consumed = inp.consumed() - rest
        first = lines.lineno + 1
        if columns is not None:
            blank = set(skipped or ())
            positions = [first + i for i in range(count) if i not in blank] if blank else [*range(first, first + count)]
            lines.lineno += count
            lines.offset += used
            yield RawBatch(lines.source, lines.path, kind, [], positions, [], consumed, columns)
            # not kept while the next block is decoded: that batch then takes the memory this one
            # frees, instead of fresh pages (each costs a page fault and the kernel's zeroing)
            del columns
        elif count:
            for line in _split_lines(bytes(buf[:used])):
                lines.take(line)
            yield from lines.batches(kind, batch_size, consumed)
        buf[:rest] = buf[used:filled]
        filled = rest
        newlines = decode.newlines(buf, 0, filled)


def _grown(buf: bytearray, filled: int, newlines: int, batch_size: int) -> bytearray:
    """A larger buffer holding ``buf``'s first ``filled`` bytes: at least twice the size, and room
    for a whole batch at the length of the lines read so far (up to 16 times the size), so that it
    grows once, not by doubling (each doubling faulted in a zeroed temporary and a copy: about half
    of a hunt's first batch's fresh pages, each one a page fault and the kernel's zeroing)."""
    estimate = filled / newlines * batch_size * 1.0625 + READ_BLOCK if newlines else 0
    size = int(max(2 * (len(buf) - 1), min(estimate, 16 * (len(buf) - 1)))) + 1
    out = bytearray(size)
    with memoryview(buf) as old:
        out[:filled] = old[:filled]
    return out


def _split_lines(data: bytes) -> list[bytes]:
    """``data`` split after each newline, as a binary file's lines are (the last without one when
    it has none)."""
    lines = data.split(b"\n")
    last = lines.pop()
    out = [line + b"\n" for line in lines]
    if last:
        out.append(last)
    return out


class _LineDecoder:
    """Decodes JSON lines one at a time into records and dead letters, counting lines and bytes."""

    __slots__ = ("dead", "lineno", "offset", "path", "positions", "records", "source")

    def __init__(self, source: str, path: str) -> None:
        self.source, self.path = source, path
        self.records: list[dict[str, Any]] = []
        self.positions: list[int] = []
        self.dead: list[DeadLetter] = []
        self.lineno = 0
        self.offset = 0

    def take(self, line: bytes) -> None:
        self.lineno += 1
        lineno, offset = self.lineno, self.offset
        self.offset += len(line)
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if not line.isspace():
                code, message = decode_error(line, exc)
                self.dead.append(DeadLetter(Origin(self.source, self.path, lineno, offset), STAGE, code, message,
                                            raw_text(line)))
            return
        if type(obj) is dict:
            self.records.append(obj)
            self.positions.append(lineno)
        elif type(obj) is list:
            for i, item in enumerate(obj, 1):
                if type(item) is dict:
                    self.records.append(item)
                    self.positions.append(lineno)
                else:
                    self.dead.append(DeadLetter(
                        Origin(self.source, self.path, lineno, offset), STAGE, "not_an_object",
                        f"element {i} of the array on this line is {json_type(item)}, not an object",
                        raw_text(orjson.dumps(item))))
        else:
            self.dead.append(DeadLetter(
                Origin(self.source, self.path, lineno, offset), STAGE, "not_an_object",
                f"the line is valid JSON but {json_type(obj)}, not an object", raw_text(line)))

    def gzip_error(self, exc: Exception) -> None:
        code, message = gzip_error(exc)
        self.dead.append(DeadLetter(Origin(self.source, self.path, self.lineno + 1, self.offset), STAGE, code,
                                    message))

    def batches(self, kind: str, batch_size: int, consumed: int) -> Iterator[RawBatch]:
        """What was decoded so far, in batches of at most ``batch_size`` records (a long array
        line is split), and none when nothing was."""
        records, positions, dead = self.records, self.positions, self.dead
        while len(records) > batch_size:
            yield RawBatch(self.source, self.path, kind, records[:batch_size], positions[:batch_size], dead,
                           consumed)
            records, positions, dead = records[batch_size:], positions[batch_size:], []
        if records or dead:
            yield RawBatch(self.source, self.path, kind, records, positions, dead, consumed)
        self.records, self.positions, self.dead = [], [], []


def read_json_documents(
    source: str, kind: str, path: Path, inp: Input, batch_size: int
) -> Iterator[RawBatch]:
    """Decode the documents (or top-level array elements) of ``inp``; position = start line."""
    spath = str(path)
    loads = orjson.loads
    records: list[dict[str, Any]] = []
    positions: list[int] = []
    dead: list[DeadLetter] = []
    last_line, last_offset = 0, 0
    try:
        for piece in split_json(inp.stream, first_offset=inp.skip_bom()):
            last_line, last_offset = piece.line, piece.offset
            origin = Origin(source, spath, piece.line, piece.offset)
            if piece.error is not None:
                dead.append(
                    DeadLetter(
                        origin, STAGE, "invalid_json", f"invalid JSON: {piece.error}", raw_text(piece.data)
                    )
                )
            else:
                try:
                    obj = loads(piece.data)
                except orjson.JSONDecodeError as exc:
                    code, message = decode_error(piece.data, exc)
                    dead.append(DeadLetter(origin, STAGE, code, message, raw_text(piece.data)))
                else:
                    if type(obj) is dict:
                        records.append(obj)
                        positions.append(piece.line)
                    else:
                        what = (
                            f"element {piece.index} of the top-level array" if piece.element else "document"
                        )
                        dead.append(
                            DeadLetter(
                                origin,
                                STAGE,
                                "not_an_object",
                                f"{what} is valid JSON but {json_type(obj)}, not an object",
                                raw_text(piece.data),
                            )
                        )
            if len(records) >= batch_size or len(dead) >= batch_size:
                yield RawBatch(source, spath, kind, records, positions, dead, inp.consumed())
                records, positions, dead = [], [], []
    except GZIP_ERRORS as exc:
        code, message = gzip_error(exc)
        dead.append(DeadLetter(Origin(source, spath, last_line or None, last_offset), STAGE, code, message))
    if records or dead:
        yield RawBatch(source, spath, kind, records, positions, dead, inp.consumed())


def is_json_lines(head: bytes, head_size: int = HEAD_SIZE) -> bool:
    """Decide the layout from the (decompressed) head of a file: JSON lines or documents."""
    lines = head.split(b"\n")
    if len(head) >= head_size:
        lines.pop()  # may be cut short
    nonempty = [line for line in lines[:64] if line.strip()][:2]
    if not nonempty:  # empty, or a first line longer than the head
        return head.lstrip()[:1] != b"["  # a long array is streamed; else one value per line
    first = nonempty[0].strip()
    try:
        orjson.loads(first)
        return True
    except orjson.JSONDecodeError:
        pass
    if first in (b"{", b"[") or len(nonempty) < 2:
        return first[:1] not in (b"{", b"[")
    if first[:1] not in (b"{", b"["):
        return True  # garbage first line: let the line reader report it
    try:
        orjson.loads(nonempty[1])
        return True
    except orjson.JSONDecodeError:
        return False


def has_json_suffix(path: Path) -> bool:
    return strip_gz(path.name.lower()).endswith(JSON_SUFFIXES)


def first_byte(head: bytes) -> bytes:
    """The first non-whitespace byte of ``head`` (after a UTF-8 byte order mark), or b""."""
    text = head[3:] if head.startswith(BOM) else head
    stripped = text.lstrip()
    return stripped[:1]


@readers.register("jsonl")
class JsonReader(FileReader):
    name = "jsonl"
    kind = "json"
    columnar = True

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        suffix = has_json_suffix(path)
        if first_byte(head) in (b"{", b"[") and b"\x00" not in head[:4096]:
            return 70 if suffix else 60
        return 10 if suffix and head.strip() else 0

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE, columnar: bool = False) -> Iterator[RawBatch]:
        head = read_head(path)
        lines = is_json_lines(head[3:] if head.startswith(BOM) else head)
        with open_input(path) as inp:
            if lines:
                yield from read_json_lines(self.name, self.kind, path, inp, batch_size, columnar=columnar)
            else:
                yield from read_json_documents(self.name, self.kind, path, inp, batch_size)
