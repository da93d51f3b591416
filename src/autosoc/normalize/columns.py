"""Flat dicts -> a string-typed Polars frame, and each row's stable content id."""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

import orjson
import polars as pl

_SORTED = orjson.OPT_SORT_KEYS


def build_raw_frame(rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, list[str]]:
    """Columns of strings (null where a row lacks the field) plus one content hash per row.

    Rows hold scalars only (see :mod:`autosoc.normalize.flatten`).  The id hashes the row with
    sorted keys, so a replay, or the same event read again from another file, gets the same id.
    """
    names: dict[str, Any] = {}
    for row in rows:
        names.update(row)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), strict=False)
    ids = [blake2b(orjson.dumps(row, option=_SORTED), digest_size=16).hexdigest() for row in rows]
    return frame, ids
