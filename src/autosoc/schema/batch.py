"""Batches: the unit of work between stages.

A :class:`RawBatch` is what a reader yields: decoded records (dicts) of one file, each with its
position in that file -- or, from a reader asked for columns, the same records already as raw
columns (:class:`RawColumns`: what normalization would have built from the dicts).  An
:class:`EventBatch` is what normalization yields: two frames of equal
height, ``events`` (OCSF-shaped columns plus provenance) and ``raw`` (every raw field flattened
to a string column, which is what Sigma rules match on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from autosoc.errors import Origin

#: Record families a reader can announce; the parser picks its mapping by this hint and by
#: the shape of each record.
KINDS = ("windows", "cloudtrail", "syslog", "json")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not go on, with the reason.  Nothing is dropped silently."""

    origin: Origin
    stage: str  # "ingest" | "normalize" | "detect"
    code: str  # bounded set: invalid_json, bad_evtx_record, undecodable_bytes, ...
    message: str
    raw: str = ""  # the raw text (truncated to RAW_LIMIT), decoded with replacement characters

    RAW_LIMIT = 65536

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.origin.source,
            "path": self.origin.path,
            "record": self.origin.record,
            "offset": self.origin.offset,
            "field": self.origin.field,
            "stage": self.stage,
            "code": self.code,
            "message": self.message,
            "raw": self.raw[: self.RAW_LIMIT],
        }


@dataclass(frozen=True, slots=True)
class RawColumns:
    """Records decoded straight into raw columns, for one family (see :mod:`autosoc.normalize.decode`):
    the flattened fields as string columns ending with the keyword text, each row's content id
    and, when the reader was asked for it, its sorted-keys JSON -- exactly what
    :func:`~autosoc.normalize.columns.build_raw_frame` makes of the flattened dicts."""

    family: str
    frame: pl.DataFrame
    ids: pl.Series
    json: pl.Series | None = None


@dataclass(slots=True)
class RawBatch:
    """Decoded records of one file (never more than one file per batch)."""

    source: str  # reader name: evtx, jsonl, cloudtrail, syslog, csv
    path: str
    kind: str  # one of KINDS
    records: list[dict[str, Any]]
    positions: list[int]  # record number per record (line, EventRecordID, index), same length
    dead_letters: list[DeadLetter] = field(default_factory=list)
    bytes_read: int = 0  # bytes of the file consumed so far (for progress)
    #: the records as raw columns instead of dicts (``records`` is then empty; ``positions`` has
    #: one entry per row)
    columns: RawColumns | None = None

    def __len__(self) -> int:
        return len(self.records) if self.columns is None else self.columns.frame.height


@dataclass(slots=True)
class EventBatch:
    events: pl.DataFrame
    raw: pl.DataFrame
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def __len__(self) -> int:
        return self.events.height
