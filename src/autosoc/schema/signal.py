"""The :class:`Signal`: what every detector emits, whatever spoke."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autosoc.errors import Origin
from autosoc.schema.entity import Entity, canonical

LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
#: Base risk of a signal by level; correlation adds these up per entity with decay.
LEVEL_RISK = {"informational": 1, "low": 10, "medium": 25, "high": 50, "critical": 80}


@dataclass(slots=True)
class Signal:
    rule_id: str
    title: str
    level: str
    status: str
    tags: list[str]
    event_ids: list[str]
    origins: list[Origin]
    time: datetime | None = None
    host: str | None = None
    user: str | None = None
    matched: dict[str, str] = field(default_factory=dict)
    detector: str = "sigma"
    rule_path: str | None = None
    description: str = ""
    #: the entities this signal is about, beyond ``host``/``user`` (IPs, cloud principals, OAuth apps)
    entities: list[Entity] = field(default_factory=list)
    #: one sentence a person reads: why this fired ("first sign-in of alice from AS12345 ...")
    explanation: str = ""
    #: overrides the level's base risk (baselines scale risk by how unusual the behaviour is)
    risk: int | None = None

    @property
    def risk_score(self) -> int:
        return self.risk if self.risk is not None else LEVEL_RISK.get(self.level, 1)

    def all_entities(self) -> list[Entity]:
        """``entities`` plus the host and user, canonical and without repeats."""
        out: dict[Entity, None] = {}
        if self.user:
            out[Entity("user", canonical("user", self.user))] = None
        if self.host:
            out[Entity("host", canonical("host", self.host))] = None
        for entity in self.entities:
            out[Entity(entity.kind, canonical(entity.kind, entity.value))] = None
        return [e for e in out if e.value]

    @property
    def signal_id(self) -> str:
        """Stable: the same rule on the same events always gives the same id."""
        digest = hashlib.blake2b(digest_size=12)
        digest.update(self.detector.encode())
        digest.update(self.rule_id.encode())
        for event_id in sorted(self.event_ids):
            digest.update(event_id.encode())
        return digest.hexdigest()

    @property
    def attack_techniques(self) -> list[str]:
        return attack_techniques(self.tags)

    @property
    def attack_tactics(self) -> list[str]:
        return attack_tactics(self.tags)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal_id": self.signal_id,
            "detector": self.detector,
            "rule_id": self.rule_id,
            "title": self.title,
            "level": self.level,
            "status": self.status,
            "risk_score": self.risk_score,
            "tags": self.tags,
            "attack_techniques": self.attack_techniques,
            "attack_tactics": self.attack_tactics,
            "time": self.time.isoformat() if self.time else None,
            "host": self.host,
            "user": self.user,
            "event_ids": self.event_ids,
            "origins": [
                {"source": o.source, "path": o.path, "record": o.record} for o in self.origins
            ],
            "matched": self.matched,
            "rule_path": self.rule_path,
            "entities": [str(e) for e in self.entities],
            "explanation": self.explanation,
        }


def attack_techniques(tags: Sequence[str]) -> list[str]:
    """``attack.t1059.001`` -> ``T1059.001``."""
    return [t.removeprefix("attack.").upper() for t in tags if _is_technique(t)]


def attack_tactics(tags: Sequence[str]) -> list[str]:
    """The ATT&CK tactic tags (``attack.execution``), without groups (``g0``) and software (``s0``)."""
    return [t.removeprefix("attack.") for t in tags if t.startswith("attack.") and not _is_technique(t)
            and not t.removeprefix("attack.").startswith(("g0", "s0"))]


def _is_technique(tag: str) -> bool:
    body = tag.removeprefix("attack.")
    return tag.startswith("attack.") and len(body) >= 5 and body[0] == "t" and body[1:5].isdigit()
