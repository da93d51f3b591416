"""The dead-letter store: every record that could not go on, with its origin and the reason.

A JSON-lines file, opened lazily (no file when nothing failed), one object per dead letter
(see :meth:`autosoc.schema.DeadLetter.as_dict`).  Counts by code for the run summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import orjson

from autosoc.schema import DeadLetter


class DeadLetterStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self._handle: IO[bytes] | None = None

    def write(self, letters: Iterable[DeadLetter]) -> None:
        for letter in letters:
            self.counts[f"{letter.stage}:{letter.code}"] += 1
            if self.path is None:
                continue
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("ab")
            self._handle.write(orjson.dumps(letter.as_dict()) + b"\n")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> DeadLetterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
