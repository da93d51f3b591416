"""Opening input files: plain or gzip-compressed, transparently.

Readers call :func:`open_input` and read decompressed bytes from ``.stream``; ``.consumed()``
tells how many bytes of the file on disk have been read so far (compressed bytes for gzip),
which is what a progress bar follows.  :func:`read_head` returns the first bytes of a file,
gunzipped when needed, for format sniffing; it never raises on a truncated or corrupt gzip
stream.  :func:`raw_text` turns raw bytes into the bounded text a dead letter carries.

:class:`ReadableInput` is what a reader's ``read_input`` needs: :class:`Input` (a whole file)
and the tail source's ranged input (a byte range of a growing file) both provide it.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from autosoc.schema import DeadLetter

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
HEAD_SIZE = 65536
BUFFER_SIZE = 1 << 20


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def strip_gz(name: str) -> str:
    """``"auth.log.gz"`` -> ``"auth.log"``: the name the content would have uncompressed."""
    return name[:-3] if name.lower().endswith(".gz") else name


class _GzipRaw(io.RawIOBase):
    """A raw stream over a :class:`gzip.GzipFile` that hands out what one decompression step gives.

    Buffering on top of ``GzipFile.read(n)`` with a large ``n`` would lose everything read in that
    call when the stream turns out truncated; ``read1`` returns early, so every complete line
    before the damage still comes out.
    """

    def __init__(self, gz: gzip.GzipFile) -> None:
        self._gz = gz

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._gz.read1(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            self._gz.close()
        finally:
            super().close()


class Input:
    """An open file: ``stream`` yields decompressed bytes; close it with ``with``."""

    __slots__ = ("compressed", "path", "raw", "stream")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw: BinaryIO = open(path, "rb", buffering=BUFFER_SIZE)  # noqa: SIM115 - closed in close()
        try:
            self.compressed = self.raw.peek(2)[:2] == GZIP_MAGIC  # type: ignore[attr-defined]
            if self.compressed:
                gz = gzip.GzipFile(fileobj=self.raw, mode="rb")
                self.stream: BinaryIO = io.BufferedReader(_GzipRaw(gz), BUFFER_SIZE)  # type: ignore[assignment]
            else:
                self.stream = self.raw
        except BaseException:
            self.raw.close()
            raise

    def skip_bom(self) -> int:
        """Skip a UTF-8 byte order mark at the start of the stream; return the bytes skipped."""
        if self.stream.peek(3)[:3] == BOM:  # type: ignore[attr-defined]
            self.stream.read(3)
            return 3
        return 0

    def consumed(self) -> int:
        """Bytes of the file on disk read so far (compressed bytes for gzip)."""
        try:
            return self.raw.tell() if self.compressed else self.stream.tell()
        except (OSError, ValueError):
            return 0

    def text_lines(self) -> Generator[str, None, None]:
        """The stream as decoded text lines (UTF-8, a BOM dropped, bad bytes replaced, newlines kept
        as they are: ``\\n``, ``\\r\\n`` or ``\\r``), for the ``csv`` module."""
        text = io.TextIOWrapper(self.stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield from text
        finally:
            text.detach()

    def row_end(self) -> bool:
        """Called by a reader after each record that may span lines (a CSV row): False would mean
        the record ran past the end of the data available and must be left for later; a whole
        file has no later, so always True."""
        return True

    def close(self) -> None:
        try:
            if self.stream is not self.raw:
                self.stream.close()
        finally:
            self.raw.close()

    def __enter__(self) -> Input:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadableInput(Protocol):
    """What ``FileReader.read_input`` reads: a stream of bytes with a few helpers."""

    path: Path
    stream: BinaryIO

    def skip_bom(self) -> int: ...
    def consumed(self) -> int: ...
    def text_lines(self) -> Generator[str, None, None]: ...
    def row_end(self) -> bool: ...


def open_input(path: Path) -> Input:
    """Open ``path`` for reading decompressed bytes (gzip detected by its magic bytes)."""
    return Input(path)


def read_head(path: Path, size: int = HEAD_SIZE) -> bytes:
    """The first ``size`` bytes of ``path``, gunzipped when it is gzip; never raises on bad gzip.

    Raises :class:`OSError` only when the file itself cannot be opened or read.
    """
    with open(path, "rb") as fh:
        data = fh.read(size)
        if data[:2] != GZIP_MAGIC:
            return data
        out = bytearray()
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while data and len(out) < size:
                out += inflater.decompress(data, size - len(out))
                data = inflater.unconsumed_tail or fh.read(size)
                if inflater.eof:
                    break
        except zlib.error:
            pass  # corrupt stream: keep what was inflated so far
        return bytes(out[:size])


def raw_text(data: bytes | bytearray | str, limit: int = DeadLetter.RAW_LIMIT) -> str:
    """Bounded text of raw input for a dead letter: at most ``limit`` bytes, invalid UTF-8 replaced."""
    if isinstance(data, str):
        return data[:limit]
    return bytes(data[:limit]).decode("utf-8", errors="replace").rstrip("\r\n")
