"""Per-group window state and the window algorithms, on event time (epoch microseconds).

Hits reach a group in event-time order (the engine releases them past its watermark), so every
algorithm here is a single forward pass.  Two window models, chosen by the condition:

- ``gt``/``gte`` (the measure only grows as a window fills): a **sliding** window.  A hit at
  time ``t`` sees the hits in ``[t - timespan, t]`` (both edges included); the condition is
  decided at that hit, so the signal names the hit that completed it.  After a signal, the
  hits up to ``first hit + timespan`` of the window that fired are absorbed: one window, one
  signal; the next window starts after it.
- ``lt``/``lte``/``eq``/``neq`` ("fewer than N" cannot be known before the window is over): an
  **anchored** window ``[first hit, first hit + timespan]``, decided when it closes: when a
  later hit falls outside it, when the watermark passes its end, or at the end of input.

The measure per type: ``event_count`` counts distinct events, ``value_count`` distinct values
of the field, ``temporal`` distinct referenced rules, ``temporal_ordered`` the length of the
longest prefix of ``rules`` matched in order (by event time, ties by arrival).
"""

from __future__ import annotations

from bisect import insort
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NamedTuple

from autosoc.detect.correlation.hits import Hit
from autosoc.detect.correlation.rules import CorrelationRule

NEVER = -(2**62)  # a deadline before every event time


class Firing(NamedTuple):
    """A window that satisfied its correlation's condition."""

    group: tuple[str, ...]
    hits: tuple[Hit, ...]
    time: int  # the completing hit's time, or the window end for conditions decided at close
    start: int  # first hit of the window
    measure: int
    at_close: bool


@dataclass(slots=True)
class GroupState:
    group: tuple[str, ...]
    pending: list[Hit] = field(default_factory=list)  # not yet released, sorted by (time, seq, ref)
    pending_keys: set[str] = field(default_factory=set)
    window: deque[Hit] = field(default_factory=deque)
    counts: Counter[object] = field(default_factory=Counter)  # measure keys in the window
    start: int | None = None  # anchored window start
    quiet_until: int | None = None  # sliding: hits up to here belong to a window that fired
    chains: list[tuple[Hit, ...] | None] = field(default_factory=list)  # temporal_ordered, sliding

    def add_pending(self, hit: Hit) -> bool:
        if hit.key in self.pending_keys:
            return False
        self.pending_keys.add(hit.key)
        insort(self.pending, hit, key=_order)
        return True

    def release(self, watermark: int) -> list[Hit]:
        """Pending hits strictly before ``watermark``, in order; no later hit can precede them."""
        cut = 0
        while cut < len(self.pending) and self.pending[cut].time < watermark:
            cut += 1
        out, self.pending = self.pending[:cut], self.pending[cut:]
        for hit in out:
            self.pending_keys.discard(hit.key)
        return out

    def to_plain(self) -> tuple[object, ...]:
        return (self.group, self.pending, list(self.window), self.start, self.quiet_until, self.chains)

    @classmethod
    def from_plain(cls, rule: CorrelationRule, data: tuple[object, ...]) -> GroupState:
        group, pending, window, start, quiet, chains = data
        state = cls(tuple(group), [Hit(*h) for h in pending], {h[2] for h in pending},  # type: ignore
                    deque(Hit(*h) for h in window), Counter(), start, quiet,  # type: ignore
                    [None if c is None else tuple(Hit(*h) for h in c) for c in chains])  # type: ignore
        for hit in state.window:
            state.counts[measure_key(rule, hit)] += 1
        return state


def _order(hit: Hit) -> tuple[int, int, int]:
    return (hit.time, hit.seq, hit.ref)


def measure_key(rule: CorrelationRule, hit: Hit) -> object:
    if rule.type == "value_count":
        return hit.value
    if rule.type in ("temporal", "temporal_ordered"):
        return hit.ref
    return hit.key


def add(rule: CorrelationRule, state: GroupState, hit: Hit) -> Firing | None:
    """Feed one released hit; the firing it completes (or, anchored, the window it closes)."""
    span = rule.timespan_seconds * 1_000_000
    if not rule.monotone:
        firing = None
        if state.start is not None and hit.time > state.start + span:
            firing = close(rule, state)
        if state.start is None:
            state.start = hit.time
        state.window.append(hit)
        state.counts[measure_key(rule, hit)] += 1
        return firing
    if state.quiet_until is not None:
        if hit.time <= state.quiet_until:
            return None
        state.quiet_until = None
    if rule.type == "temporal_ordered":
        return _add_ordered(rule, state, hit, span)
    window, counts = state.window, state.counts
    window.append(hit)
    counts[measure_key(rule, hit)] += 1
    while window[0].time < hit.time - span:
        old = window.popleft()
        key = measure_key(rule, old)
        counts[key] -= 1
        if not counts[key]:
            del counts[key]
    measure = len(window) if rule.type == "event_count" else len(counts)
    if not rule.holds(measure):
        return None
    firing = Firing(state.group, tuple(window), hit.time, window[0].time, measure, False)
    state.quiet_until = window[0].time + span
    window.clear()
    counts.clear()
    return firing


def _add_ordered(rule: CorrelationRule, state: GroupState, hit: Hit, span: int) -> Firing | None:
    """Longest in-order prefix ending at ``hit``; each position keeps the chain with the latest start."""
    if not state.chains:
        state.chains = [None] * len(rule.refs)
    chains, p = state.chains, hit.ref
    if p == 0:
        chains[0] = (hit,)
    else:
        before = chains[p - 1]
        if before is None or hit.time - before[0].time > span or before[-1].seq == hit.seq:
            return None
        current = chains[p]
        if current is not None and before[0].time < current[0].time:
            return None  # the chain already here has more room left
        chains[p] = (*before, hit)
    measure = p + 1
    if not rule.holds(measure):
        return None
    chain = chains[p]
    assert chain is not None
    state.chains = []
    state.quiet_until = chain[0].time + span
    return Firing(state.group, chain, hit.time, chain[0].time, measure, False)


def close(rule: CorrelationRule, state: GroupState) -> Firing | None:
    """Decide an anchored window and empty it."""
    if state.start is None:
        return None
    start, hits = state.start, tuple(state.window)
    if rule.type == "temporal_ordered":
        measure = 0
        for hit in hits:  # greedy: the earliest next rule after the last matched one
            if measure < len(rule.refs) and hit.ref == measure:
                measure += 1
    elif rule.type == "event_count":
        measure = len(hits)
    else:
        measure = len(state.counts)
    state.start = None
    state.window.clear()
    state.counts.clear()
    if not rule.holds(measure):
        return None
    return Firing(state.group, hits, start + rule.timespan_seconds * 1_000_000, start, measure, True)


def deadline(rule: CorrelationRule, state: GroupState) -> int:
    """The time after which nothing can join this state's window: past it, the engine closes an
    anchored window and forgets an idle group."""
    span = rule.timespan_seconds * 1_000_000
    if not rule.monotone:
        return NEVER if state.start is None else state.start + span
    latest = NEVER
    if state.window:
        latest = state.window[-1].time + span
    for chain in state.chains:
        if chain is not None:
            latest = max(latest, chain[0].time + span)
    if state.quiet_until is not None:
        latest = max(latest, state.quiet_until)
    return latest


def idle(rule: CorrelationRule, state: GroupState, watermark: int) -> bool:
    """True when the state holds nothing a future hit could use."""
    return not state.pending and deadline(rule, state) < watermark
