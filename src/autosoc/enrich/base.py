"""The enricher interface and its registry.

An :class:`Enricher` adds context columns to a normalized batch (location and network of an
address, a user's department) without touching what the event already says: a value the log
carries wins over one looked up.  Enrichers are columnar: they look up each distinct key once
per batch and join the answers back.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import polars as pl
from pydantic import BaseModel, ConfigDict

from autosoc.registry import Registry
from autosoc.schema import EventBatch


@runtime_checkable
class Enricher(Protocol):
    name: str

    def enrich(self, batch: EventBatch) -> EventBatch:
        """The batch with context columns filled where the events leave them empty (same height and order)."""
        ...


class EnricherConfig(BaseModel):
    """Base of every enricher's config; subclasses add a ``type`` literal and ``build()``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    def build(self) -> Enricher:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


#: config model classes by ``type``
enrichers: Registry[type[EnricherConfig]] = Registry("enrichers")


def is_blank(column: str) -> pl.Expr:
    """True where a string column has no value (null or only whitespace)."""
    return pl.col(column).is_null() | (pl.col(column).str.strip_chars().str.len_chars() == 0)


def ensure_columns(events: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Add missing string columns as nulls, so enrichers work on frames without the full schema."""
    missing = [c for c in columns if c not in events.columns]
    return events.with_columns(pl.lit(None, pl.String).alias(c) for c in missing) if missing else events
