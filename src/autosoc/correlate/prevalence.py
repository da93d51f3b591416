"""Prevalence: what many entities of this organisation do is less suspicious than what one does.

A community rule that fires for the same behaviour on dozens of hosts (a deployment tool running
PowerShell with ``-ExecutionPolicy Bypass``, a monitoring agent's encoded command, every laptop's
non-compliant sign-in) describes how this organisation works, not an attack.  Risk-based alerting
calls this throttling by prevalence.  :class:`Prevalence` keeps, per *behaviour*, the distinct
entities it was seen on within ``window`` (event time) and scales a signal's risk by

    weight = 1                        while the behaviour is on at most ``common`` entities
    weight = max(floor, common / n)   when it is on ``n`` > ``common`` entities

A behaviour is the rule plus the values it matched, with digits, GUIDs and user-profile folders
masked, so the same tool on every machine is one behaviour while an attacker's different command
line under the same rule is another.  The entity is the signal's host, else its user, else its
first entity.  Baseline signals are already relative to the entity's own history and pass
unweighted.  A weighted signal says so in its explanation; the incident engine does not let a
signal scaled below half its level's risk open an incident by its level alone.

Stateful (snapshot/restore/mark_clean, one key per behaviour), deterministic, bounded: at most
``max_entities`` entities per behaviour and ``max_behaviours`` behaviours (oldest dropped first).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field

from autosoc.correlate._state import KeyedState, to_us
from autosoc.schema import Signal, canonical

_MASKS = (
    (re.compile(r"\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?"), "<guid>"),
    (re.compile(r"\\users\\[^\\]+", re.IGNORECASE), r"\\users\\<user>"),
    (re.compile(r"[0-9a-f]{16,}"), "<hex>"),
    (re.compile(r"\d+"), "0"),
)
#: detectors whose signals are already relative to the entity's own history
UNWEIGHTED_DETECTORS = frozenset({"baseline"})


class PrevalenceConfig(BaseModel):
    """How risk is scaled down for behaviour common across the organisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Scale risk by how many entities show the same behaviour.")
    common: int = Field(3, ge=1, description="A behaviour on more distinct entities than this is common.")
    floor: float = Field(0.05, gt=0, le=1, description="The smallest weight a common behaviour gets.")
    window_hours: float = Field(168, gt=0, description="Entities count for a behaviour this long (event time).")
    max_entities: int = Field(64, ge=2, description="Entities remembered per behaviour at most.")
    max_behaviours: int = Field(50000, ge=100, description="Behaviours remembered at most.")


def behaviour(signal: Signal) -> str:
    """Rule + matched values, masked; a short stable key."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(f"{signal.detector}\0{signal.rule_id}".encode())
    for name in sorted(signal.matched):
        value = signal.matched[name].lower()
        for pattern, mask in _MASKS:
            value = pattern.sub(mask, value)
        digest.update(f"\0{name}={value[:512]}".encode())
    return digest.hexdigest()


def _subject(signal: Signal) -> str | None:
    if signal.host:
        return "host:" + canonical("host", signal.host)
    if signal.user:
        return "user:" + canonical("user", signal.user)
    entities = signal.all_entities()
    return str(entities[0]) if entities else None


class Prevalence:
    """Weights signals by the prevalence of their behaviour; see the module docstring."""

    name = "prevalence"

    def __init__(self, config: PrevalenceConfig | None = None) -> None:
        self.config = config or PrevalenceConfig()
        self._window = int(self.config.window_hours * 3_600_000_000)
        self.state = KeyedState("b/")  # behaviour -> {"e": {entity: last_seen_us}, "t": last_us}

    def weigh(self, signals: list[Signal]) -> list[Signal]:
        """The signals, those of common behaviour with their risk scaled down (same order)."""
        if not self.config.enabled:
            return signals
        return [self._weigh(s) for s in signals]

    def _weigh(self, signal: Signal) -> Signal:
        subject = _subject(signal)
        if signal.detector in UNWEIGHTED_DETECTORS or signal.time is None or subject is None:
            return signal
        t = to_us(signal.time)
        key = behaviour(signal)
        entry = self.state.get(key)
        if entry is None:
            entry = {"e": {}, "t": t}
            self._make_room()
        seen: dict[str, int] = entry["e"]
        for other in [e for e, last in seen.items() if last < t - self._window]:
            del seen[other]
        seen[subject] = max(t, seen.get(subject, t))
        if len(seen) > self.config.max_entities:
            oldest = min(seen, key=lambda e: (seen[e], e))
            del seen[oldest]
        entry["t"] = max(entry["t"], t)
        self.state.put(key, entry)
        n = len(seen)
        if n <= self.config.common:
            return signal
        weight = max(self.config.floor, self.config.common / n)
        base = signal.risk_score
        risk = max(1, round(base * weight))
        if risk >= base:
            return signal
        shown = f"{n}+" if n >= self.config.max_entities else str(n)
        note = (f"Common in this organisation: the same behaviour on {shown} entities in "
                f"{self.config.window_hours:g} h, so its risk is scaled from {base} to {risk}.")
        explanation = f"{signal.explanation} {note}".strip()
        return replace(signal, risk=risk, explanation=explanation)

    def _make_room(self) -> None:
        if len(self.state) < self.config.max_behaviours:
            return
        oldest = min(self.state.data, key=lambda k: (self.state.data[k]["t"], k))
        self.state.delete(oldest)

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        self.state.snapshot(out, dirty_only=dirty_only)
        return out

    def restore(self, state: dict[str, bytes]) -> None:
        self.state.restore(state)

    def mark_clean(self) -> None:
        self.state.mark_clean()
