"""An input over a byte range of a growing file, for readers whose records are lines.

:class:`RangeInput` is what a reader's ``read_input`` reads (the
:class:`~autosoc.ingest._open.ReadableInput` protocol): the bytes ``[start, end)`` of a file,
optionally preceded by a *prefix* from the top of the file (a CSV header row).  ``end`` is a
line end, so a line still being written is never seen.  It counts the lines it hands out so
that, whenever the reader yields a batch, :meth:`RangeInput.position` tells the byte offset and
line number of the file reached: the cursor after that batch.

Readers whose records may span lines (CSV rows with quoted newlines) call :meth:`row_end`
after each record; it returns False when the record ran into the end of the range (its last
lines are not written yet): the reader stops and the position stays before that record.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO

from autosoc.ingest._open import BOM, BUFFER_SIZE


class RangeInput:
    """Bytes ``prefix + file[start:end]``, read as a stream; close it with ``with``."""

    compressed = False

    def __init__(
        self, path: Path, start: int, end: int, *, prefix: bytes = b"", prefix_lines: int = 0, final: bool = False
    ) -> None:
        self.path = path
        self.start = start
        self.end = end
        self.prefix = prefix
        self.prefix_lines = prefix_lines
        #: the end of the range is the end of the input (a cut record is taken as it is)
        self.final = final
        self.raw: BinaryIO = open(path, "rb", buffering=BUFFER_SIZE)  # noqa: SIM115 - closed in close()
        try:
            self.raw.seek(start)
        except BaseException:
            self.raw.close()
            raise
        self.stream = self  # readers call inp.stream.readline / iterate inp.stream
        self._vpos = 0  # position in prefix + range
        self._lines = 0  # line ends handed out (the range's last, unterminated line counts too)
        self._total = len(prefix) + (end - start)
        self._starved = False
        self._mark: tuple[int, int] | None = None

    # -- the stream --------------------------------------------------------------------------------

    def readline(self, size: int = -1) -> bytes:
        left = self._total - self._vpos
        if left <= 0:
            self._starved = True
            return b""
        limit = left if size is None or size < 0 else min(size, left)
        plen = len(self.prefix)
        if self._vpos < plen:
            cut = self.prefix.find(b"\n", self._vpos, min(plen, self._vpos + limit))
            stop = cut + 1 if cut >= 0 else min(plen, self._vpos + limit)
            data = self.prefix[self._vpos : stop]
        else:
            data = self.raw.readline(limit)
            if not data:  # the file shrank under us: the range ends here
                self._total = self._vpos
                self._starved = True
                return b""
        self._vpos += len(data)
        if data.endswith(b"\n") or self._vpos == self._total:
            self._lines += 1
        return data

    def __iter__(self) -> Iterator[bytes]:
        readline = self.readline
        while line := readline():
            yield line

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            chunk = self.readline(-1 if size < 0 else size - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def peek(self, size: int = 1) -> bytes:
        if self._vpos < len(self.prefix):
            return self.prefix[self._vpos : self._vpos + max(size, 1)]
        data = self.raw.peek(max(size, 1))  # type: ignore[attr-defined]
        return data[: self._total - self._vpos]

    def tell(self) -> int:
        return self._vpos

    # -- the ReadableInput helpers -------------------------------------------------------------------

    def skip_bom(self) -> int:
        at_top = self.prefix or self.start == 0
        if self._vpos == 0 and at_top and self.peek(3)[:3] == BOM:
            self.read(3)
            return 3
        return 0

    def consumed(self) -> int:
        """The file offset reached (for progress)."""
        return self.position()[0]

    def text_lines(self) -> Generator[str, None, None]:
        first = self._vpos == 0 and (bool(self.prefix) or self.start == 0)
        for raw in self:
            text = raw.decode("utf-8", "replace")
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield text
        self._starved = True

    def row_end(self) -> bool:
        if self._starved and not self.final:
            return False
        self._mark = (self._vpos, self._lines)
        return True

    # -- where the reader is -----------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        """(file offset, lines of the range) taken so far: after the last line handed out, or after
        the last whole record for readers that call :meth:`row_end`."""
        vpos, lines = self._mark if self._mark is not None else (self._vpos, self._lines)
        plen = len(self.prefix)
        if vpos <= plen:
            return self.start, 0
        return self.start + vpos - plen, lines - self.prefix_lines

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> RangeInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
