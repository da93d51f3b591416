"""Hits: the events (or lower correlation results) a correlation counts, taken out of a batch.

Only the rows where a referenced base rule fired become Python objects: Polars selects those
rows and the few columns needed (event time as epoch microseconds, event id, origin, host, user,
and the raw fields named by ``group-by``, the ``value_count`` field and carried fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import polars as pl

from autosoc.detect.correlation.rules import CorrelationRule, RuleRef
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch

#: event ids and origins kept per hit and per signal (the counts are always exact)
MAX_LISTED = 100
_PRIOR = "__prior_max"
_TIME_US = "__time_us"
_EVENT_COLUMNS = (F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.ORIGIN_RECORD, F.HOST, F.USER)

OriginTuple = tuple[str, str, int | None]


class Hit(NamedTuple):
    """One contribution to a correlation window.  Times are epoch microseconds (UTC)."""

    time: int
    seq: int  # arrival order: ties in time are taken in this order
    key: str  # duplicate detection: the same event is counted once
    ref: int  # index into the correlation's refs
    group: tuple[str, ...]
    value: tuple[str, ...] | None  # value_count: the counted value(s)
    carry: tuple[str | None, ...]  # per CorrelationRule.carry
    host: str | None
    user: str | None
    event_ids: tuple[str, ...]
    origins: tuple[OriginTuple, ...]
    events: int  # events this hit stands for (1 for an event, more for a lower correlation's result)


class Targets:
    """Which correlations read which base rules: rule id -> [(correlation index, ref index)]."""

    def __init__(self, rules: Sequence[CorrelationRule]) -> None:
        self.by_rule: dict[str, list[tuple[int, int]]] = {}
        for ci, rule in enumerate(rules):
            for ri, ref in enumerate(rule.refs):
                if ref.kind == "sigma":
                    self.by_rule.setdefault(ref.id, []).append((ci, ri))
        self.rules = list(rules)

    def fields(self, rule_id: str) -> set[str]:
        out: set[str] = set()
        for ci, ri in self.by_rule.get(rule_id, ()):
            ref = self.rules[ci].refs[ri]
            out.update(ref.group_fields, ref.value_fields, ref.carry_fields)
        return out


class BaseHits(NamedTuple):
    """Hits of one batch per correlation index, with the prior watermark input per hit."""

    per_rule: dict[int, list[tuple[Hit, int | None]]]  # correlation index -> [(hit, max time before it)]
    no_time: int
    missing_group: int


def collect(batch: EventBatch, fired: Sequence[tuple[CompiledRule, Sequence[int]]], targets: Targets,
            seq0: int) -> BaseHits:
    """The hits in ``batch`` for every correlation, in arrival order (row, then rule)."""
    wanted = [(rule, rows) for rule, rows in fired if rule.id in targets.by_rule and len(rows)]
    per_rule: dict[int, list[tuple[Hit, int | None]]] = {}
    if not wanted:
        return BaseHits(per_rule, 0, 0)
    rows = sorted({int(r) for _, hit_rows in wanted for r in hit_rows})
    position = {row: i for i, row in enumerate(rows)}
    events = batch.events
    time_us = events[F.TIME].dt.epoch("us")
    table = events.select(*(pl.col(c) if c in events.columns else pl.lit(None, pl.String).alias(c)
                            for c in _EVENT_COLUMNS)).with_columns(
        time_us.alias(_TIME_US), time_us.cum_max().forward_fill().shift(1).alias(_PRIOR))[rows]
    cols = table.to_dict(as_series=False)
    raw_fields = sorted(set().union(*(targets.fields(rule.id) for rule, _ in wanted)) & set(batch.raw.columns))
    raw = batch.raw.select(raw_fields)[rows].to_dict(as_series=False) if raw_fields else {}
    missing: list[str | None] = [None] * len(rows)

    def values(names: tuple[str, ...], at: int) -> tuple[str | None, ...]:
        return tuple((raw.get(n) or missing)[at] for n in names)

    no_time = missing_group = 0
    pending: list[tuple[int, int, int, Hit, int | None]] = []
    for rule, hit_rows in wanted:
        for row in hit_rows:
            at = position[int(row)]
            time = cols[_TIME_US][at]
            if time is None:
                no_time += len(targets.by_rule[rule.id])
                continue
            event_id = str(cols[F.EVENT_ID][at])
            record = cols[F.ORIGIN_RECORD][at]
            origin = (str(cols[F.ORIGIN_SOURCE][at]), str(cols[F.ORIGIN_PATH][at]),
                      record if isinstance(record, int) else None)
            for ci, ri in targets.by_rule[rule.id]:
                correlation = targets.rules[ci]
                ref = correlation.refs[ri]
                group = values(ref.group_fields, at)
                if any(v is None for v in group):
                    missing_group += 1
                    continue
                value = values(ref.value_fields, at) if ref.value_fields else None
                if value is not None and any(v is None for v in value):
                    missing_group += 1  # a value_count hit without the counted field adds no value
                    continue
                key = event_id if correlation.type in ("event_count", "value_count") else f"{event_id}#{ri}"
                hit = Hit(time, seq0 + int(row), key, ri, group, value,  # type: ignore[arg-type]
                          values(ref.carry_fields, at), cols[F.HOST][at], cols[F.USER][at],
                          (event_id,), (origin,), 1)
                pending.append((int(row), ci, ri, hit, cols[_PRIOR][at]))
    pending.sort(key=lambda p: (p[0], p[1], p[2]))
    for _, ci, _, hit, prior in pending:
        per_rule.setdefault(ci, []).append((hit, prior))
    return BaseHits(per_rule, no_time, missing_group)


def chained_hit(parent: CorrelationRule, ri: int, fields: Mapping[str, str | None],
                time: int, seq: int, key: str, host: str | None, user: str | None,
                event_ids: tuple[str, ...], origins: tuple[OriginTuple, ...], events: int) -> Hit | None:
    """A lower correlation's result as a hit of ``parent`` (``fields``: its group-by and carried values)."""
    ref: RuleRef = parent.refs[ri]
    group = tuple(fields.get(n) for n in ref.group_fields)
    if any(v is None for v in group):
        return None
    value = tuple(fields.get(n) for n in ref.value_fields) if ref.value_fields else None
    if value is not None and any(v is None for v in value):
        return None
    return Hit(time, seq, key, ri, group, value, tuple(fields.get(n) for n in ref.carry_fields),  # type: ignore
               host, user, event_ids[:MAX_LISTED], origins[:MAX_LISTED], events)
