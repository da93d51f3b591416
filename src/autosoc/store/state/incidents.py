"""The ``incidents`` table and the conversion between :class:`Incident` and its row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy.orm import Mapped, mapped_column

from autosoc.schema import Entity, Incident
from autosoc.store.state.base import Base, Json


class IncidentRow(Base):
    """The current state of each incident (the incident engine upserts it at every checkpoint)."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_last_seen", "status", "last_seen"),
        Index("ix_incidents_last_seen", "last_seen"),
    )

    incident_id: Mapped[str] = mapped_column(primary_key=True)
    title: Mapped[str]
    severity: Mapped[str]
    status: Mapped[str]
    risk: Mapped[float]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    tactics: Mapped[list[str]] = mapped_column(Json())
    techniques: Mapped[list[str]] = mapped_column(Json())
    entities: Mapped[list[str]] = mapped_column(Json())
    signal_ids: Mapped[list[str]] = mapped_column(Json())
    merged_into: Mapped[str | None]
    reason: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def incident_row(incident: Incident, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident.incident_id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "risk": float(incident.risk),
        "first_seen": incident.first_seen,
        "last_seen": incident.last_seen,
        "tactics": list(incident.tactics),
        "techniques": list(incident.techniques),
        "entities": [str(entity) for entity in incident.entities],
        "signal_ids": list(incident.signal_ids),
        "merged_into": incident.merged_into,
        "reason": incident.reason,
        "created_at": now,
        "updated_at": now,
    }


def incident_from_row(row: IncidentRow) -> Incident:
    return Incident(
        incident_id=row.incident_id, title=row.title, severity=row.severity, risk=row.risk,
        first_seen=row.first_seen, last_seen=row.last_seen, signal_ids=list(row.signal_ids),
        entities=[Entity.parse(text) for text in row.entities], tactics=list(row.tactics),
        techniques=list(row.techniques), status=row.status, merged_into=row.merged_into, reason=row.reason,
    )
