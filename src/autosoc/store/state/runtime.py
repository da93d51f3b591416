"""Tables of the running pipeline: source cursors, component snapshots, checkpoints, metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped, mapped_column

from autosoc.store.state.base import Base, Json


class CursorRow(Base):
    """Where a source has read up to, per key (one key per file, stream or shard)."""

    __tablename__ = "cursors"

    source: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(Json())
    updated_at: Mapped[datetime]


class ComponentStateRow(Base):
    """One key of a stateful component's snapshot (correlation windows, baselines, incidents)."""

    __tablename__ = "component_state"

    component: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[bytes]
    updated_at: Mapped[datetime]


class CheckpointRow(Base):
    """One committed pipeline checkpoint; ``seq`` also names the lake files written for it."""

    __tablename__ = "checkpoints"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    committed_at: Mapped[datetime]
    events: Mapped[int]
    signals: Mapped[int]


class MetaRow(Base):
    """Free key -> text settings of this state database (e.g. which lake it pairs with)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str]
