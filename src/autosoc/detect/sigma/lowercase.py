"""The lower-cased copies of fields that the engine's case-insensitive tests and literal prefilter read.

:func:`lowercase` is ``column.str.to_lowercase()``, made in C (the ``_lower`` extension, 16 bytes
at a time) for values of ASCII and of the Latin-1, punctuation and trade-mark characters it knows
(Windows' ``Microsoft® Windows® Operating System``): Polars' Unicode lower case costs ~100 ns a
value on the benchmark's batches.  A value holding any other character is lower-cased by Polars and
patched in, so the result is Polars' exactly.
"""

from __future__ import annotations

import os

import polars as pl
import pyarrow as pa

from autosoc.normalize.columns import arrow_series

try:
    from autosoc.detect.sigma import _lower
except ImportError:  # built without a C compiler: Polars does it all
    _lower = None  # type: ignore[assignment]

#: True when the C lower case is used (built, and not switched off by ``AUTOSOC_PURE_PYTHON=1``)
NATIVE: bool = _lower is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1"

__all__ = ["NATIVE", "UNFOLDABLE", "lowercase", "unfoldable_rows"]

#: the two characters whose lower case is (partly) ASCII (U+0130 -> "i" + U+0307, U+212A -> "k"):
#: ASCII case folding does not see what lower-casing makes of them
UNFOLDABLE = ("\u0130", "\u212a")


def lowercase(column: pl.Series, *, native: bool = NATIVE) -> pl.Series:
    """``column.str.to_lowercase()`` (same name), in C but for the values holding a character it
    does not know (see the module docstring)."""
    if not native or _lower is None or column.dtype != pl.String or column.len() == 0:
        return column.str.to_lowercase()
    validity, views, data, null_count, odd = _lower.lower(column)
    buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(views), pa.py_buffer(data)]
    if odd:  # values holding a character _lower does not know: Polars' lower case, patched in
        count = len(odd) // 4
        rows = arrow_series("rows", pa.Array.from_buffers(pa.uint32(), count, [None, pa.py_buffer(odd)]))
        buffers.append(pa.py_buffer(_lower.patch(views, (odd, 0, count), column.gather(rows).str.to_lowercase())))
    return arrow_series(column.name, pa.Array.from_buffers(pa.string_view(), column.len(), buffers,
                                                           null_count=null_count))


def unfoldable_rows(column: pl.Series, *, native: bool = NATIVE) -> pl.Series:
    """The rows (UInt32, ascending) of a String column whose value holds one of :data:`UNFOLDABLE`
    (in C: 16 bytes at a time past ASCII text)."""
    if not native or _lower is None or column.dtype != pl.String:
        return column.str.contains_any(list(UNFOLDABLE)).fill_null(False).arg_true().cast(pl.UInt32)
    rows = _lower.unfoldable(column)
    return arrow_series("rows", pa.Array.from_buffers(pa.uint32(), len(rows) // 4, [None, pa.py_buffer(rows)]))
