"""The stateful correlation engine: base-rule hits in, correlation signals out, across batches.

Time is event time only.  The engine keeps the largest event time it has seen (``max_seen``);
the **watermark** is ``max_seen - lateness``.  Each hit waits in its group's pending list until
the watermark passes it, then windows see hits strictly in event-time order, so events that
arrive out of order by up to ``lateness`` are counted exactly as if they had come in order.
A hit older than the watermark when it arrives (computed per event, in arrival order, so the
batch boundaries do not matter) is *late*: counted in ``stats["late"]`` and ignored.
``lateness=None`` (``autosoc hunt``) never drops anything and decides at :meth:`flush`.

Correlations referencing correlations (chaining) are evaluated children first; a child's
result becomes a hit of the parent at the child's signal time.  State is per (correlation,
group) and expires by event time; it checkpoints through :meth:`snapshot`/:meth:`restore`.
"""

from __future__ import annotations

import hashlib
import heapq
import pickle
from collections.abc import Sequence
from datetime import timedelta

from autosoc.detect.correlation import windows as W
from autosoc.detect.correlation.hits import MAX_LISTED, Hit, Targets, chained_hit, collect
from autosoc.detect.correlation.rules import CorrelationRule
from autosoc.detect.correlation.signals import build_signal, uniform
from autosoc.detect.correlation.windows import Firing, GroupState
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch, Signal

_META = "_meta"
_END = 2**62  # the watermark at the end of input: after every event time
_STATE_VERSION = 1


