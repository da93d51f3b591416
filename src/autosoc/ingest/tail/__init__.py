"""Tailing files and folders with saved cursors: the first source of the continuous pipeline.

:class:`TailSource` reads what is new in its files at each ``poll`` and yields each batch with
the :class:`FileCursor` of its file after that batch; see :mod:`autosoc.ingest.tail.source`.
"""

from autosoc.ingest.tail.cursor import FINGERPRINT_SIZE, FileCursor, file_key
from autosoc.ingest.tail.source import TailSource, TailStats

__all__ = ["FINGERPRINT_SIZE", "FileCursor", "TailSource", "TailStats", "file_key"]
