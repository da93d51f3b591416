"""Event-time helpers shared by the correlate modules, and :class:`KeyedState` for their parts.

Each part of the correlate state (entity risk, links, remembered signals, incidents) is a
:class:`~autosoc.keyed_state.KeyedState` under its own key prefix.  Times are integer
microseconds since the epoch (exact through JSON, unlike float seconds).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autosoc.keyed_state import KeyedState

__all__ = ["KeyedState", "from_us", "span_us", "to_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC (how the readers produce it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def span_us(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
