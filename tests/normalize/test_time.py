"""``parse_time``'s two passes (the common shape first, every format on what it misses) give what
every format over every value gives."""

from __future__ import annotations

import itertools

import polars as pl

from autosoc.normalize._exprs import NULL, _every_format, parse_time

DATES = ["2026-11-02", "2024-02-29", "2023-02-29", "1999-12-31"]
TIMES = ["00:04:43", "23:59:59", "24:00:00", "00:04"]
FRACTIONS = ["", ".5", ".080879", ".1234567", ".123456789", "."]
ZONES = ["", "Z", "z", "+02:00", "-0530", "+00:00", " UTC", "+2", "Z "]
SEPARATORS = ["T", " ", "t"]


def test_two_passes_agree_with_every_format_on_every_value() -> None:
    values: list[str | None] = [f"{d}{s}{t}{f}{z}" for d, s, t, f, z in
                                itertools.product(DATES, SEPARATORS, TIMES, FRACTIONS, ZONES)]
    values += [None, "", " ", "-", "garbage", "1700000000", " 2026-11-02T00:04:43Z "]
    # mostly the common shape, as real batches are, with the odd ones spread among them
    column = [v for odd in values for v in ("2026-11-02T00:04:43.080879Z", odd)]
    frame = pl.DataFrame({"t": column}, schema={"t": pl.String})
    expected = frame.select(_every_format(pl.col("t").str.strip_chars().str.replace(r" UTC$", "Z")))
    got = frame.select(parse_time(pl.col("t")))
    assert got.to_series().to_list() == expected.to_series().to_list()
    assert got.to_series().null_count() > 100  # the odd shapes that no format takes stay null
    assert got.to_series().drop_nulls().len() > 2000


def test_no_time_column_is_a_null_for_every_row() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3]})
    assert frame.select(pl.col("a"), parse_time(NULL).alias("t"))["t"].to_list() == [None, None, None]