class CorrelationEngine:
    """Evaluates Sigma correlation rules over the base-rule hits of successive batches."""

    name = "sigma_correlation"

    def __init__(self, rules: Sequence[CorrelationRule], *, lateness: timedelta | None = timedelta(minutes=5)) -> None:
        self.rules = _children_first(rules)
        self.lateness_us = None if lateness is None else int(lateness / timedelta(microseconds=1))
        self._targets = Targets(self.rules)
        self._index = {rule.id: i for i, rule in enumerate(self.rules)}
        #: correlation index -> [(parent index, ref index)] for chaining
        self._parents: dict[int, list[tuple[int, int]]] = {}
        for pi, rule in enumerate(self.rules):
            for ri, ref in enumerate(rule.refs):
                if ref.kind == "correlation" and ref.id in self._index:
                    self._parents.setdefault(self._index[ref.id], []).append((pi, ri))
        generating = {ref.id for rule in self.rules if rule.generate for ref in rule.refs}
        self._suppressed = {ref.id for rule in self.rules for ref in rule.refs} - generating
        self._reset()

    def _reset(self) -> None:
        self._groups: list[dict[str, GroupState]] = [{} for _ in self.rules]
        self._pending: list[dict[str, None]] = [{} for _ in self.rules]  # groups with pending hits
        self._heaps: list[list[tuple[int, str]]] = [[] for _ in self.rules]  # (deadline, key), lazy
        self._queued: list[dict[str, int]] = [{} for _ in self.rules]  # key -> deadline last pushed
        self._max_seen: int | None = None
        self._seq = 0  # rows seen: arrival order of hits
        self.stats: dict[str, int] = {"late": 0, "duplicate": 0, "no_time": 0, "missing_group_by": 0,
                                      "windows": 0, "signals": 0}
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()

    # -- the pipeline interface ---------------------------------------------------------------

    def suppressed_rule_ids(self) -> set[str]:
        """Rules (base and correlation) referenced only by correlations with ``generate: false``:
        the specification's default is that they emit no signals of their own."""
        return set(self._suppressed)

    def process(self, batch: EventBatch, fired: list[tuple[CompiledRule, list[int]]]) -> list[Signal]:
        """Take one batch's base-rule hits (``SigmaEngine.evaluate``) and return the signals decided."""
        if not self.rules or len(batch) == 0:
            return []
        seq0, self._seq = self._seq, self._seq + len(batch)
        found = collect(batch, fired, self._targets, seq0)
        self.stats["no_time"] += found.no_time
        self.stats["missing_group_by"] += found.missing_group
        running = self._max_seen
        for ci in sorted(found.per_rule):
            for hit, prior in found.per_rule[ci]:
                before = prior if running is None else running if prior is None else max(prior, running)
                if self.lateness_us is not None and before is not None and hit.time < before - self.lateness_us:
                    self.stats["late"] += 1
                    continue
                self._add_pending(ci, hit)
        batch_max = batch.events[F.TIME].dt.epoch("us").max()
        if isinstance(batch_max, int):
            self._max_seen = batch_max if self._max_seen is None else max(self._max_seen, batch_max)
        self._dirty.add(_META)
        if self.lateness_us is None or self._max_seen is None:
            return []
        return self._advance(self._max_seen - self.lateness_us)

    def flush(self) -> list[Signal]:
        """End of input: release every pending hit and decide every open window; state is emptied."""
        signals = self._advance(_END)  # children first: every window closes, results climb the chain
        for ci, groups in enumerate(self._groups):
            for key in groups:
                self._deleted.add(key)
                self._dirty.discard(key)
            groups.clear()
            self._heaps[ci].clear()
            self._queued[ci].clear()
        self._dirty.add(_META)
        return signals

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for ci, rule in enumerate(self.rules):
            for key, state in self._groups[ci].items():
                if not dirty_only or key in self._dirty:
                    out[key] = pickle.dumps((rule.id, state.to_plain()), protocol=pickle.HIGHEST_PROTOCOL)
        if dirty_only:
            out.update({key: b"" for key in self._deleted})
        if not dirty_only or _META in self._dirty:
            out[_META] = pickle.dumps((_STATE_VERSION, self._max_seen, self._seq, self.stats),
                                      protocol=pickle.HIGHEST_PROTOCOL)
        return out

    def restore(self, state: dict[str, bytes]) -> None:
        self._reset()
        for key in sorted(state):
            data = state[key]
            if not data:
                continue
            if key == _META:
                _, self._max_seen, self._seq, stats = pickle.loads(data)
                self.stats.update(stats)
                continue
            rule_id, plain = pickle.loads(data)
            ci = self._index.get(rule_id)
            if ci is None:  # the rule is no longer loaded
                continue
            group_state = GroupState.from_plain(self.rules[ci], plain)
            self._groups[ci][key] = group_state
            if group_state.pending:
                self._pending[ci][key] = None
            self._push(ci, key, group_state)

    def mark_clean(self) -> None:
        self._dirty.clear()
        self._deleted.clear()

    # -- internals ----------------------------------------------------------------------------

    def _key(self, ci: int, group: tuple[str, ...]) -> str:
        digest = hashlib.blake2b("\x1f".join(group).encode(), digest_size=8).hexdigest()
        return f"{self.rules[ci].id}|{digest}"

    def _state(self, ci: int, group: tuple[str, ...]) -> tuple[str, GroupState]:
        key = self._key(ci, group)
        state = self._groups[ci].get(key)
        if state is None:
            state = self._groups[ci][key] = GroupState(group)
            self._deleted.discard(key)
        return key, state

    def _add_pending(self, ci: int, hit: Hit) -> None:
        key, state = self._state(ci, hit.group)
        if state.add_pending(hit):
            self._pending[ci][key] = None
            self._dirty.add(key)
        else:
            self.stats["duplicate"] += 1

    def _push(self, ci: int, key: str, state: GroupState) -> None:
        deadline = W.deadline(self.rules[ci], state)
        if self._queued[ci].get(key) != deadline:  # one live entry per group and deadline
            self._queued[ci][key] = deadline
            heapq.heappush(self._heaps[ci], (deadline, key))

    def _advance(self, watermark: int) -> list[Signal]:
        """Release hits before ``watermark``, children first; close and forget what is over."""
        signals: list[Signal] = []
        for ci, rule in enumerate(self.rules):
            for key in sorted(self._pending[ci]):
                state = self._groups[ci][key]
                released = state.release(watermark)
                if not state.pending:
                    del self._pending[ci][key]
                if not released:
                    continue
                for hit in released:
                    self._fire(ci, W.add(rule, state, hit), signals)
                self._dirty.add(key)
                self._push(ci, key, state)
            heap = self._heaps[ci]
            while heap and heap[0][0] < watermark:
                deadline, key = heapq.heappop(heap)
                state = self._groups[ci].get(key)
                if state is None or W.deadline(rule, state) != deadline:
                    continue  # forgotten, or a later entry for it is in the heap
                self._queued[ci].pop(key, None)
                if not rule.monotone:
                    self._fire(ci, W.close(rule, state), signals)
                self._dirty.add(key)
                if W.idle(rule, state, watermark):
                    del self._groups[ci][key]
                    self._dirty.discard(key)
                    self._deleted.add(key)
                elif W.deadline(rule, state) >= watermark:
                    self._push(ci, key, state)
                # else: only pending hits remain; they push a deadline when released
        return _ordered(signals)

    def _fire(self, ci: int, firing: Firing | None, signals: list[Signal]) -> None:
        if firing is None:
            return
        rule = self.rules[ci]
        self.stats["windows"] += 1
        signal = build_signal(rule, firing)
        if rule.id not in self._suppressed:
            self.stats["signals"] += 1
            signals.append(signal)
        for pi, ri in self._parents.get(ci, ()):
            fields = dict(zip(rule.carry, (uniform([h.carry[i] for h in firing.hits])
                                           for i in range(len(rule.carry))), strict=True))
            fields.update(zip(rule.group_by, firing.group, strict=True))
            hit = chained_hit(self.rules[pi], ri, fields, firing.time, firing.hits[-1].seq, signal.signal_id,
                              signal.host, signal.user, tuple(signal.event_ids), tuple(
                                  (o.source, o.path, o.record) for o in signal.origins),
                              sum(h.events for h in firing.hits))
            if hit is None:
                self.stats["missing_group_by"] += 1
            else:
                self._add_pending(pi, hit)


def _children_first(rules: Sequence[CorrelationRule]) -> list[CorrelationRule]:
    by_id = {rule.id: rule for rule in rules}
    order: list[CorrelationRule] = []
    seen: set[str] = set()

    def visit(rule: CorrelationRule) -> None:
        if rule.id in seen:
            return
        seen.add(rule.id)
        for ref in rule.refs:
            if ref.kind == "correlation" and ref.id in by_id:
                visit(by_id[ref.id])
        order.append(rule)

    for rule in rules:
        visit(rule)
    return order


def _ordered(signals: list[Signal]) -> list[Signal]:
    return sorted(signals, key=lambda s: (s.time, s.rule_id, s.signal_id))


__all__ = ["MAX_LISTED", "CorrelationEngine"]
