"""Flat dicts -> a string-typed Polars frame, and each row's stable content id."""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

import orjson
import polars as pl

_SORTED = orjson.OPT_SORT_KEYS


def build_raw_frame(rows: list[dict[str, Any]], *, keep_json: bool = False
                    ) -> tuple[pl.DataFrame, list[str], list[str] | None]:
    """Columns of strings (null where a row lacks the field), one content hash per row and, with
    ``keep_json``, each row as JSON text (sorted keys: what the hash is of; the lake keeps it).

    Rows hold scalars only (see :mod:`autosoc.normalize.flatten`).  The id hashes the row with
    sorted keys, so a replay, or the same event read again from another file, gets the same id.

    Rows are built per shape (the same keys in the same order: one Windows event type, say) and
    the shapes stacked: the conversion then looks up a shape's few keys, not every column of the
    batch, in each row.  Columns keep the order in which the rows first name them; rows keep theirs.
    """
    names: dict[str, Any] = {}
    shapes: dict[tuple[str, ...], tuple[list[int], list[dict[str, Any]]]] = {}
    for index, row in enumerate(rows):
        key = tuple(row)
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = ([], [])
            names.update(row)
        shape[0].append(index)
        shape[1].append(row)
    texts = [orjson.dumps(row, option=_SORTED) for row in rows]
    ids = [blake2b(text, digest_size=16).hexdigest() for text in texts]
    jsons = [text.decode() for text in texts] if keep_json else None
    if len(shapes) <= 1:
        return pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), strict=False), ids, jsons
    frames: list[pl.DataFrame] = []
    order: list[int] = []
    for key, (indices, members) in shapes.items():
        frames.append(pl.DataFrame(members, schema=dict.fromkeys(key, pl.String), strict=False))
        order += indices
    frame = pl.concat(frames, how="diagonal").select(list(names))
    return frame[pl.Series(order, dtype=pl.UInt32).arg_sort()], ids, jsons
