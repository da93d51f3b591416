"""Ingest: readers that turn files into batches of decoded records with their positions.

Importing this package registers the built-in readers (``evtx``, ``jsonl``, ``cloudtrail``, ``azure``, ``zeek``,
``syslog``, ``csv``) in :data:`readers`.
"""

from autosoc.ingest import azure, cloudtrail, csv, evtx, jsonl, syslog, zeek  # noqa: F401  (register the readers)
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.files import detect_reader, discover, read_files

__all__ = ["DEFAULT_BATCH_SIZE", "FileReader", "detect_reader", "discover", "read_files", "readers"]
