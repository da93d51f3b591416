"""How an incident reads: title, severity, tactics in kill-chain order, risk.

Severity rule: the highest level among the incident's signals, raised one level (up to
``critical``) when the incident's risk reaches ``raise_risk`` or it spans ``raise_tactics`` or more
ATT&CK tactics: several medium signals that together walk from execution to credential access to
lateral movement are a high-severity story even though no single rule said so.

Title: the tactics (up to three, then "and N more"), then the subject: the host most of its
signals are about and the user most of them name, e.g. "Credential access and lateral movement on
WS-042 (alice)".  Without tactics, the title of its most severe signal stands in.
"""

from __future__ import annotations

from typing import Any

from autosoc.correlate._state import from_us
from autosoc.correlate.config import CorrelateConfig
from autosoc.correlate.graph import kind_of
from autosoc.correlate.risk import diversity_multiplier
from autosoc.schema import KILL_CHAIN, LEVELS, Entity, Incident, Signal

_TACTIC_RANK = {name: rank for rank, name in enumerate(KILL_CHAIN)}
_TITLE_LIMIT = 120
#: how the subject of a title is phrased, by entity kind, in order of preference after host/user
_SUBJECT_PREFIX = (("cloud_principal", "by"), ("ip", "from"), ("oauth_app", "via"))


def order_tactics(tactics: list[str]) -> list[str]:
    """Distinct tactics in kill-chain order; names outside :data:`KILL_CHAIN` follow, sorted."""
    unique = dict.fromkeys(tactics)
    return sorted(unique, key=lambda t: (_TACTIC_RANK.get(t, len(KILL_CHAIN)), t))


def severity(rank: int, risk: float, tactics: int, config: CorrelateConfig) -> str:
    raised = risk >= config.raise_risk or tactics >= config.raise_tactics
    return LEVELS[min(len(LEVELS) - 1, max(0, rank) + (1 if raised else 0))]


def incident_risk(state: dict[str, Any], config: CorrelateConfig) -> float:
    """The sum of what its signals contributed, weighted by its distinct detectors and tactics."""
    multiplier = diversity_multiplier(len(state["det"]), len(state["tac"]), detector_bonus=config.detector_bonus,
                                      tactic_bonus=config.tactic_bonus, cap=config.max_multiplier)
    return round(float(state["base"]) * multiplier, 1)


def title(state: dict[str, Any], tactics: list[str]) -> str:
    names = [t.replace("-", " ") for t in tactics]
    if not names:
        head = str(state["top"][1]) or "Suspicious activity"
    elif len(names) <= 3:
        head = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    else:
        more = len(names) - 3
        head = ", ".join(names[:3]) + f" and {more} more tactic{'s' if more > 1 else ''}"
    head = head[0].upper() + head[1:]
    text = f"{head}{_subject(state)}"
    return text if len(text) <= _TITLE_LIMIT else text[: _TITLE_LIMIT - 1] + "…"


def _subject(state: dict[str, Any]) -> str:
    counts: dict[str, int] = state["subj"]
    shown: dict[str, str] = state["ents"]

    def top(kind: str) -> str | None:
        best = None
        for key, count in counts.items():  # insertion order breaks ties: the first seen wins
            if kind_of(key) == kind and (best is None or count > counts[best]):
                best = key
        return None if best is None else shown.get(best) or best.partition(":")[2]

    host, user = top("host"), top("user")
    if host and user:
        return f" on {host} ({user})"
    if host:
        return f" on {host}"
    if user:
        return f" for {user}"
    for kind, prefix in _SUBJECT_PREFIX:
        other = top(kind)
        if other:
            return f" {prefix} {other}"
    return ""


def build(state: dict[str, Any], config: CorrelateConfig, *, status: str = "open",
          merged_into: str | None = None) -> Incident:
    """The :class:`Incident` an incident's state describes."""
    tactics = order_tactics(list(state["tac"]))
    risk = incident_risk(state, config)
    return Incident(
        incident_id=state["id"],
        title=title(state, tactics),
        severity=severity(int(state["rank"]), risk, len(tactics), config),
        risk=risk,
        first_seen=from_us(int(state["first"])),
        last_seen=from_us(int(state["last"])),
        signal_ids=list(state["sids"]),
        entities=[Entity.parse(key) for key in state["ents"]],
        tactics=tactics,
        techniques=sorted(state["tech"]),
        status=status,
        merged_into=merged_into,
        reason=state["reason"],
    )


def display(kind: str, value: str, signal: Signal) -> str:
    """How an entity is shown: the host and user as the log spelled them (without domain), else canonical."""
    if kind == "host" and signal.host and signal.host.strip().lower().split(".", 1)[0] == value:
        return signal.host.strip().split(".", 1)[0]
    if kind == "user" and signal.user:
        name = signal.user.strip().rsplit("\\", 1)[-1].split("@", 1)[0]
        if name.lower() == value:
            return name
    return value
