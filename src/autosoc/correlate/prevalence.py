"""Prevalence: what many entities of this organisation do is less suspicious than what one does.

A community rule that fires for the same behaviour on dozens of hosts (a deployment tool running
PowerShell with ``-ExecutionPolicy Bypass``, a monitoring agent's encoded command, every laptop's
non-compliant sign-in) describes how this organisation works, not an attack.  Risk-based alerting
calls this throttling by prevalence.  :class:`Prevalence` keeps, per *behaviour*, the distinct
entities it was seen on within ``window`` (event time) and scales a signal's risk by

    weight = 1                        while the behaviour is on at most ``common`` entities
    weight = max(floor, common / n)   when it is on ``n`` > ``common`` entities

Two more factors scale risk down the same way: *habit*, the same behaviour on the same entity on
``d`` earlier days (weight ``1 / (1 + 2d)``: an administrator's daily remote PowerShell), and the
*learning period*, the first ``learning_hours`` of event time, while what is usual is unknown
(every signal but a critical one at ``floor``).  The smallest factor applies.

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
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
#: detectors whose signals are already relative to the entity's own history
UNWEIGHTED_DETECTORS = frozenset({"baseline"})


class PrevalenceConfig(BaseModel):
    """How risk is scaled down for behaviour common across the organisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Scale risk by how many entities show the same behaviour.")
    common: int = Field(3, ge=1, description="A behaviour on more distinct entities than this is common.")
    floor: float = Field(0.05, gt=0, le=1, description="The smallest weight a common behaviour gets.")
    window_hours: float = Field(168, gt=0, description="Entities count for a behaviour this long (event time).")
    learning_hours: float = Field(24, ge=0, description="For this long after the first signal (event time) "
                                  "every signal but a critical one counts at the floor weight: the baseline of "
                                  "what is usual is still being built. 0 turns it off.")
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
        self._window = int(self.config.window_hours * _HOUR_US)
        self._learning = int(self.config.learning_hours * _HOUR_US)
        # behaviour -> {"e": {entity: [last_seen_us, distinct_days, last_day]}, "t": last_us}
        self.state = KeyedState("b/")
        self.clock = KeyedState("")  # "start": the event time of the first signal weighed

    def weigh(self, signals: list[Signal]) -> list[Signal]:
        """The signals, those of common or habitual behaviour with their risk scaled down (same order)."""
        if not self.config.enabled:
            return signals
        return [self._weigh(s) for s in signals]

    def _weigh(self, signal: Signal) -> Signal:
        subject = _subject(signal)
        if signal.detector in UNWEIGHTED_DETECTORS or signal.time is None or subject is None:
            return signal
        t = to_us(signal.time)
        start = self.clock.get("start")
        if start is None or t < start:
            self.clock.put("start", start := t)
        key = behaviour(signal)
        entry = self.state.get(key)
        if entry is None:
            entry = {"e": {}, "t": t}
            self._make_room()
        seen: dict[str, list[int]] = entry["e"]
        for other in [e for e, (last, _, _) in seen.items() if last < t - self._window]:
            del seen[other]
        day = t // _DAY_US
        last, days, last_day = seen.get(subject, (t, 0, -1))
        earlier_days = days if day != last_day else days - 1  # distinct days before this one
        seen[subject] = [max(t, last), days + (day != last_day), max(day, last_day)]
        if len(seen) > self.config.max_entities:
            del seen[min(seen, key=lambda e: (seen[e][0], e))]
        entry["t"] = max(entry["t"], t)
        self.state.put(key, entry)
        weight, why = 1.0, ""
        n = len(seen)
        if n > self.config.common:
            weight = max(self.config.floor, self.config.common / n)
            shown = f"{n}+" if n >= self.config.max_entities else str(n)
            why = f"the same behaviour on {shown} entities in {self.config.window_hours:g} h"
        if earlier_days >= 1:
            habit = max(self.config.floor, 1 / (1 + 2 * earlier_days))
            if habit < weight:
                weight, why = habit, f"{subject} showed the same behaviour on {earlier_days} earlier day(s)"
        if t - start < self._learning and signal.level not in ("critical",) and self.config.floor < weight:
            weight = self.config.floor
            why = f"learning period: the first {self.config.learning_hours:g} h of event time build the baseline"
        base = signal.risk_score
        risk = max(1, round(base * weight))
        if risk >= base:
            return signal
        note = f"Usual here ({why}): risk scaled from {base} to {risk}."
        return replace(signal, risk=risk, explanation=f"{signal.explanation} {note}".strip())

    def _make_room(self) -> None:
        if len(self.state) < self.config.max_behaviours:
            return
        oldest = min(self.state.data, key=lambda k: (self.state.data[k]["t"], k))
        self.state.delete(oldest)

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        self.state.snapshot_into(out, dirty_only=dirty_only)
        self.clock.snapshot_into(out, dirty_only=dirty_only)
        return out

    def restore(self, state: dict[str, bytes]) -> None:
        self.state.restore(state)
        self.clock.restore({k: v for k, v in state.items() if k == "start"})

    def mark_clean(self) -> None:
        self.state.mark_clean()
        self.clock.mark_clean()
