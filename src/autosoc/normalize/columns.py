"""Flat dicts -> a string-typed Polars frame, each row's JSON and its stable content id.

Values become the text Sigma compares against: str as is, None a null cell, bool ``true``/``false``,
int its decimal digits, float what Polars writes when it builds a String column from it (the
shortest round-trip digits in plain notation: ``1.5``, ``100.0`` as ``100``, ``1e-07`` as
``0.0000001``), anything else
:func:`~autosoc.normalize.flatten.scalar`'s form.  The JSON is orjson's compact form with sorted
keys (ints of any size as digits), the id its BLAKE2b-128.

:func:`build_raw_frame` runs once per batch over every row, so it comes from the C extension
:mod:`autosoc.normalize._columns` when that was built: it writes Arrow string-view buffers, which
Polars takes without copying.  :func:`_py_build_raw_frame` is the reference it must match exactly
and the fallback (no compiler, ``AUTOSOC_PURE_PYTHON=1``, or a row the C code refuses: a non-str
key, a str that is not valid UTF-8).
"""

from __future__ import annotations

import os
from hashlib import blake2b
from types import ModuleType
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from autosoc.normalize.fields import KEYWORD_TEXT
from autosoc.normalize.flatten import scalar

_SORTED = orjson.OPT_SORT_KEYS


def build_raw_frame(rows: list[dict[str, Any]], *, keep_json: bool = False, keep_text: bool = False
                    ) -> tuple[pl.DataFrame, pl.Series, pl.Series | None]:
    """Columns of strings (null where a row lacks the field) in the order the rows first name
    them, rows in their order; one content hash per row and, with ``keep_json``, each row as
    JSON text (sorted keys: what the hash is of; the lake keeps it).  With ``keep_text`` the frame
    ends with :data:`~autosoc.normalize.fields.KEYWORD_TEXT`: the row's values (as text, no nulls,
    no names starting with ``__``) joined by newlines, in the row's order.

    Rows hold scalars only (see :mod:`autosoc.normalize.flatten`).  The id hashes the row with
    sorted keys, so a replay, or the same event read again from another file, gets the same id.
    """
    if NATIVE and _native is not None:
        try:
            names, columns, id_views, id_data, json, text = _native.build(rows, keep_json, _other_forms, keep_text)
        except (TypeError, ValueError, OverflowError):
            pass  # what the C code refuses, the reference decides (and raises where it always did)
        else:
            n = len(rows)
            frame = view_frame(n, names, columns, None if text is None else (None, *text, 0))
            ids = arrow_series("id", view_array(n, None, id_views, id_data, 0))
            texts = None if json is None else arrow_series("json", view_array(n, None, *json, 0))
            return frame, ids, texts
    return _py_build_raw_frame(rows, keep_json=keep_json, keep_text=keep_text)


def view_array(n: int, validity: bytes | None, views: bytes, data: bytes, null_count: int) -> pa.Array:
    """An Arrow string-view array over buffers the C code wrote (no copy)."""
    buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(views), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string_view(), n, buffers, null_count=null_count)


def view_frame(n: int, names: list[str], columns: list[tuple], text: tuple | None = None  # type: ignore[type-arg]
               ) -> pl.DataFrame:
    """A frame of the string-view columns the C code wrote (``columns``: the arguments of
    :func:`view_array` after ``n``), named ``names``, and the keyword text's column last when
    given: one Arrow record batch through the C data interface (~0.6 ms for a batch's ~160 columns;
    a Series per column, then the frame, ~3 ms)."""
    arrays = [view_array(n, *column) for column in columns]
    # Arrow schemas cut names at NUL (and frames rename "" to column_0), and a field of the keyword
    # text's name is replaced by the text where it is: those frames are built a column at a time
    if not any("\0" in name for name in names) and (text is None or KEYWORD_TEXT not in names):
        if text is not None:
            arrays, names = [*arrays, view_array(n, *text)], [*names, KEYWORD_TEXT]
        return pl.DataFrame(pa.RecordBatch.from_arrays(arrays, names=names))
    frame = pl.DataFrame([arrow_series("", array) for array in arrays])
    frame.columns = names
    return frame if text is None else frame.with_columns(arrow_series(KEYWORD_TEXT, view_array(n, *text)))


