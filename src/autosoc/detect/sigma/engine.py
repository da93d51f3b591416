"""The Sigma detector: compiled rules evaluated over whole batches.

Rules are grouped by logsource.  Per batch, each group's selector picks its rows once; the
group's lower-cased columns and keyword text are built once for those rows; then all of the
group's rules run as one Polars ``select``.  Only the (rule, row) hits come back to Python,
where they become :class:`~autosoc.schema.Signal` s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from autosoc.detect.sigma.exprs import KEYWORD_COLUMN, lower_name, lowered_fields, to_expr
from autosoc.detect.sigma.ir import And, Node, Not, Or, Pred, has_keywords
from autosoc.detect.sigma.logsource import FAMILY_COLUMN, PATH_COLUMN
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.errors import Origin
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch, Signal

_ROW = "__row"


def _fields(node: Node) -> set[str]:
    out: set[str] = set()

    def walk(n: Node) -> None:
        if isinstance(n, Pred):
            if n.field:
                out.add(n.field)
            if n.op == "fieldref":
                out.add(str(n.args[0]))
        elif isinstance(n, And | Or):
            for i in n.items:
                walk(i)
        elif isinstance(n, Not):
            walk(n.item)

    walk(node)
    return out


@dataclass(slots=True)
class _Group:
    selector: pl.Expr
    selector_fields: set[str]
    selector_lowered: set[str]
    rules: list[CompiledRule] = field(default_factory=list)
    exprs: list[pl.Expr] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    lowered: set[str] = field(default_factory=set)
    keywords: bool = False


class SigmaEngine:
    """Evaluates compiled rules over :class:`EventBatch` es."""

    name = "sigma"

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.rules = list(rules)
        groups: dict[Node, _Group] = {}
        for rule in self.rules:
            group = groups.get(rule.selector)
            if group is None:
                group = groups[rule.selector] = _Group(
                    to_expr(rule.selector), _fields(rule.selector), lowered_fields(rule.selector))
            group.rules.append(rule)
            group.exprs.append(to_expr(rule.detection).alias(str(len(group.exprs))))
            group.fields |= _fields(rule.detection)
            group.lowered |= lowered_fields(rule.detection)
            group.keywords |= has_keywords(rule.detection)
        self._groups = list(groups.values())
        self._selector_fields = set().union(*(g.selector_fields for g in self._groups)) if self._groups else set()
        self._selector_lowered = set().union(*(g.selector_lowered for g in self._groups)) if self._groups else set()

    def detect(self, batch: EventBatch) -> list[Signal]:
        raw, events = batch.raw, batch.events
        if raw.height == 0 or not self._groups:
            return []
        frame = _with_columns(raw.with_columns(
            events[F.FAMILY].alias(FAMILY_COLUMN), events[F.ORIGIN_PATH].alias(PATH_COLUMN),
            pl.int_range(raw.height, dtype=pl.UInt32).alias(_ROW),
        ), self._selector_fields, self._selector_lowered)
        masks = frame.select(g.selector.alias(str(i)) for i, g in enumerate(self._groups))
        signals: list[Signal] = []
        for i, group in enumerate(self._groups):
            mask = masks.get_column(str(i))
            if not mask.any():
                continue
            sub = frame.filter(mask)
            sub = _with_columns(sub, group.fields, group.lowered - self._selector_lowered, keywords=group.keywords,
                                keyword_source=raw.columns)
            hits = sub.select(group.exprs)
            counts = hits.sum().row(0)
            for index, count in enumerate(counts):
                if not count:
                    continue
                rule = group.rules[index]
                rows = sub.get_column(_ROW).filter(hits.get_column(str(index))).to_list()
                signals.extend(_signal(rule, events, sub, raw_row, sub_row)
                               for raw_row, sub_row in zip(rows, hits.get_column(str(index)).arg_true().to_list(),
                                                           strict=True))
        return signals


def _with_columns(frame: pl.DataFrame, fields: set[str], lowered: set[str], *, keywords: bool = False,
                  keyword_source: Sequence[str] = ()) -> pl.DataFrame:
    present = set(frame.columns)
    missing = [pl.lit(None, dtype=pl.String).alias(f) for f in fields | lowered if f not in present]
    if missing:
        frame = frame.with_columns(missing)
    extra = [pl.col(f).str.to_lowercase().alias(lower_name(f)) for f in lowered if lower_name(f) not in present]
    if keywords and KEYWORD_COLUMN not in present:
        sources = [pl.col(c) for c in keyword_source if not c.startswith("__")]
        extra.append(pl.concat_str(sources, separator="\n", ignore_nulls=True).str.to_lowercase()
                     .alias(KEYWORD_COLUMN))
    return frame.with_columns(extra) if extra else frame


def _signal(rule: CompiledRule, events: pl.DataFrame, sub: pl.DataFrame, raw_row: int, sub_row: int) -> Signal:
    event = events.row(raw_row, named=True)
    matched: dict[str, str] = {}
    for name in rule.fields:
        value = sub.get_column(name)[sub_row] if name in sub.columns else None
        if value is not None:
            matched[name] = value
    time = event[F.TIME]
    return Signal(
        rule_id=rule.id,
        title=rule.title,
        level=rule.level,
        status=rule.status,
        tags=list(rule.tags),
        event_ids=[event[F.EVENT_ID]],
        origins=[Origin(event[F.ORIGIN_SOURCE], event[F.ORIGIN_PATH], event[F.ORIGIN_RECORD])],
        time=time if isinstance(time, datetime) else None,
        host=event[F.HOST],
        user=event[F.USER],
        matched=matched,
        rule_path=rule.path,
        description=rule.description,
    )
