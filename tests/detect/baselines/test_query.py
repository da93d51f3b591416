"""The baselines' queries run as written, each chain as one query."""

from __future__ import annotations

import polars as pl

from autosoc.detect.baselines import _views as V
from autosoc.detect.baselines._query import collect, grouped


def test_grouped_is_a_group_by_then_a_sort_in_one_query() -> None:
    frame = pl.DataFrame({"k": ["b", "a", "b", None, "a"], V.SECONDS: [5, 3, 1, 2, 3]})
    keys, aggs = [pl.col("k").alias("_k")], [V.FIRST, V.LAST, V.COUNT]
    eager = frame.group_by(keys, maintain_order=True).agg(aggs).sort(["t0", "_k"])
    assert grouped(frame, keys, aggs, ["t0", "_k"]).equals(eager)


def test_collect_runs_the_steps_as_the_eager_calls_would() -> None:
    frame = pl.DataFrame({"t": [3, 1, 2, 1], "id": ["b", "z", "a", "c"], "v": ["x", "y", None, "w"]})
    eager = frame.filter(pl.col("v").is_not_null()).sort(["t", "id"], maintain_order=True).with_columns(
        pl.col("v").str.to_uppercase().alias("V"))
    query = frame.lazy().filter(pl.col("v").is_not_null()).sort(["t", "id"], maintain_order=True).with_columns(
        pl.col("v").str.to_uppercase().alias("V"))
    assert collect(query).equals(eager)