class _CArray:
    """An Arrow array offered only through the Arrow C data interface."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.array.__arrow_c_array__(requested_schema)  # type: ignore[no-any-return]


def arrow_series(name: str, array: pa.Array) -> pl.Series:
    """``pl.Series(name, array)`` for a (non-chunked) Arrow array, without a copy, by the C data
    interface: ~8 µs a call instead of ~70 through Polars' pyarrow path, which also imports
    ``pyarrow.compute`` on its first use (~75 ms, once per process: in a hunt, its first batch)."""
    return pl.Series(_CArray(array)).alias(name)


def _py_build_raw_frame(rows: list[dict[str, Any]], *, keep_json: bool = False, keep_text: bool = False
                        ) -> tuple[pl.DataFrame, pl.Series, pl.Series | None]:
    """The reference (see the module docstring): rows built per shape (the same keys in the
    same order), shapes stacked and put back in row order."""
    frame, ids, jsons = _py_frame(rows, keep_json)
    if keep_text:
        texts = ["\n".join(t for k, v in row.items() if (t := v if type(v) is str else _text(v)) is not None
                           and not k.startswith("__")) for row in rows]
        frame = frame.with_columns(pl.Series(KEYWORD_TEXT, texts, dtype=pl.String))
    return frame, ids, jsons


def _py_frame(rows: list[dict[str, Any]], keep_json: bool) -> tuple[pl.DataFrame, pl.Series, pl.Series | None]:
    names: dict[str, Any] = {}
    shapes: dict[tuple[str, ...], tuple[list[int], list[dict[str, Any]]]] = {}
    for index, row in enumerate(rows):
        key = tuple(row)
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = ([], [])
            names.update(row)
        shape[0].append(index)
        shape[1].append({k: v if type(v) is str else _text(v) for k, v in row.items()})
    texts = [_row_json(row) for row in rows]
    ids = pl.Series("id", [blake2b(text, digest_size=16).hexdigest() for text in texts], dtype=pl.String)
    jsons = pl.Series("json", [text.decode() for text in texts], dtype=pl.String) if keep_json else None
    if len(shapes) <= 1:
        members = next(iter(shapes.values()))[1] if shapes else []
        return pl.DataFrame(members, schema=dict.fromkeys(names, pl.String)), ids, jsons
    frames: list[pl.DataFrame] = []
    order: list[int] = []
    for key, (indices, members) in shapes.items():
        frames.append(pl.DataFrame(members, schema=dict.fromkeys(key, pl.String)))
        order += indices
    stacked = pl.concat(frames, how="diagonal")
    frame = pl.DataFrame([stacked.get_column(name) for name in names])  # not select(): "*" is a name too
    frame.columns = list(names)  # a frame of Series renames "" to column_0
    return frame[pl.Series(order, dtype=pl.UInt32).arg_sort()], ids, jsons


def _text(value: Any) -> str | None:
    """A value's text in the frame (str values never get here)."""
    kind = type(value)
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    return _other_forms(value)[0]


def _row_json(row: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(row, option=_SORTED)
    except orjson.JSONEncodeError:
        if not any(type(v) is int for v in row.values()):
            raise
    # ints beyond 64 bits, which orjson refuses: digits, like every other int
    parts = [orjson.dumps(k) + b":" + (str(v).encode() if type(v) is int else orjson.dumps(v, option=_SORTED))
             for k, v in sorted(row.items())]
    return b"{" + b",".join(parts) + b"}"


def _other_forms(value: Any) -> tuple[str | None, bytes]:
    """(text in the frame, JSON) of a value that is not str, None, bool or int."""
    if type(value) is float:
        return _float_text(value), orjson.dumps(value)
    return scalar(value), orjson.dumps(value, option=_SORTED)


def _float_text(value: float) -> str:
    """What Polars writes when it builds a String column from a float (Rust's Display for f64):
    repr's shortest round-trip digits in plain notation, no exponent, no ``.0``.  (Where two
    equally short spellings read back as the same float, repr takes the even one and Polars the
    upper one: ...590.25 is ...590.2 here, ...590.3 there.)"""
    text = repr(value)
    if text in ("nan", "inf", "-inf"):
        return "NaN" if text == "nan" else text
    sign = "-" if text.startswith("-") else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return sign + "0"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


_native: ModuleType | None
try:
    from autosoc.normalize import _columns as _native
except ImportError:  # built without a C compiler: the pure-Python code serves
    _native = None

#: True when build_raw_frame uses the C code
NATIVE: bool = _native is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1"
