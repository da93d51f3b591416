"""The reader interface and its registry.

A :class:`FileReader` turns one file into :class:`~autosoc.schema.RawBatch` es of decoded
records, each with its position, in bounded batches: memory never grows with the file.  A
record it cannot decode becomes a :class:`~autosoc.schema.DeadLetter` on the batch and the
reader goes on with the next record.

Readers whose records are lines (syslog, CSV rows, CloudTrail JSON lines) also implement
:meth:`FileReader.lines` and :meth:`FileReader.read_input`, so that the tail source
(:mod:`autosoc.ingest.tail`) can read a growing file from any line boundary instead of from
the start; :meth:`FileReader.header` gives the lines at the top of a file that must be read
first (a CSV header row).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from autosoc.registry import Registry
from autosoc.schema import RawBatch

if TYPE_CHECKING:
    from autosoc.ingest._open import ReadableInput

DEFAULT_BATCH_SIZE = 20000


class FileReader(ABC):
    #: registry key and ``--format`` value
    name: ClassVar[str]
    #: record family announced on every batch (see autosoc.schema.KINDS)
    kind: ClassVar[str]
    #: file name endings this reader claims without looking inside (".evtx"); sniff decides the rest
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: ``read`` takes ``columnar=True``: it may then yield batches of raw columns instead of
    #: records (:attr:`~autosoc.schema.RawBatch.columns`), for a consumer that only normalizes them
    columnar: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        """How sure (0-100) this reader is that a file starting with ``head`` is its format.

        ``head`` holds the first bytes of the file, already gunzipped for ``.gz`` files.
        """

    @abstractmethod
    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        """Yield batches of at most ``batch_size`` records, in file order."""

    def lines(self, head: bytes) -> bool | None:
        """Whether a file starting with ``head`` holds one record per line (``read_input`` can then
        start at any line boundary): True, False (a document, read whole), or None when ``head``
        holds no complete line yet to tell.  The default: a document.
        """
        return False

    def header(self, path: Path) -> tuple[bytes, int]:
        """The bytes and the number of lines at the top of ``path`` that :meth:`read_input` needs
        before any later line (a CSV header row); ``(b"", 0)`` when there is none.
        """
        return b"", 0

    def read_input(self, path: Path, inp: ReadableInput, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        """Read the records of an open input whose stream may start at a line boundary inside
        ``path``: record numbers and offsets count from the start of the stream (the caller
        shifts them).  Only readers whose :meth:`lines` can be True implement it.
        """
        raise NotImplementedError(f"the {self.name} reader cannot read from a line boundary")


readers: Registry[type[FileReader]] = Registry("readers")
