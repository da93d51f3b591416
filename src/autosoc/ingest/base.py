"""The reader interface and its registry.

A :class:`FileReader` turns one file into :class:`~autosoc.schema.RawBatch` es of decoded
records, each with its position, in bounded batches: memory never grows with the file.  A
record it cannot decode becomes a :class:`~autosoc.schema.DeadLetter` on the batch and the
reader goes on with the next record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from autosoc.registry import Registry
from autosoc.schema import RawBatch

DEFAULT_BATCH_SIZE = 20000


class FileReader(ABC):
    #: registry key and ``--format`` value
    name: ClassVar[str]
    #: record family announced on every batch (see autosoc.schema.KINDS)
    kind: ClassVar[str]
    #: file name endings this reader claims without looking inside (".evtx"); sniff decides the rest
    suffixes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        """How sure (0-100) this reader is that a file starting with ``head`` is its format.

        ``head`` holds the first bytes of the file, already gunzipped for ``.gz`` files.
        """

    @abstractmethod
    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        """Yield batches of at most ``batch_size`` records, in file order."""


readers: Registry[type[FileReader]] = Registry("readers")
