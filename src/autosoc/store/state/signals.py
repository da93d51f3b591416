"""The ``signals`` table and the conversion between :class:`Signal` and its row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy.orm import Mapped, mapped_column

from autosoc.schema import Signal
from autosoc.store.state.base import Base, Json


class SignalRow(Base):
    """Every signal a detector emitted, with the incident it belongs to (if any)."""

    __tablename__ = "signals"
    __table_args__ = (
        Index("ix_signals_time", "time"),
        Index("ix_signals_incident_id", "incident_id"),
    )

    signal_id: Mapped[str] = mapped_column(primary_key=True)
    detector: Mapped[str]
    rule_id: Mapped[str]
    title: Mapped[str]
    level: Mapped[str]
    status: Mapped[str]
    risk: Mapped[int]
    time: Mapped[datetime | None]
    host: Mapped[str | None]
    user: Mapped[str | None]
    entities: Mapped[list[str]] = mapped_column(Json())
    tags: Mapped[list[str]] = mapped_column(Json())
    event_ids: Mapped[list[str]] = mapped_column(Json())
    origins: Mapped[list[dict[str, Any]]] = mapped_column(Json())
    matched: Mapped[dict[str, str]] = mapped_column(Json())
    rule_path: Mapped[str | None]
    description: Mapped[str]
    explanation: Mapped[str]
    incident_id: Mapped[str | None]


#: the columns of :class:`SignalRow`, in order; reads return dicts with these keys
SIGNAL_COLUMNS = tuple(column.name for column in SignalRow.__table__.columns)


def signal_row(signal: Signal, incident_id: str | None = None) -> dict[str, Any]:
    """The row of ``signal``; ``risk`` is the effective risk score (the override, else the level's)."""
    return {
        "signal_id": signal.signal_id,
        "detector": signal.detector,
        "rule_id": signal.rule_id,
        "title": signal.title,
        "level": signal.level,
        "status": signal.status,
        "risk": signal.risk_score,
        "time": signal.time,
        "host": signal.host,
        "user": signal.user,
        "entities": [str(entity) for entity in signal.entities],
        "tags": list(signal.tags),
        "event_ids": list(signal.event_ids),
        "origins": [{"source": o.source, "path": o.path, "record": o.record, "offset": o.offset, "field": o.field}
                    for o in signal.origins],
        "matched": dict(signal.matched),
        "rule_path": signal.rule_path,
        "description": signal.description,
        "explanation": signal.explanation,
        "incident_id": incident_id,
    }
