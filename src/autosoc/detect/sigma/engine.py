"""The Sigma detector: compiled rules evaluated over whole batches.

Per batch:

1. every logsource selector runs once over the batch (``masks``) and picks its group's rows;
2. per group, one Aho-Corasick pass per field finds the rules' necessary literals
   (:mod:`.prefilter`) and yields (rule, candidate row) pairs, joined in Polars;
3. each rule with candidates is evaluated only on those rows; rules with no necessary literal
   (pure regex, numeric or negated logic) are evaluated on all of the group's rows in one select;
4. only the hits come back to Python, where they become :class:`~autosoc.schema.Signal` s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from autosoc.detect.sigma.exprs import KEYWORD_COLUMN, lower_name, lowered_fields, to_expr
from autosoc.detect.sigma.ir import And, Node, Not, Or, Pred, has_keywords
from autosoc.detect.sigma.logsource import FAMILY_COLUMN, PATH_COLUMN
from autosoc.detect.sigma.prefilter import required_literals
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.errors import Origin
from autosoc.normalize import fields as F
from autosoc.schema import Entity, EventBatch, Signal

_ROW = "__row"
_SIGNAL_COLUMNS = (F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.ORIGIN_RECORD, F.TIME, F.HOST, F.USER,
                   F.FAMILY, F.USER_UID, F.SRC_IP, F.DST_IP, F.APP_NAME)
#: event columns that name further entities of a signal: (column, entity kind)
_ENTITY_COLUMNS = ((F.SRC_IP, "ip"), (F.DST_IP, "ip"), (F.APP_NAME, "oauth_app"))


def node_fields(node: Node) -> set[str]:
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
    full: list[int] = field(default_factory=list)  # rules without necessary literals
    literal_rules: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(dict))
    literal_maps: dict[str, pl.DataFrame] = field(default_factory=dict)  # field -> (literal, rule)

    def add(self, rule: CompiledRule) -> None:
        index = len(self.rules)
        self.rules.append(rule)
        self.exprs.append(to_expr(rule.detection).alias(str(index)))
        self.fields |= node_fields(rule.detection)
        self.lowered |= lowered_fields(rule.detection)
        self.keywords |= has_keywords(rule.detection)
        literals = required_literals(rule.detection)
        if literals is None:
            self.full.append(index)
            return
        for name, literal in literals:
            self.literal_rules[name].setdefault(literal, []).append(index)
            self.lowered.add(name)

    def seal(self) -> None:
        for name, by_literal in self.literal_rules.items():
            pairs = [(lit, idx) for lit, indices in by_literal.items() for idx in indices]
            self.literal_maps[name] = pl.DataFrame(
                {"lit": [p[0] for p in pairs], "rule": [p[1] for p in pairs]},
                schema={"lit": pl.String, "rule": pl.UInt32})


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
                    to_expr(rule.selector), node_fields(rule.selector), lowered_fields(rule.selector))
            group.add(rule)
        for group in groups.values():
            group.seal()
        self._groups = list(groups.values())
        self._selector_fields: set[str] = set().union(*(g.selector_fields for g in self._groups))
        self._selector_lowered: set[str] = set().union(*(g.selector_lowered for g in self._groups))

    def evaluate(self, batch: EventBatch) -> list[tuple[CompiledRule, list[int]]]:
        """Per rule that fired: the batch rows it fired on."""
        raw, events = batch.raw, batch.events
        if raw.height == 0 or not self._groups:
            return []
        frame = with_columns(raw.with_columns(
            events[F.FAMILY].alias(FAMILY_COLUMN), events[F.ORIGIN_PATH].alias(PATH_COLUMN),
            pl.int_range(raw.height, dtype=pl.UInt32).alias(_ROW),
        ), self._selector_fields, self._selector_lowered)
        masks = frame.select(g.selector.alias(str(i)) for i, g in enumerate(self._groups))
        fired: list[tuple[CompiledRule, list[int]]] = []
        for i, group in enumerate(self._groups):
            mask = masks.get_column(str(i))
            if not mask.any():
                continue
            sub = frame.filter(mask) if not mask.all() else frame
            sub = with_columns(sub, group.fields, group.lowered - self._selector_lowered,
                               keywords=group.keywords, keyword_source=raw.columns)
            fired += _evaluate_group(group, sub)
        return fired

    def detect(self, batch: EventBatch) -> list[Signal]:
        fired = self.evaluate(batch)
        if not fired:
            return []
        rows = sorted({row for _, hit_rows in fired for row in hit_rows})
        position = {row: i for i, row in enumerate(rows)}
        events = batch.events.select(_SIGNAL_COLUMNS)[rows].to_dicts()
        wanted = sorted({f for rule, _ in fired for f in rule.fields} & set(batch.raw.columns))
        values = batch.raw.select(wanted)[rows].to_dicts() if wanted else [{} for _ in rows]
        signals: list[Signal] = []
        for rule, hit_rows in fired:
            for row in hit_rows:
                at = position[row]
                row_values = values[at]
                matched = {f: row_values[f] for f in rule.fields if row_values.get(f) is not None}
                signals.append(_signal(rule, events[at], matched))
        return signals


def _evaluate_group(group: _Group, sub: pl.DataFrame) -> list[tuple[CompiledRule, list[int]]]:
    """Rules run once per distinct combination of the values they read, then fan out to the rows."""
    columns = sorted(group.fields | {lower_name(f) for f in group.lowered}
                     | ({KEYWORD_COLUMN} if group.keywords else set()))
    distinct = sub.group_by(columns, maintain_order=True).agg(pl.col(_ROW))
    if distinct.height == sub.height:
        distinct = sub
    fired: list[tuple[CompiledRule, list[int]]] = []
    if group.full:
        fired += _run(group, distinct, group.full)
    candidates = _candidates(group, distinct)
    if candidates is not None:
        rules, rows = candidates
        # a rule is false on rows holding none of its literals, so one select over the union is exact
        fired += _run(group, distinct if rows.len() == distinct.height else distinct[rows], rules)
    return fired


def _run(group: _Group, frame: pl.DataFrame, rules: list[int]) -> list[tuple[CompiledRule, list[int]]]:
    hits = (frame.select(pl.col(_ROW), *(group.exprs[i] for i in rules))
            .unpivot(index=_ROW, variable_name="rule").filter(pl.col("value")))
    if hits.height == 0:
        return []
    if hits.schema[_ROW] != pl.UInt32:  # distinct rows carry the list of batch rows they stand for
        hits = hits.explode(_ROW)
    grouped = hits.group_by("rule", maintain_order=True).agg(pl.col(_ROW).sort())
    return [(group.rules[int(rule)], rows) for rule, rows in grouped.iter_rows()]


def _candidates(group: _Group, sub: pl.DataFrame) -> tuple[list[int], pl.Series] | None:
    """Rules one of whose literals occurs in ``sub``, and the rows where any such literal occurs."""
    found: list[pl.DataFrame] = []
    for name, literal_map in group.literal_maps.items():
        column = lower_name(name)
        if column not in sub.columns:
            continue
        literals = literal_map.get_column("lit").unique().to_list()
        pairs = (sub.select(pl.col(column).str.extract_many(literals, overlapping=True).alias("lit"),
                            pl.int_range(pl.len(), dtype=pl.UInt32).alias("pos"))
                 .explode("lit").drop_nulls("lit"))
        if pairs.height:
            found.append(pairs.join(literal_map, on="lit").select("rule", "pos"))
    if not found:
        return None
    pairs = pl.concat(found)
    rules = pairs.get_column("rule").unique().sort().to_list()
    return rules, pairs.get_column("pos").unique().sort()


def with_columns(frame: pl.DataFrame, fields: set[str], lowered: set[str], *, keywords: bool = False,
                 keyword_source: Sequence[str] = ()) -> pl.DataFrame:
    """Add the null columns for absent fields, the lower-cased copies and the keyword text."""
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


def _signal(rule: CompiledRule, event: dict[str, object], matched: dict[str, object]) -> Signal:
    time = event[F.TIME]
    record = event[F.ORIGIN_RECORD]
    return Signal(
        rule_id=rule.id,
        title=rule.title,
        level=rule.level,
        status=rule.status,
        tags=list(rule.tags),
        event_ids=[str(event[F.EVENT_ID])],
        origins=[Origin(str(event[F.ORIGIN_SOURCE]), str(event[F.ORIGIN_PATH]),
                        record if isinstance(record, int) else None)],
        time=time if isinstance(time, datetime) else None,
        host=event[F.HOST] if isinstance(event[F.HOST], str) else None,
        user=event[F.USER] if isinstance(event[F.USER], str) else None,
        matched={k: str(v) for k, v in matched.items() if v is not None},
        rule_path=rule.path,
        description=rule.description,
        entities=event_entities(event),
    )


def event_entities(event: dict[str, object]) -> list[Entity]:
    """IPs, OAuth apps and (for cloud records) the principal ARN named by one event's OCSF columns."""
    out = [Entity(kind, value) for column, kind in _ENTITY_COLUMNS
           if isinstance(value := event.get(column), str) and value]
    principal = event.get(F.USER_UID)
    if event.get(F.FAMILY) == "cloudtrail" and isinstance(principal, str) and principal:
        out.append(Entity("cloud_principal", principal))
    return out
