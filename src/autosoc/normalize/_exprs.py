"""Small Polars expression builders shared by the per-family mappings."""

from __future__ import annotations

import polars as pl

NULL = pl.lit(None, dtype=pl.String)
_TIME_FORMATS_TZ = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z")
_TIME_FORMATS_NAIVE = ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f",
                       "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S")
UTC = pl.Datetime("us", "UTC")


def first(columns: set[str] | list[str], *names: str) -> pl.Expr:
    """The first non-empty value among the raw columns that exist; "-" counts as empty."""
    present = [pl.col(n) for n in names if n in columns]
    if not present:
        return NULL
    expr = present[0] if len(present) == 1 else pl.coalesce(present)
    return pl.when(expr.is_in(["", "-"])).then(NULL).otherwise(expr)


def parse_time(expr: pl.Expr) -> pl.Expr:
    """ISO-8601-ish strings (with or without zone, T or space, fractions) -> UTC datetimes."""
    text = expr.str.strip_chars().str.replace(r" UTC$", "Z")
    attempts = [text.str.to_datetime(f, strict=False, time_unit="us").dt.convert_time_zone("UTC")
                for f in _TIME_FORMATS_TZ]
    attempts += [text.str.to_datetime(f, strict=False, time_unit="us").dt.replace_time_zone("UTC")
                 for f in _TIME_FORMATS_NAIVE]
    return pl.coalesce(attempts).cast(UTC)


def category_of(class_uid: pl.Expr) -> pl.Expr:
    return (class_uid // 1000) % 100
