"""The :class:`IncidentEngine`: signals in, incidents out, by entity risk and shared entities.

For each signal, in arrival order, using its event time:

1. Its entities (user, host, IPs, cloud principal, OAuth app; canonical, see
   :meth:`autosoc.schema.Signal.all_entities`) minus denied ones are linked to each other in the
   :class:`~.graph.EntityGraph`; those that are not hubs are its *core* entities.
2. It adds risk to each core entity (:class:`~.risk.RiskLedger`: decay, diminishing repeats).
3. **Join**: if a core entity belongs to an open incident that saw that entity within
   ``join_window``, the signal joins it.  If its core entities belong to several open incidents,
   they are one story: they **merge** into the oldest (earliest first seen), the others become
   ``merged`` with ``merged_into`` set.
   A hub entity an open incident took in while it was not yet a hub (an attacker's IP spraying
   accounts) still leads later signals to that incident, as long as only one incident holds it;
   it never merges incidents.
4. **Open**: otherwise a new incident opens when the signal's level is ``open_level`` or above, or
   when the risk *around* it reaches ``threshold``.  Around a signal are its core entities and the
   entities linked to one of them near one-to-one (alice and her workstation, not a file server and
   its users: ``share_max_degree``); its *candidates* are the remembered signals within the window
   all of whose core entities lie around it.  The risk is this signal's plus the candidates'
   (each once, with its decayed contribution), times the diversity multiplier of their distinct
   detectors and tactics, from at least ``min_rules`` distinct rules.  The new incident pulls its
   candidates in: the weak signals that led up to it are part of the story.  (If a candidate
   already shares an entity with an open incident, the signal joins that incident instead.)  A
   signal that joins an incident with an entity new to it pulls its candidates in the same way.
5. Otherwise the signal is remembered on its core entities (:class:`~.memory.SignalMemory`).

Incident ids derive from the opening signal's id, so a replay gives the same ids.  When event time
has moved ``join_window + lateness`` past an incident's last signal, nothing can join it any more:
it is returned once more and forgotten (state stays bounded); it stays ``open`` for the analysts,
who close it.  Expiry runs at
whole hours of event time, so results do not depend on how signals are batched.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import orjson

from autosoc.correlate import describe
from autosoc.correlate._state import KeyedState, span_us, to_us
from autosoc.correlate.config import CorrelateConfig
from autosoc.correlate.graph import EntityGraph, entity_key, kind_of
from autosoc.correlate.memory import SignalMemory
from autosoc.correlate.risk import RiskLedger, diversity_multiplier
from autosoc.errors import StoreError
from autosoc.schema import LEVEL_RANK, LEVEL_RISK, Incident, Signal

_TICK_US = 3_600 * 1_000_000
_META = "meta"


class IncidentEngine:
    """Entity risk and incident grouping; stateful (snapshot/restore/mark_clean like every detector)."""

    name = "incidents"
    stateful: ClassVar[bool] = True

    def __init__(self, config: CorrelateConfig) -> None:
        self.config = config
        self._window = span_us(config.join_window)
        self._lateness = span_us(config.lateness)
        half_life = span_us(config.half_life)
        self._open_rank = LEVEL_RANK[config.open_level]
        self.risk = RiskLedger(half_life_us=half_life, repeat_factor=config.repeat_factor)
        self.graph = EntityGraph(deny=[*config.deny, *config.deny_extra], hub_degree=config.hub_degree,
                                 window_us=self._window)
        self.memory = SignalMemory(max_per_entity=config.max_signals_per_entity, half_life_us=half_life)
        self.incidents = KeyedState("i/")
        self._meta: dict[str, Any] = {"wm": None, "tick": None, "seq": 0}
        self._meta_dirty = False
        self._index: dict[str, str] = {}  # core entity key -> open incident id (derived from incidents)
        self._of: dict[str, str] = {}  # signal id -> open incident id (derived from incidents)
        self._closed_of: dict[str, str] = {}  # the same for incidents closed during the last process()
        self._changed: dict[str, Incident | None] = {}

    # --- the interface ---------------------------------------------------------------------------

    def process(self, signals: list[Signal]) -> list[Incident]:
        """Correlate ``signals`` (in this order); return the incidents they created or changed
        (opened, joined, merged into another, closed), each once, in the order of first change."""
        self._changed, self._closed_of = {}, {}
        for signal in signals:
            self._one(signal)
        changed, self._changed = self._changed, {}
        return [built if built is not None else describe.build(self.incidents.data[iid], self.config)
                for iid, built in changed.items()]

    def incident_of(self, signal_id: str) -> str | None:
        """The incident a signal belongs to (after merges, the one that absorbed it): open ones, and
        those closed during the last :meth:`process` call (a batch may span more than a window)."""
        return self._of.get(signal_id) or self._closed_of.get(signal_id)

    def risk_of(self, key: str, at: Any) -> float:
        """Decayed risk of entity ``kind:value`` at datetime ``at`` (for tests and the API)."""
        return self.risk.score(key, to_us(at))

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        if not dirty_only or self._meta_dirty:
            out[_META] = orjson.dumps(self._meta)
        for part in self._parts():
            part.snapshot_into(out, dirty_only=dirty_only)
        return out

    def restore(self, state: dict[str, bytes]) -> None:
        raw = state.get(_META)
        if raw:
            try:
                meta = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise StoreError(f"correlate state 'meta' is not valid JSON: {exc}", code="bad_state") from exc
            if not isinstance(meta, dict) or not {"wm", "tick", "seq"} <= meta.keys():
                raise StoreError("correlate state 'meta' has an unexpected shape", code="bad_state")
            self._meta = meta
        for part in self._parts():
            part.restore(state)
        self._index, self._of = {}, {}
        for iid, inc in self.incidents.data.items():
            for key in inc["core"]:
                self._index[key] = iid
            for signal_id in inc["sids"]:
                self._of[signal_id] = iid
        self._meta_dirty = False

    def mark_clean(self) -> None:
        self._meta_dirty = False
        for part in self._parts():
            part.mark_clean()

    # --- one signal ------------------------------------------------------------------------------

    def _parts(self) -> tuple[KeyedState, ...]:
        return (self.risk.state, self.graph.state, self.memory.records, self.memory.lists, self.incidents)

    def _one(self, signal: Signal) -> None:
        t = self._clock(signal)
        signal_id = signal.signal_id
        if signal_id in self._of or signal_id in self.memory:
            return  # the same signal again (replay, or one event read from two exports)
        keys: list[str] = []
        shown: dict[str, str] = {}
        for entity in signal.all_entities():
            key = entity_key(entity)
            if key not in shown and not self.graph.denied(key):
                keys.append(key)
                shown[key] = describe.display(entity.kind, entity.value, signal)
        self.graph.observe(keys, t)
        core = [key for key in keys if not self.graph.is_hub(key, t)]
        rule_key = f"{signal.detector}:{signal.rule_id}"
        base = max(0, signal.risk_score)
        contributions = {key: self.risk.add(key, rule_key, base, t) for key in core}
        record = {
            "t": t, "rank": LEVEL_RANK.get(signal.level, 0), "title": signal.title, "det": signal.detector,
            "rule": rule_key, "tac": list(dict.fromkeys(tac.replace("_", "-") for tac in signal.attack_tactics)),
            "tech": list(dict.fromkeys(signal.attack_techniques)), "ents": shown, "core": core,
            "risk": max(contributions.values()) if contributions else float(base),
        }
        touched, claimed = self._touched(core, t)
        if not touched:
            # an entity that became a hub after an incident took it in (a spraying IP that has now
            # touched 20 accounts) still leads its signals to that one incident; it never merges two
            anchors = [key for key in keys if key not in core and key in self._index]
            via, _ = self._touched(anchors, t)
            if len(via) == 1:
                touched, claimed = via, 0
        if touched:  # join; a signal that brings the incident a new entity brings its recent weak signals
            self._gather(touched[0], signal_id, record, list(self._candidates(core, t)) if claimed < len(core) else [])
            return
        reason: str | None = None
        candidates: dict[str, float] = {}
        if record["rank"] >= self._open_rank and _full_weight(signal):
            reason = f"{signal.level} signal: {signal.title}"
            candidates = self._candidates(core, t)
        elif core and self._may_reach(core, t):
            candidates = self._candidates(core, t)
            reason = self._risk_reason(core, record, candidates, t)
        if reason is None:
            if core and record["risk"] >= self.config.remember_min_risk:
                self.memory.remember(signal_id, record, contributions)
            return
        # a weak signal it pulls in may share an entity with an open incident: then it joins that one
        earlier: dict[str, None] = {}
        for sid in candidates:
            pulled = self.memory.record(sid)
            earlier.update(dict.fromkeys(self._touched(pulled["core"], int(pulled["t"]))[0]))
        target = min(earlier, key=self._age) if earlier else self._create(signal_id, reason, t)
        self._gather(target, signal_id, record, list(candidates))

    def _clock(self, signal: Signal) -> int:
        """The signal's event time (µs); a signal without one takes the newest time seen.  Moving
        the watermark past a whole hour runs expiry first."""
        wm = self._meta["wm"]
        t = to_us(signal.time) if signal.time is not None else (wm if wm is not None else 0)
        if wm is None or t > wm:
            self._meta["wm"] = t
            self._meta_dirty = True
            tick = self._meta["tick"]
            if tick is None or t >= tick:
                if tick is not None:
                    self._expire(t)
                self._meta["tick"] = (t // _TICK_US + 1) * _TICK_US
        return t

    # --- joining, opening, merging ---------------------------------------------------------------

    def _touched(self, core: list[str], t: int) -> tuple[list[str], int]:
        """Open incidents that saw one of ``core`` within the window (oldest first), and how many of
        ``core`` they hold."""
        found: dict[str, None] = {}
        claimed = 0
        for key in core:
            iid = self._index.get(key)
            if iid is not None and self.incidents.data[iid]["core"][key] >= t - self._window:
                found[iid] = None
                claimed += 1
        return sorted(found, key=self._age), claimed

    def _age(self, iid: str) -> tuple[int, int]:
        inc = self.incidents.data[iid]
        return inc["first"], inc["seq"]

    def _cluster(self, anchor: str, t: int) -> list[str]:
        """``anchor`` and the non-hub entities linked to it near one-to-one (each side linked to at
        most ``share_max_degree`` entities of the other's kind): alice and her workstation, not a
        file server and its users."""
        out = [anchor]
        limit = self.config.share_max_degree
        for other in self.graph.neighbours(anchor, t):
            if (not self.graph.is_hub(other, t) and self.graph.degree(anchor, t, kind_of(other)) <= limit
                    and self.graph.degree(other, t, kind_of(anchor)) <= limit):
                out.append(other)
        return out

    def _around(self, core: list[str], t: int) -> list[str]:
        """The union of the clusters of ``core``, sorted."""
        out: dict[str, None] = {}
        for key in core:
            out.update(dict.fromkeys(self._cluster(key, t)))
        return sorted(out)

    def _candidates(self, core: list[str], t: int) -> dict[str, float]:
        """Remembered signals within the window all of whose (still non-hub) entities lie around
        ``core``, in (time, id) order, with the largest risk each gave one of those entities, decayed
        to ``t``: what counts toward its risk and what an incident pulls in.  (A weak signal of bob on
        the file server alice also touched is not part of alice's story.)"""
        if not core:
            return {}
        around = self._around(core, t)
        inside = set(around)
        return {signal_id: value for signal_id, value in self.memory.recent(around, t, self._window).items()
                if all(key in inside or self.graph.is_hub(key, t) for key in self.memory.record(signal_id)["core"])}

    def _may_reach(self, core: list[str], t: int) -> bool:
        """Cheap upper bound: could the risk around ``core`` reach the threshold?  (The sum of the
        decayed risk of ``core`` and all its non-hub neighbours, times the largest multiplier.)"""
        keys = dict.fromkeys(core)
        for key in core:
            keys.update((other, None) for other in self.graph.neighbours(key, t))
        total = sum(self.risk.score(key, t) for key in keys if not self.graph.is_hub(key, t))
        return total * self.config.max_multiplier >= self.config.threshold

    def _risk_reason(self, core: list[str], record: dict[str, Any], candidates: dict[str, float],
                     t: int) -> str | None:
        """Why the risk around ``core`` opens an incident, or None when it does not.

        The risk: this signal and the ``candidates``, each once with its decayed contribution, times
        the diversity multiplier of their distinct detectors and tactics; it opens with ``min_rules``
        distinct rules."""
        cfg = self.config
        records = [record, *(self.memory.record(s) for s in candidates)]
        rules = {r["rule"] for r in records}
        if len(rules) < cfg.min_rules:
            return None
        detectors = {r["det"] for r in records}
        tactics = {tac for r in records for tac in r["tac"]}
        total = float(record["risk"]) + sum(candidates.values())
        value = total * diversity_multiplier(len(detectors), len(tactics), detector_bonus=cfg.detector_bonus,
                                             tactic_bonus=cfg.tactic_bonus, cap=cfg.max_multiplier)
        if value < cfg.threshold:
            return None
        anchor = max(core, key=lambda k: self.risk.score(k, t))
        return (f"risk of {anchor} reached {value:.0f} (threshold {cfg.threshold:g}) from {len(records)} "
                f"signals of {len(rules)} rules, {len(detectors)} detectors, {len(tactics)} tactics")

    def _create(self, signal_id: str, reason: str, t: int) -> str:
        """A new, empty incident whose id derives from the signal that opens it."""
        digest = hashlib.blake2b(b"incident\0" + signal_id.encode(), digest_size=8).hexdigest()
        iid = f"inc-{digest}"
        self._meta["seq"] += 1
        self._meta_dirty = True
        self.incidents.put(iid, {
            "id": iid, "seq": self._meta["seq"], "by": signal_id, "reason": reason, "first": t, "last": t,
            "sids": [], "n": 0, "ents": {}, "core": {}, "rank": 0, "top": [-1, ""], "det": [], "tac": [],
            "tech": [], "base": 0.0, "subj": {},
        })
        return iid

    def _gather(self, iid: str, signal_id: str, record: dict[str, Any], pulled: list[str]) -> None:
        """Attach the signal and the remembered signals ``pulled`` to ``iid``, in time order."""
        items = [(self.memory.take(s), s) for s in pulled]
        items.append((record, signal_id))
        items.sort(key=lambda pair: (pair[0]["t"], pair[1]))
        for rec, sid in items:
            iid = self._attach(iid, sid, rec)  # a pulled signal may merge it with another incident

    def _attach(self, iid: str, signal_id: str, record: dict[str, Any]) -> str:
        """Add a signal to ``iid``, merging every other open incident its core entities touch."""
        touched, _ = self._touched(record["core"], int(record["t"]))
        if iid not in touched:
            touched.append(iid)
        if len(touched) > 1:
            iid = self._merge(touched)
        inc = self.incidents.data[iid]
        t = int(record["t"])
        if len(inc["sids"]) < self.config.max_incident_signals:
            inc["sids"].append(signal_id)
            self._of[signal_id] = iid  # only listed signals: the map is rebuilt from the lists on restore
        inc["n"] += 1
        inc["first"], inc["last"] = min(inc["first"], t), max(inc["last"], t)
        for key, shown in record["ents"].items():
            inc["ents"].setdefault(key, shown)
            inc["subj"][key] = inc["subj"].get(key, 0) + 1
        for key in record["core"]:
            self._claim(iid, key, t)
        inc["rank"] = max(inc["rank"], record["rank"])
        if record["rank"] > inc["top"][0]:
            inc["top"] = [record["rank"], record["title"]]
        _extend(inc["det"], [record["det"]])
        _extend(inc["tac"], record["tac"])
        _extend(inc["tech"], record["tech"])
        inc["base"] = float(inc["base"]) + float(record["risk"])
        self.incidents.touch(iid)
        self._changed.setdefault(iid, None)
        return iid

    def _claim(self, iid: str, key: str, t: int) -> None:
        """Make ``key`` a core entity of ``iid`` (taking it from an incident whose window on it ended)."""
        owner = self._index.get(key)
        if owner is not None and owner != iid:
            del self.incidents.data[owner]["core"][key]
            self.incidents.touch(owner)
        core = self.incidents.data[iid]["core"]
        core[key] = max(core.get(key, t), t)
        self._index[key] = iid

    def _merge(self, touched: list[str]) -> str:
        """Merge the incidents ``touched`` into the oldest; return its id."""
        data = self.incidents.data
        ordered = sorted(touched, key=self._age)
        survivor_id, survivor = ordered[0], data[ordered[0]]
        for other_id in ordered[1:]:
            other = data[other_id]
            self._changed[other_id] = describe.build(other, self.config, status="merged", merged_into=survivor_id)
            room = max(0, self.config.max_incident_signals - len(survivor["sids"]))
            survivor["sids"].extend(other["sids"][:room])
            for signal_id in other["sids"][:room]:
                self._of[signal_id] = survivor_id
            for signal_id in other["sids"][room:]:
                del self._of[signal_id]
            survivor["n"] += other["n"]
            survivor["first"] = min(survivor["first"], other["first"])
            survivor["last"] = max(survivor["last"], other["last"])
            for key, shown in other["ents"].items():
                survivor["ents"].setdefault(key, shown)
            for key, count in other["subj"].items():
                survivor["subj"][key] = survivor["subj"].get(key, 0) + count
            for key, at in other["core"].items():
                survivor["core"][key] = max(survivor["core"].get(key, at), at)
                self._index[key] = survivor_id
            survivor["rank"] = max(survivor["rank"], other["rank"])
            if other["top"][0] > survivor["top"][0]:
                survivor["top"] = list(other["top"])
            _extend(survivor["det"], other["det"])
            _extend(survivor["tac"], other["tac"])
            _extend(survivor["tech"], other["tech"])
            survivor["base"] = float(survivor["base"]) + float(other["base"])
            self.incidents.delete(other_id)
        self.incidents.touch(survivor_id)
        self._changed.setdefault(survivor_id, None)
        return survivor_id

    # --- expiry ----------------------------------------------------------------------------------

    def _expire(self, now: int) -> None:
        cutoff = now - self._window - self._lateness
        closing = sorted((inc["last"], iid) for iid, inc in self.incidents.data.items() if inc["last"] < cutoff)
        for _, iid in closing:
            inc = self.incidents.data[iid]
            self._changed[iid] = describe.build(inc, self.config, status="open")
            for key in inc["core"]:
                if self._index.get(key) == iid:
                    del self._index[key]
            for signal_id in inc["sids"]:
                if self._of.get(signal_id) == iid:
                    del self._of[signal_id]
                    self._closed_of[signal_id] = iid
            self.incidents.delete(iid)
        self.memory.expire(cutoff)
        self.graph.expire(cutoff)
        self.risk.expire(now)


def _extend(target: list[str], values: list[str]) -> None:
    for value in values:
        if value not in target:
            target.append(value)


def _full_weight(signal: Signal) -> bool:
    """False for a signal whose risk was scaled below half its level's (common behaviour, see
    :mod:`.prevalence`): such a signal adds its risk, but does not open an incident by its level alone."""
    return signal.risk is None or 2 * signal.risk >= LEVEL_RISK.get(signal.level, 1)
