"""``parse_time``'s two passes (the common shape first, every format on what it misses) give what
every format over every value gives."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from autosoc.normalize import _exprs
from autosoc.normalize._exprs import NULL, _every_format, parse_time

DATES = ["2026-11-02", "2024-02-29", "2023-02-29", "1999-12-31", "1900-02-29", "2000-02-29", "0001-01-01",
         "9999-12-31", "1969-12-31", "0000-06-15", "2026-13-01", "2026-00-10", "2026-04-31", "2026-04-00",
         "2O26-01-01", "２０２６-01-01"]
TIMES = ["00:04:43", "23:59:59", "24:00:00", "00:04", "23:60:00", "12:00:60", "1:02:03"]
FRACTIONS = ["", ".5", ".080879", ".1234567", ".123456789", ".", ".0000000001", ".9999999", ",5", ".5x"]
ZONES = ["", "Z", "z", "+02:00", "-0530", "+00:00", " UTC", "+2", "Z "]
SEPARATORS = ["T", " ", "t"]


@pytest.fixture(params=["native", "polars"])
def common_shape(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The common shape parsed in C, and by Polars (as without the extension)."""
    if request.param == "native" and _exprs._native is None:
        pytest.skip("the C extension autosoc.normalize._decode is not built")
    monkeypatch.setattr(_exprs, "NATIVE_TIME", request.param == "native")
    return str(request.param)


def test_two_passes_agree_with_every_format_on_every_value(common_shape: str) -> None:
    values: list[str | None] = [f"{d}{s}{t}{f}{z}" for d, s, t, f, z in
                                itertools.product(DATES, SEPARATORS, TIMES, FRACTIONS, ZONES)]
    values += [None, "", " ", "-", "garbage", "1700000000", " 2026-11-02T00:04:43Z "]
    # mostly the common shape, as real batches are, with the odd ones spread among them
    column = [v for odd in values for v in ("2026-11-02T00:04:43.080879Z", odd)]
    frame = pl.DataFrame({"t": column}, schema={"t": pl.String})
    expected = frame.select(_every_format(pl.col("t").str.strip_chars().str.replace(r" UTC$", "Z")))
    got = frame.select(parse_time(pl.col("t")))
    # as microseconds: year 0 is a Polars datetime but no Python one
    assert got.to_series().to_physical().to_list() == expected.to_series().to_physical().to_list()
    assert got.to_series().null_count() > 100  # the odd shapes that no format takes stay null
    assert got.to_series().drop_nulls().len() > 2000


def test_no_time_column_is_a_null_for_every_row() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3]})
    assert frame.select(pl.col("a"), parse_time(NULL).alias("t"))["t"].to_list() == [None, None, None]


def test_the_native_common_shape_takes_only_what_the_format_gives_the_same() -> None:
    """What the C parser takes, the common format gives exactly the same; what it leaves, the
    format either does not take either or the second pass parses (leap seconds, year 0, ...)."""
    if _exprs._native is None:
        pytest.skip("the C extension autosoc.normalize._decode is not built")
    values = [f"{d}T{t}{f}Z" for d, t, f in itertools.product(DATES, TIMES, FRACTIONS)]
    values += [None, "", "2026-11-02T00:04:43.080879z", "2026-11-02t00:04:43Z", "2026-11-02T00:04:43.080879Z "]
    text = pl.Series("t", ["pad", *values], dtype=pl.String).slice(1)  # a slice: the offset is honoured
    native = _exprs._common_shape(text)
    polars = text.str.to_datetime(_exprs._COMMON_FORMAT, strict=False, time_unit="us").dt.replace_time_zone("UTC")
    taken = 0
    for value, got, want in zip(values, native.to_physical().to_list(), polars.to_physical().to_list(),
                                strict=True):
        if got is not None:
            assert got == want, value
            taken += 1
    assert taken > 60  # the rest: leap seconds, one-digit hours, ten-digit fractions, year 0, ... (second pass)
    assert native.dtype == pl.Datetime("us", "UTC")
    with pytest.raises(ValueError, match="buffers"):
        _exprs._native.iso_micros(None, b"\0" * 8, b"", 1, 0)
