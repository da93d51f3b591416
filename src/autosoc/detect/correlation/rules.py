"""Compiled Sigma correlation rules: what the loader hands the correlation engine.

A :class:`CorrelationRule` is plain, picklable data (it lives in the rule cache).  Its
references are already resolved (:mod:`.resolve`): each :class:`RuleRef` names the base Sigma
rule or the correlation it points at, and carries the field names to read from that rule's
events for every ``group-by`` entry and for the ``value_count`` field, with the correlation's
``aliases`` applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

#: correlation types of the Sigma correlation specification 2.x that the engine evaluates
TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
#: condition operators (pySigma adds ``neq`` to the specification's five)
OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")
#: operators decided as soon as they hold: the measure only grows while a window fills
MONOTONE = ("gt", "gte")


@dataclass(frozen=True, slots=True)
class RuleRef:
    """One entry of a correlation's ``rules``, resolved."""

    reference: str  # as written in the correlation (an id or a name)
    kind: str  # "sigma" (a base rule) or "correlation" (chaining)
    id: str  # CompiledRule.id or CorrelationRule.id
    title: str
    group_fields: tuple[str, ...]  # per group-by entry: the field in this rule's events
    value_fields: tuple[str, ...] = ()  # value_count: the counted field(s) in this rule's events
    #: fields a parent correlation needs from this correlation's results (see CorrelationRule.carry)
    carry_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CorrelationRule:
    id: str
    title: str
    type: str  # one of TYPES
    refs: tuple[RuleRef, ...]
    group_by: tuple[str, ...]  # as written (alias names stay alias names)
    timespan_seconds: int
    timespan: str  # as written ("5m")
    op: str  # one of OPERATORS
    count: int
    value_fields: tuple[str, ...] = ()  # value_count ``field`` as written
    generate: bool = False  # the specification's default: referenced rules emit no signals of their own
    name: str = ""
    level: str = "medium"
    status: str = "experimental"
    tags: tuple[str, ...] = ()
    path: str = ""
    description: str = ""
    author: str = ""
    #: fields (beyond group-by) that parent correlations read from this one's results; each result
    #: carries the value when all its contributing events agree on it
    carry: tuple[str, ...] = ()

    @property
    def span(self) -> timedelta:
        return timedelta(seconds=self.timespan_seconds)

    @property
    def monotone(self) -> bool:
        """True when the condition can be decided as soon as it holds (gt/gte); the others
        (``lt``, ``lte``, ``eq``, ``neq``) are decided when the window closes."""
        return self.op in MONOTONE

    def holds(self, measure: int) -> bool:
        return compare(self.op, measure, self.count)

    def base_rule_ids(self) -> list[str]:
        return [r.id for r in self.refs if r.kind == "sigma"]


def compare(op: str, measure: int, count: int) -> bool:
    if op == "gt":
        return measure > count
    if op == "gte":
        return measure >= count
    if op == "lt":
        return measure < count
    if op == "lte":
        return measure <= count
    if op == "eq":
        return measure == count
    return measure != count  # neq


def format_span(seconds: int) -> str:
    """Go-style duration: 300 -> ``5m0s``, 5400 -> ``1h30m0s``, 45 -> ``45s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
