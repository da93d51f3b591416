"""The :class:`Incident`: signals that belong together, about entities that are linked.

Incidents are built by :mod:`autosoc.correlate`; the store persists them and the API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autosoc.schema.entity import Entity

INCIDENT_STATUSES = ("open", "merged", "closed")
#: ATT&CK enterprise tactics in kill-chain order (the v18 names SigmaHQ tags use, and the older ones)
KILL_CHAIN = (
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "stealth", "defense-evasion", "defense-impairment", "credential-access",
    "discovery", "lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
)


@dataclass(slots=True)
class Incident:
    incident_id: str  # stable: derived from the signal that opened it
    title: str
    severity: str  # one of autosoc.schema.LEVELS
    risk: float
    first_seen: datetime
    last_seen: datetime
    signal_ids: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    tactics: list[str] = field(default_factory=list)  # kill-chain order
    techniques: list[str] = field(default_factory=list)
    status: str = "open"
    merged_into: str | None = None  # set when status == "merged"
    reason: str = ""  # why it opened: threshold crossed by an entity, or a high-severity signal

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "severity": self.severity,
            "risk": self.risk,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "signal_ids": self.signal_ids,
            "entities": [str(e) for e in self.entities],
            "tactics": self.tactics,
            "techniques": self.techniques,
            "status": self.status,
            "merged_into": self.merged_into,
            "reason": self.reason,
        }
