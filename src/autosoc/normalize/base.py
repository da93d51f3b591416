"""The parser interface: one record family's flattening and OCSF mapping, and their registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from autosoc.registry import Registry


def _unchanged(raw: pl.DataFrame) -> pl.DataFrame:
    return raw


@dataclass(frozen=True, slots=True)
class Parser:
    """How one family of records becomes raw columns and OCSF columns.

    ``flatten`` maps a decoded record to ``{field: value}`` (None: not this family);
    ``prepare`` may add alias columns to the raw frame, or fill nulls of existing ones, but never
    changes a value that is there (the keyword text learns what it wrote from the null counts);
    ``ocsf_columns`` returns the expressions that fill the OCSF-shaped columns from the raw frame
    (or, where a frame-level computation is cheaper, the columns themselves, as Series of its height).
    """

    family: str
    flatten: Callable[[dict[str, Any]], dict[str, Any] | None]
    ocsf_columns: Callable[[pl.DataFrame], Sequence[pl.Expr | pl.Series]]
    prepare: Callable[[pl.DataFrame], pl.DataFrame] = _unchanged


parsers: Registry[Parser] = Registry("parsers")
