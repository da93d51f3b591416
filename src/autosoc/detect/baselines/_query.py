"""Running the baselines' Polars queries: each step chain as one query, run as written.

A batch's slices are small (tens to a few thousand rows), so a query's fixed cost (building and
checking the plan, starting the engine) is more than its work.  The detectors chain their steps
(filter, sort, new columns; group, aggregate, sort) lazily and run each chain once, with the
in-memory engine and without the optimizer: the plans are too small to gain from it, and this
runs exactly the steps the eager calls would, in their order.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

_AS_WRITTEN = pl.QueryOptFlags.none()


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """Run ``query`` as written, as the eager calls it chains would, but as one query."""
    return query.collect(engine="in-memory", optimizations=_AS_WRITTEN)


def grouped(frame: pl.DataFrame | pl.LazyFrame, keys: Sequence[pl.Expr], aggs: Sequence[pl.Expr],
            order: list[str]) -> pl.DataFrame:
    """``frame.group_by(keys, maintain_order=True).agg(aggs).sort(order)``, in one query."""
    return collect(frame.lazy().group_by(keys, maintain_order=True).agg(aggs).sort(order))
