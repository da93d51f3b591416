"""JSON lines straight to raw columns: the reader's and normalization's per-event work in one C pass.

For the common Windows shape (the evtx-JSON ``{"Event": {"System": ..., "EventData": ...}}`` that
evtx_dump and the evtx package write), the C extension :mod:`autosoc.normalize._decode` parses
each line and writes the flattened fields' Arrow columns, the keyword text, the sorted-keys JSON
and the content ids directly, without a Python object per field: what ``orjson.loads``,
:func:`~autosoc.normalize.flatten.flatten_windows` and
:func:`~autosoc.normalize.columns.build_raw_frame` make of the same lines, exactly (the tests
compare the two on every regression sample and on fuzzed lines).

It decides per call: when any line is one it does not handle exactly (another shape, a float, a
list, a duplicate key, invalid JSON or UTF-8 ...), :func:`decode_windows_lines` returns None and
the caller takes the usual path, so a bad line is reported the usual way.  Without a C compiler,
or with ``AUTOSOC_PURE_PYTHON=1``, it always returns None.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType

from autosoc.normalize.columns import arrow_series, view_array, view_frame
from autosoc.schema import RawColumns

_native: ModuleType | None
try:
    from autosoc.normalize import _decode as _native
except ImportError:  # built without a C compiler
    _native = None

#: True when decode_windows_lines can decode at all
NATIVE: bool = _native is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1"


def decode_windows_lines(lines: Sequence[bytes], *, keep_json: bool = False) -> RawColumns | None:
    """The lines' records as raw columns of the ``windows`` family (with each row's JSON when
    ``keep_json``), or None (see the module docstring)."""
    if not NATIVE or _native is None or not lines:
        return None
    decoded = _native.windows_lines(list(lines), keep_json, True)
    return None if decoded is None else _raw_columns(len(lines), decoded)


def decode_windows_block(buffer: bytearray, length: int, max_lines: int, *, final: bool,
                         keep_json: bool = False) -> tuple[int, int, list[int] | None, RawColumns | None]:
    """:func:`decode_windows_lines` over the lines of ``buffer[:length]`` (a line ends after its
    newline; with ``final`` the rest is a line too), at most ``max_lines``, without a bytes object
    per line.  ``buffer`` must hold at least one byte after ``length`` (the C parser puts a NUL
    there while it runs; the buffer comes back unchanged).

    Returns (bytes used, lines used, the numbers from 0 of the blank lines among them or None, their
    records as raw columns or None when the decoder declines them: the caller then splits
    ``buffer[:used]`` into lines and takes its usual way).  Only where :data:`NATIVE` is true."""
    if not NATIVE or _native is None:
        raise RuntimeError("decode_windows_block needs the native decoder (see NATIVE)")
    used, count, skipped, decoded = _native.windows_block(buffer, length, max_lines, final, keep_json, True)
    kept = count - (len(skipped) if skipped else 0)
    return used, count, skipped, None if decoded is None else _raw_columns(kept, decoded)


def newlines(buffer: bytearray, start: int, end: int) -> int:
    """``buffer.count(b"\\n", start, end)``, in C (``bytes.count`` goes a byte at a time)."""
    if not NATIVE or _native is None:
        return buffer.count(b"\n", start, end)
    return int(_native.newlines(buffer, start, end))


def _raw_columns(n: int, decoded: tuple) -> RawColumns:  # type: ignore[type-arg]
    names, columns, id_views, id_data, json, text = decoded
    frame = view_frame(n, names, columns, (None, *text, 0))
    return RawColumns("windows", frame, arrow_series("id", view_array(n, None, id_views, id_data, 0)),
                      None if json is None else arrow_series("json", view_array(n, None, *json, 0)))
