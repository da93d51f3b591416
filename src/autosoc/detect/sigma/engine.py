"""The Sigma detector: compiled rules evaluated over whole batches.

Per batch:

1. every logsource selector runs once per combination of the values it reads (channel, event id:
   a dozen in a batch) and picks its group's rows (``_masks``);
2. per group, one Aho-Corasick pass per field finds the rules' necessary literals
   (:mod:`.prefilter`) and yields (rule, candidate row) pairs: in C where the extension is built
   (:class:`~autosoc.detect.sigma.native.Prefilter`), else in Polars or pyahocorasick;
3. each rule with candidates is evaluated only on those rows: by the C matcher
   (:class:`~autosoc.detect.sigma.native.Matcher`) for the rules it supports, else in Polars or
   as generated Python (:mod:`.pyeval`); a regex the C matcher cannot decide on a value (not ASCII,
   long) is decided in Polars; rules with no necessary literal (numeric or
   negated logic) are evaluated on all of the group's rows, in C or in one select;
4. only the hits come back to Python, where they become :class:`~autosoc.schema.Signal` s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import ahocorasick
import polars as pl

from autosoc.detect.sigma import native
from autosoc.detect.sigma.exprs import (
    KEYWORD_COLUMN,
    ipv4_fields,
    ipv4_name,
    ipv4_number,
    ipv6_fields,
    ipv6_halves,
    ipv6_name,
    lower_name,
    lowered_fields,
    to_expr,
)
from autosoc.detect.sigma.ir import Node, has_keywords, preds
from autosoc.detect.sigma.logsource import FAMILY_COLUMN, PATH_COLUMN
from autosoc.detect.sigma.lowercase import lowercase, unfoldable_rows
from autosoc.detect.sigma.prefilter import Literal, literal_sets, weak_literals
from autosoc.detect.sigma.pyeval import RowTest, compile_rule
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.detect.sigma.signals import SignalBatch, build_signals
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch, Signal

_ROW = "__row"
#: a rule runs on its own candidate rows (not the group's union) when that skips at least this many
#: rows: below it, rebuilding its expression for the batch costs more than it saves
GATHER_MIN_SKIPPED = 1000
#: a rule with at most this many candidate rows is tested row by row in Python (see .pyeval): a Polars
#: select costs ~0.25 ms per rule expression, a generated Python test a few microseconds per row
PYTHON_MAX_ROWS = 200
#: up to this many rows the literal prefilter searches in Python with the group's prebuilt automata;
#: Polars builds its automaton anew for every query (~10 ms for the process-creation group's literals)
PREFILTER_PYTHON_MAX_ROWS = 2000
#: a rule with more tests than this is not rebuilt with gathering leaves for a batch (its CIDR and
#: value lists cost milliseconds of Python to rebuild: 13 ms for SigmaHQ's Office outbound rule):
#: its prebuilt expression runs over its own candidate rows, taken out of the frame
GATHER_MAX_PREDS = 24
#: in a group's native_ids: a rule the C matcher does not take
NO_RULE = (1 << 32) - 1
#: a group whose distinct step kept at least this share of its rows skips the step for the next
#: DISTINCT_SKIPS batches (then measures again): on varied data it costs more than it saves
DISTINCT_MIN_SHARE = 0.9
DISTINCT_SKIPS = 7
#: from this many rows on, the logsource selectors run once per combination of the values they read
#: (a 20,000-event batch holds a dozen): numbering the combinations costs ~3 ms, the selectors
#: over every row ~15 ms
SELECTOR_COMBINATIONS_MIN_ROWS = 1000
#: columns shorter than this are lower-cased by Polars' expression, longer ones by the C lower case
LOWERCASE_C_MIN_ROWS = 512
#: the selectors' truths kept per combination of the values they read (channel, event id, ...: a
#: hunt meets a few hundred); beyond this many they are forgotten and worked out again
SELECTOR_TRUTHS_MAX = 4096


def node_fields(node: Node) -> set[str]:
    """Every field a node reads, fieldref targets included."""
    out: set[str] = set()
    for p in preds(node):
        if p.field:
            out.add(p.field)
        if p.op == "fieldref":
            out.add(str(p.args[0]))
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
    ipv4: set[str] = field(default_factory=set)  # fields IPv4 CIDRs test: a numeric copy per batch
    ipv6: set[str] = field(default_factory=set)  # fields IPv6 CIDRs test: the address halves per batch
    keywords: bool = False
    # every keyword test is a substring without a newline: true in the joined values of a row in any
    # order, so normalization's keyword text (see fields.KEYWORD_TEXT) serves as well as all columns
    keywords_plain: bool = True
    full: list[int] = field(default_factory=list)  # rules without necessary literals
    # per rule of ``full`` with single-byte necessary literals (see prefilter.weak_literals): those
    # literals by field; where such a rule runs in Polars, it runs on the rows holding one of them
    weak: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)  # the number of tests of each rule
    literal_rules: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(dict))
    # per rule with necessary literals: a second set of them (see prefilter.second_literals), which
    # the C prefilter requires as well
    second_sets: dict[int, frozenset[tuple[str, str]]] = field(default_factory=dict)
    # per rule: the fields whose IPv4 numbers / IPv6 halves its Polars test reads (see _with_addresses)
    addresses: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)
    literal_maps: dict[str, pl.DataFrame] = field(default_factory=dict)  # field -> (literal, rule)
    literal_lists: dict[str, list[str]] = field(default_factory=dict)  # field -> its distinct literals
    reads: set[str] = field(default_factory=set)  # the frame columns the group's rules read
    # rules as Python functions of a row of ``py_columns`` (see .pyeval), compiled on first use
    py_tests: dict[int, RowTest | None] = field(default_factory=dict)
    py_columns: dict[str, int] = field(default_factory=dict)
    distinct_skips: int = 0  # batches left that skip the distinct step (see DISTINCT_MIN_SHARE)
    order: dict[int, int] = field(default_factory=dict)  # id() of each rule -> its place in ``rules``

    automata: dict[str, ahocorasick.Automaton] = field(default_factory=dict)  # field -> its literals' automaton
    # the rules the C matcher supports, as one program over ``py_columns`` (see .native); built on
    # first use: per rule its number in the matcher, or NO_RULE
    use_native: bool = True  # the engine's switch (tests run every path)
    matcher: native.Matcher | None = None
    native_ids: pl.Series | None = None
    native_rules: list[int] = field(default_factory=list)  # per number in the matcher: the group's rule
    prefilter: native.Prefilter | None = None  # the literals' automata in C, with the matcher
    # a keyword group whose every rule has necessary literals, all ASCII: the literals' automata
    # over the fields' own text, ASCII case folded, pick the rows worth the keyword text's
    # lower-cased copy (see gate_rows); None: not built yet, False: the group has none
    gate: native.Prefilter | bool | None = None

    def automaton(self, name: str) -> ahocorasick.Automaton:
        """The field's literals as an Aho-Corasick automaton whose values are the rules they stand for."""
        automaton = self.automata.get(name)
        if automaton is None:
            automaton = self.automata[name] = ahocorasick.Automaton()
            for literal, rules in self.literal_rules[name].items():
                automaton.add_word(literal, tuple(rules))
            automaton.make_automaton()
        return automaton

    def native_lookup(self) -> pl.Series | None:
        """Per rule of the group its number in the C matcher (:data:`NO_RULE`: not supported); None
        without one."""
        if not self.use_native:
            return None
        if self.native_ids is None and native.NATIVE:
            self.matcher = native.Matcher()
            index = lambda c: self.py_columns.setdefault(c, len(self.py_columns))  # noqa: E731
            numbers = [self.matcher.add(rule.detection, index, rule.program) for rule in self.rules]
            self.native_ids = pl.Series("nid", [NO_RULE if n is None else n for n in numbers], dtype=pl.UInt32)
            self.native_rules = [rule for rule, n in enumerate(numbers) if n is not None]
            self.prefilter = self.native_prefilter() if self.literal_rules else None
        return self.native_ids

    def native_prefilter(self) -> native.Prefilter:
        """The C prefilter of the group's literals, each rule with a second set of them a candidate
        only where a literal of each set is (that set numbered after the rules)."""
        # copied where the second sets add to it (the whole map holds ~100k literals: 0.1 s a copy)
        literal_rules: dict[str, dict[str, list[int]]] = dict(self.literal_rules)
        copied: set[str] = set()
        conjuncts: dict[int, int] = {}
        for rule, literals in self.second_sets.items():
            if not literals:  # a rule that needs a literal of an empty set cannot fire: left to the tests
                continue
            conjuncts[rule] = number = len(self.rules) + len(conjuncts)
            for name, literal in literals:
                if name not in copied:
                    literal_rules[name] = dict(literal_rules.get(name, {}))
                    copied.add(name)
                by = literal_rules[name]
                by[literal] = [*by.get(literal, ()), number]
        return native.Prefilter(literal_rules, conjuncts=conjuncts)

    def gate_rows(self, sub: pl.DataFrame) -> pl.Series | None:
        """The rows of ``sub`` (raw fields and the keyword text, not lower-cased) where some rule of
        the group may fire, or None without a gate.

        Exact: for an ASCII literal, the lower-cased text holds it only where the text holds it up
        to ASCII case, except through the two characters whose lower case is partly ASCII (U+0130,
        U+212A); a row holding one of them is kept whatever it holds."""
        if self.gate is None:
            ascii_only = all(literal.isascii() for by in self.literal_rules.values() for literal in by)
            self.gate = (native.Prefilter(self.literal_rules, folded=True)
                         if (native.NATIVE and self.use_native and self.keywords and self.keywords_plain
                             and not self.full and self.literal_rules and ascii_only) else False)
        if self.gate is False:
            return None
        assert isinstance(self.gate, native.Prefilter)
        raw_of = {name: F.KEYWORD_TEXT if name == KEYWORD_COLUMN else name for name in self.literal_rules}
        present = set(sub.columns)
        columns = {name: sub.get_column(raw) for name, raw in raw_of.items() if raw in present}
        if any(c.dtype not in (pl.String, pl.Null) for c in columns.values()):
            return None  # text the gate cannot read
        found = self.gate.run({n: c for n, c in columns.items() if c.dtype == pl.String})
        rows = found[1].unique() if found is not None else pl.Series("pos", [], dtype=pl.UInt32)
        special = [held for c in columns.values() if c.dtype == pl.String and (held := unfoldable_rows(c)).len()]
        if special:
            rows = pl.concat([rows, *special]).unique()
        return rows.sort()

    def python_test(self, index: int) -> RowTest | None:
        if index not in self.py_tests:
            self.py_tests[index] = compile_rule(
                self.rules[index].detection, lambda c: self.py_columns.setdefault(c, len(self.py_columns)))
        return self.py_tests[index]

    def add(self, rule: CompiledRule) -> None:
        index = len(self.rules)
        self.rules.append(rule)
        self.exprs.append(to_expr(rule.detection).alias(str(index)))
        self.sizes.append(sum(1 for _ in preds(rule.detection)))
        self.fields |= node_fields(rule.detection)
        self.lowered |= lowered_fields(rule.detection)
        self.addresses.append((frozenset(ipv4_fields(rule.detection)), frozenset(ipv6_fields(rule.detection))))
        self.ipv4 |= self.addresses[-1][0]
        self.ipv6 |= self.addresses[-1][1]
        if has_keywords(rule.detection):
            self.keywords = True
            self.keywords_plain &= _plain_keywords(rule.detection)
        literals, second = literal_sets(rule.detection)
        if literals is None:
            self.full.append(index)
            weak = weak_literals(rule.detection)
            if weak:
                self.weak[index] = _by_field(weak)
                self.lowered |= {name for name, _ in weak if name != KEYWORD_COLUMN}
            return
        for name, literal in literals:
            self.literal_rules[name].setdefault(literal, []).append(index)
            if name != KEYWORD_COLUMN:  # the keyword text is lower-cased already
                self.lowered.add(name)
        if second is not None:
            self.second_sets[index] = second
            self.lowered |= {name for name, _ in second if name != KEYWORD_COLUMN}

    def seal(self) -> None:
        self.order = {id(rule): i for i, rule in enumerate(self.rules)}
        self.reads = (self.fields | {lower_name(f) for f in self.lowered} | {ipv4_name(f) for f in self.ipv4}
                      | {ipv6_name(f) for f in self.ipv6} | {_ROW})
        for name, by_literal in self.literal_rules.items():
            pairs = [(lit, idx) for lit, indices in by_literal.items() for idx in indices]
            self.literal_maps[name] = pl.DataFrame(
                {"lit": [p[0] for p in pairs], "rule": [p[1] for p in pairs]},
                schema={"lit": pl.String, "rule": pl.UInt32})
            self.literal_lists[name] = list(by_literal)


class SigmaEngine:
    """Evaluates compiled rules over :class:`EventBatch` es."""

    name = "sigma"

    def __init__(self, rules: Sequence[CompiledRule], *, gather_min_skipped: int | None = None,
                 python_max_rows: int | None = None, prefilter_python_max_rows: int | None = None,
                 use_native: bool = True) -> None:
        self.rules = list(rules)
        self.gather_min_skipped = GATHER_MIN_SKIPPED if gather_min_skipped is None else gather_min_skipped
        self.python_max_rows = PYTHON_MAX_ROWS if python_max_rows is None else python_max_rows
        self.prefilter_python_max_rows = (PREFILTER_PYTHON_MAX_ROWS if prefilter_python_max_rows is None
                                          else prefilter_python_max_rows)
        groups: dict[Node, _Group] = {}
        for rule in self.rules:
            group = groups.get(rule.selector)
            if group is None:
                group = groups[rule.selector] = _Group(
                    to_expr(rule.selector), node_fields(rule.selector), lowered_fields(rule.selector))
            group.add(rule)
        for group in groups.values():
            group.use_native = use_native  # the C matcher, where it is built (see .native)
            group.seal()
        self._groups = list(groups.values())
        self._selector_fields: set[str] = set().union(*(g.selector_fields for g in self._groups))
        self._selector_lowered: set[str] = set().union(*(g.selector_lowered for g in self._groups))
        # (selector keys, a combination of their values) -> each group's selector's truth on it
        self._truths: dict[tuple[tuple[str, ...], tuple[object, ...]], tuple[bool | None, ...]] = {}

    def evaluate(self, batch: EventBatch) -> list[tuple[CompiledRule, list[int]]]:
        """Per rule that fired: the batch rows it fired on."""
        raw, events = batch.raw, batch.events
        if raw.height == 0 or not self._groups:
            return []
        frame = with_columns(raw.with_columns(
            events[F.FAMILY].alias(FAMILY_COLUMN), events[F.ORIGIN_PATH].alias(PATH_COLUMN),
            pl.int_range(raw.height, dtype=pl.UInt32).alias(_ROW),
        ), self._selector_fields, self._selector_lowered)
        fired: list[tuple[CompiledRule, list[int]]] = []
        has_text = F.KEYWORD_TEXT in raw.columns
        for group, mask in zip(self._groups, self._masks(frame), strict=True):
            if mask is None:
                continue
            # only the columns the group reads go through the filter (keyword rules read them all)
            text = group.keywords and group.keywords_plain and has_text
            if group.keywords and not text:
                sub = frame.filter(mask) if not mask.all() else frame
            else:  # the columns one by one: Series filters, not a query (~0.1 ms each, however small)
                every = mask.all()
                names = [c for c in frame.columns if c in group.reads or (text and c == F.KEYWORD_TEXT)]
                sub = pl.DataFrame([frame.get_column(c) if every else frame.get_column(c).filter(mask) for c in names])
            if group.keywords and text:  # the keyword text is lower-cased only for rows that may fire
                rows = group.gate_rows(sub)
                if rows is not None and rows.len() == 0:
                    continue
                if rows is not None and rows.len() < sub.height:
                    sub = sub[rows]
            if group.keywords:
                sub = with_columns(sub, group.fields, group.lowered - self._selector_lowered,
                                   keywords=True, keyword_source=F.KEYWORD_TEXT if text else raw.columns,
                                   ipv4=group.ipv4, ipv6=group.ipv6)
            else:  # the lower-cased copies and IP numbers are made for the distinct rows only
                sub = with_columns(sub, group.fields | group.lowered, set())
            fired += _evaluate_group(group, sub, self.gather_min_skipped, self.python_max_rows,
                                     self.prefilter_python_max_rows)
        return fired

    def _masks(self, frame: pl.DataFrame) -> list[pl.Series | None]:
        """Per group, the rows its selector picks (None: none).  The selectors read a few fields
        (channel, event id, ...) whose combinations in a batch are few: they run once per
        combination not seen before (their truths are kept, see SELECTOR_TRUTHS_MAX), and the
        combinations' truths are spread to the rows."""
        present = set(frame.columns)
        keys = sorted(c for c in self._selector_fields | {FAMILY_COLUMN, PATH_COLUMN} if c in present)
        if frame.height < SELECTOR_COMBINATIONS_MIN_ROWS or not keys:
            masks = frame.select([g.selector.alias(str(i)) for i, g in enumerate(self._groups)])
            return [mask if mask.any() else None for mask in masks.iter_columns()]
        # each row's combination, numbered 0.. in sort order; the first row of each stands for it
        combination = frame.select(pl.struct(keys).rank("dense").cast(pl.UInt32) - 1).to_series()
        first = combination.arg_unique()
        first = first.gather(combination.gather(first).arg_sort())
        values = [(tuple(keys), row) for row in frame.select(keys)[first].rows()]
        unseen = [i for i, key in enumerate(values) if key not in self._truths]
        if unseen:
            if len(self._truths) + len(unseen) > SELECTOR_TRUTHS_MAX:
                self._truths.clear()
                unseen = list(range(len(values)))
            picked = frame[first.gather(unseen)].select([g.selector.alias(str(i)) for i, g in enumerate(self._groups)])
            for i, truth in zip(unseen, picked.rows(), strict=True):
                self._truths[values[i]] = truth
        truths = [self._truths[key] for key in values]
        live = {str(g): pl.Series([truth[g] for truth in truths], dtype=pl.Boolean)
                for g in range(len(self._groups)) if any(truth[g] for truth in truths)}
        if not live:
            return [None] * len(self._groups)
        spread = pl.DataFrame(live)[combination]
        return [spread.get_column(str(g)) if str(g) in live else None for g in range(len(self._groups))]

    def detect(self, batch: EventBatch) -> list[Signal]:
        return build_signals(batch, self.evaluate(batch))

    def detect_batch(self, batch: EventBatch) -> SignalBatch:
        """This batch's signals, kept as columns until they are iterated (see :class:`SignalBatch`)."""
        return SignalBatch(batch, self.evaluate(batch))


def _plain_keywords(node: Node) -> bool:
    """Whether every keyword (field-less) test of ``node`` is a substring test without a newline."""
    return all(p.op in ("contains", "eq") and "\n" not in str(p.args[0]) for p in preds(node) if p.field is None)


def _evaluate_group(group: _Group, sub: pl.DataFrame, gather_min_skipped: int = GATHER_MIN_SKIPPED,
                    python_max_rows: int = PYTHON_MAX_ROWS, prefilter_python_max_rows: int = PREFILTER_PYTHON_MAX_ROWS,
                    ) -> list[tuple[CompiledRule, list[int]]]:
    """Rules run once per distinct combination of the values they read, then fan out to the rows
    (unless the group's rows were nearly all distinct in a recent batch: see DISTINCT_MIN_SHARE).

    A rule with necessary literals runs only on rows holding one of them: a rule with only a few
    candidate rows is tested on them in Python (:func:`_run_python`); rules whose candidate rows are
    most of the candidates run together in one select over the union of their candidates; a rule
    whose candidates are a small part of it runs on its own rows only, through column leaves that
    gather those rows (:func:`_run_gathered`), still in the same single select.
    """
    if group.keywords:  # the keyword text is made of the whole row: derived before, in evaluate()
        columns = sorted(group.fields | {lower_name(f) for f in group.lowered} | {ipv4_name(f) for f in group.ipv4}
                         | {ipv6_name(f) for f in group.ipv6} | {KEYWORD_COLUMN})
    else:  # what the rules read derives from the fields alone: the same distinct rows, half the keys
        columns = sorted(group.fields | group.lowered)
    if group.distinct_skips > 0:
        group.distinct_skips -= 1
        distinct = sub
    else:
        distinct = sub.group_by(columns, maintain_order=True).agg(pl.col(_ROW))
        if distinct.height >= DISTINCT_MIN_SHARE * sub.height:
            group.distinct_skips = DISTINCT_SKIPS
        if distinct.height == sub.height:
            distinct = sub
    if not group.keywords:  # (the IP numbers when a Polars test needs them: _with_addresses)
        distinct = with_columns(distinct, set(), group.lowered)
    fired: list[tuple[CompiledRule, list[int]]] = []
    lookup = group.native_lookup()
    full = group.full
    if full and lookup is not None:  # rules without necessary literals the C matcher takes: on every row
        # (not those calling Python for a regex: on every row one select in Polars costs less)
        calling = group.matcher.calling if group.matcher is not None else set()
        ids = [NO_RULE if nid in calling else nid for nid in lookup.gather(full).to_list()]
        if any(nid != NO_RULE for nid in ids):
            every = pl.DataFrame({"nid": pl.Series([nid for nid in ids if nid != NO_RULE], dtype=pl.UInt32)}).join(
                pl.DataFrame({"pos": pl.int_range(distinct.height, dtype=pl.UInt32, eager=True)}), how="cross")
            fired += _run_native(group, distinct, every.get_column("nid"), every.get_column("pos"))
            full = [rule for rule, nid in zip(full, ids, strict=True) if nid == NO_RULE]
    if full:
        distinct = _with_addresses(group, distinct, full)
        fired += _run_full(group, distinct, full)
    if lookup is not None:  # with the C matcher, the C prefilter: each pair once, by rule
        pairs = _candidates_native(group, distinct)
    else:
        pairs = (_candidates_python(group, distinct) if distinct.height <= prefilter_python_max_rows
                 else _candidates(group, distinct))
    if pairs is not None and lookup is not None:
        # every rule the C matcher supports is tested there on its own candidate rows
        nids, positions = lookup.gather(pairs.get_column("rule")), pairs.get_column("pos")
        supported = nids != NO_RULE  # Series operations: a DataFrame query costs ~0.1 ms however small
        if supported.all():
            fired += _run_native(group, distinct, nids, positions)
            pairs = None
        else:
            fired += _run_native(group, distinct, nids.filter(supported), positions.filter(supported))
            rest = pairs.filter(~supported)
            pairs = rest if rest.height else None
    if pairs is not None:
        by_rule = pairs.group_by("rule").agg(pl.col("pos").unique().sort()).sort("rule")
        union = pairs.get_column("pos").n_unique()
        shared: list[int] = []
        own: list[tuple[int, pl.Series]] = []
        python: list[tuple[int, pl.Series]] = []
        for rule, positions in zip(by_rule.get_column("rule").to_list(), by_rule.get_column("pos"), strict=True):
            if positions.len() <= python_max_rows and group.python_test(rule) is not None:
                python.append((rule, positions))
            elif union - positions.len() >= gather_min_skipped:
                own.append((rule, positions))
            else:
                shared.append(rule)
        distinct = _with_addresses(group, distinct, [*shared, *(rule for rule, _ in own), *(r for r, _ in python)])
        if shared:
            rows = pairs.filter(pl.col("rule").is_in(shared)).get_column("pos").unique().sort()
            # a rule is false on rows holding none of its literals, so one select over the union is exact
            fired += _run(group, distinct if rows.len() == distinct.height else distinct[rows], shared)
        if own:
            fired += _run_own(group, distinct, own)
        if python:
            fired += _run_python(group, distinct, python)
    fired.sort(key=lambda hit: group.order[id(hit[0])])
    return fired


def _with_addresses(group: _Group, frame: pl.DataFrame, rules: Sequence[int]) -> pl.DataFrame:
    """``frame`` with the IPv4 numbers and IPv6 halves that the Polars tests of ``rules`` (about to
    run) read: the C matcher tests CIDRs on the text, so on most batches none is needed (making the
    group's for every batch cost ~0.9 us an event on the benchmark)."""
    if group.keywords or not (group.ipv4 or group.ipv6):  # (keyword groups have them already)
        return frame
    ipv4 = set().union(*(group.addresses[rule][0] for rule in rules))
    ipv6 = set().union(*(group.addresses[rule][1] for rule in rules))
    return with_columns(frame, set(), set(), ipv4=ipv4, ipv6=ipv6) if ipv4 or ipv6 else frame


def _run(group: _Group, frame: pl.DataFrame, rules: list[int]) -> list[tuple[CompiledRule, list[int]]]:
    hits = (frame.select(pl.col(_ROW), *(group.exprs[i] for i in rules))
            .unpivot(index=_ROW, variable_name="rule").filter(pl.col("value")))
    if hits.height == 0:
        return []
    if hits.schema[_ROW] != pl.UInt32:  # distinct rows carry the list of batch rows they stand for
        hits = hits.explode(_ROW)
    grouped = hits.group_by("rule", maintain_order=True).agg(pl.col(_ROW).sort())
    return [(group.rules[int(rule)], rows) for rule, rows in grouped.iter_rows()]


def _run_full(group: _Group, frame: pl.DataFrame, rules: list[int]) -> list[tuple[CompiledRule, list[int]]]:
    """Rules without necessary literals in Polars: each with single-byte ones on the rows holding one
    of them (one pass of Polars' Aho-Corasick per field: a regex over every row cost ~2 ms a batch
    for SigmaHQ's PowerShell token obfuscation rule), the others together on every row."""
    out = _run(group, frame, plain) if (plain := [rule for rule in rules if rule not in group.weak]) else []
    for rule in (rule for rule in rules if rule in group.weak):
        held = frame.select(pl.any_horizontal(
            pl.col(_scanned(name)).str.contains_any(literals).fill_null(False)
            for name, literals in group.weak[rule].items())).to_series()
        if held.any():
            out += _run(group, frame if held.all() else frame.filter(held), [rule])
    return out


def _by_field(literals: frozenset[Literal]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for name, literal in sorted(literals):
        out[name].append(literal)
    return dict(out)


def _run_own(group: _Group, frame: pl.DataFrame,
             rules: list[tuple[int, pl.Series]]) -> list[tuple[CompiledRule, list[int]]]:
    """Each rule in Polars on its own rows of ``frame``: gathered in one select, or, for a rule of
    many tests (costly to rebuild), its prebuilt expression over its rows taken out of the frame."""
    light = [(rule, positions) for rule, positions in rules if group.sizes[rule] <= GATHER_MAX_PREDS]
    out = _run_gathered(group, frame, light) if light else []
    for rule, positions in rules:
        if group.sizes[rule] > GATHER_MAX_PREDS:
            out += _run(group, frame[positions], [rule])
    return out


def _run_gathered(group: _Group, frame: pl.DataFrame,
                  rules: list[tuple[int, pl.Series]]) -> list[tuple[CompiledRule, list[int]]]:
    """Each rule on its own candidate rows of ``frame``, all in one select.

    The rule's expression is rebuilt with leaves ``col(name).gather(positions)`` (the compiled
    expressions read whole columns), so it reads only its rows; what comes back per rule is the
    list of positions where it is true.
    """
    exprs: list[pl.Expr] = []
    for rule, positions in rules:
        def leaf(name: str, positions: pl.Series = positions) -> pl.Expr:
            return pl.col(name).gather(positions)

        exprs.append(pl.lit(positions).filter(to_expr(group.rules[rule].detection, leaf))
                     .implode().alias(str(rule)))
    hits = frame.select(exprs).row(0)
    batch_rows = frame.get_column(_ROW)
    exploded = batch_rows.dtype != pl.UInt32
    out: list[tuple[CompiledRule, list[int]]] = []
    for (rule, _), positions in zip(rules, hits, strict=True):
        if not positions:
            continue
        rows = batch_rows.gather(positions)
        if exploded:
            rows = rows.explode()
        out.append((group.rules[rule], rows.sort().to_list()))
    return out


def _run_native(group: _Group, frame: pl.DataFrame, nids: pl.Series, positions: pl.Series
                ) -> list[tuple[CompiledRule, list[int]]]:
    """The C matcher on (rule, candidate row) pairs of ``frame``: ``nids`` the rules' numbers in it,
    ``positions`` the rows (both UInt32; each pair once, grouped by rule: the matcher runs faster)."""
    if nids.len() == 0:
        return []
    assert group.matcher is not None
    truth = group.matcher.run([frame.get_column(c) for c in group.py_columns], nids, positions)
    out: list[tuple[CompiledRule, list[int]]] = []
    hit_nids = nids.filter(truth)  # Series operations: a DataFrame query costs ~0.1 ms however small
    if hit_nids.len():
        out = _hits_by_rule(group, hit_nids, frame.get_column(_ROW).gather(positions.filter(truth)))
    if truth.null_count():  # pairs a regex left undecided (values not ASCII, or long): Polars decides
        open_pairs = (pl.DataFrame([nids.alias("nid"), positions.alias("pos")]).filter(truth.is_null())
                      .group_by("nid").agg(pl.col("pos").sort()))
        decided = _run_own(group, frame, [(group.native_rules[nid], positions) for nid, positions
                                          in zip(open_pairs.get_column("nid").to_list(), open_pairs.get_column("pos"),
                                                 strict=True)])
        if decided:  # a rule's rows from both, each once and in order
            merged: dict[int, tuple[CompiledRule, list[int]]] = {id(rule): (rule, rows) for rule, rows in out}
            for rule, rows in decided:
                had = merged.get(id(rule))
                merged[id(rule)] = (rule, sorted(set(had[1]) | set(rows)) if had else rows)
            out = list(merged.values())
    return out


def _hits_by_rule(group: _Group, nids: pl.Series, rows: pl.Series) -> list[tuple[CompiledRule, list[int]]]:
    """Hits as (matcher rule number, batch rows) pairs -> per rule its sorted batch rows (``rows``:
    row numbers, or the lists of those a distinct row stands for)."""
    if not nids.is_sorted():  # the pairs come grouped by rule; the general case, if not
        order = nids.arg_sort()
        nids, rows = nids.gather(order), rows.gather(order)
    runs = nids.rle().struct.unnest()
    values = rows.to_list()
    nested = rows.dtype != pl.UInt32
    out: list[tuple[CompiledRule, list[int]]] = []
    start = 0
    for length, nid in zip(runs.get_column("len").to_list(), runs.get_column("value").to_list(), strict=True):
        part = values[start:start + length]
        start += length
        if nested:
            part = [row for hit in part for row in hit]
        part.sort()
        out.append((group.rules[group.native_rules[nid]], part))
    return out


def _run_python(group: _Group, frame: pl.DataFrame,
                rules: list[tuple[int, pl.Series]]) -> list[tuple[CompiledRule, list[int]]]:
    """Each rule's generated Python test on its own few candidate rows of ``frame``."""
    wanted = sorted({pos for _, positions in rules for pos in positions.to_list()})
    at = {pos: i for i, pos in enumerate(wanted)}
    taken = frame[wanted]
    values = taken.select(list(group.py_columns)).rows()
    batch_rows = taken.get_column(_ROW).to_list()
    out: list[tuple[CompiledRule, list[int]]] = []
    for rule, positions in rules:
        test = group.py_tests[rule]
        assert test is not None
        hits: list[int] = []
        for pos in positions.to_list():
            i = at[pos]
            if test(values[i]):
                row = batch_rows[i]
                if type(row) is list:
                    hits += row
                else:
                    hits.append(row)
        if hits:
            out.append((group.rules[rule], sorted(hits)))
    return out


def _scanned(name: str) -> str:
    """The column a field's necessary literals are looked for in: its lower-cased copy (the keyword
    text is lower-cased already)."""
    return name if name == KEYWORD_COLUMN else lower_name(name)


def _candidates_native(group: _Group, sub: pl.DataFrame) -> pl.DataFrame | None:
    """:func:`_candidates` in C (:class:`~autosoc.detect.sigma.native.Prefilter`): each pair once,
    sorted by rule, then row."""
    if group.prefilter is None:
        return None
    present = set(sub.columns)  # (a frame's columns are a new list each time they are asked for)
    found = group.prefilter.run({name: sub.get_column(_scanned(name)) for name in group.prefilter.fields
                                 if _scanned(name) in present})
    if found is None:
        return None
    return pl.DataFrame([found[0].alias("rule"), found[1].alias("pos")])


def _candidates_python(group: _Group, sub: pl.DataFrame) -> pl.DataFrame | None:
    """:func:`_candidates` for a few rows: each value through the field's prebuilt automaton."""
    found: set[int] = set()
    add = found.add
    present = set(sub.columns)
    for name in group.literal_rules:
        column = _scanned(name)
        if column not in present:
            continue
        search = group.automaton(name).iter
        for pos, value in enumerate(sub.get_column(column).to_list()):
            if value:
                for _, rules in search(value):
                    for rule in rules:
                        add(rule << 32 | pos)
    if not found:
        return None
    keys = sorted(found)
    return pl.DataFrame({"rule": [k >> 32 for k in keys], "pos": [k & 0xFFFFFFFF for k in keys]},
                        schema={"rule": pl.UInt32, "pos": pl.UInt32})


def _candidates(group: _Group, sub: pl.DataFrame) -> pl.DataFrame | None:
    """(rule, pos) pairs: the rows of ``sub`` holding one of the rule's necessary literals.

    One query for the whole group (one Aho-Corasick pass per field, the matches joined to their
    rules): a few hundred small queries per batch were most of the engine's fixed cost."""
    present = set(sub.columns)
    names = [name for name in group.literal_maps if _scanned(name) in present]
    if not names:
        return None
    found = sub.lazy().select(
        *(pl.col(_scanned(name)).str.extract_many(group.literal_lists[name], overlapping=True).alias(str(i))
          for i, name in enumerate(names)),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("pos"))
    parts = [found.select(pl.col(str(i)).alias("lit"), "pos").explode("lit").drop_nulls("lit")
             .join(group.literal_maps[name].lazy(), on="lit").select("rule", "pos")
             for i, name in enumerate(names)]
    pairs = pl.concat(parts).collect()
    return pairs if pairs.height else None


def _lowered(frame: pl.DataFrame, name: str) -> pl.Expr | pl.Series:
    """The lower-cased copy of column ``name``: itself where it holds no value (a field the batch's
    rows lack: a group of the Security log lower-cases ~80 such for ~170 rows), Polars' expression
    on a few rows (a C call and its Series cost ~40 us however short), else the C lower case."""
    column = frame.get_column(name)
    if column.dtype == pl.String and column.null_count() == column.len():
        return column.alias(lower_name(name))
    if column.len() < LOWERCASE_C_MIN_ROWS:
        return pl.col(name).str.to_lowercase().alias(lower_name(name))
    return lowercase(column).alias(lower_name(name))


def with_columns(frame: pl.DataFrame, fields: set[str], lowered: set[str], *, keywords: bool = False,
                 keyword_source: Sequence[str] | str = (), ipv4: set[str] = frozenset(),
                 ipv6: set[str] = frozenset()) -> pl.DataFrame:
    """Add the null columns for absent fields, the lower-cased copies, the IP numbers and the keyword
    text: every column of ``keyword_source`` joined, or the one column it names, lower-cased."""
    present = set(frame.columns)
    missing = [pl.lit(None, dtype=pl.String).alias(f) for f in fields | lowered if f not in present]
    if missing:
        frame = frame.with_columns(missing)
    extra: list[pl.Expr | pl.Series] = [_lowered(frame, f) for f in lowered if lower_name(f) not in present]
    extra += [ipv4_number(pl.col(f)).alias(ipv4_name(f)) for f in ipv4 if ipv4_name(f) not in present]
    extra += [ipv6_halves(pl.col(f)).alias(ipv6_name(f)) for f in ipv6 if ipv6_name(f) not in present]
    if keywords and KEYWORD_COLUMN not in present and isinstance(keyword_source, str):
        extra.append(lowercase(frame.get_column(keyword_source)).alias(KEYWORD_COLUMN))
    elif keywords and KEYWORD_COLUMN not in present:
        sources = [pl.col(c) for c in keyword_source if not c.startswith("__")]
        extra.append(pl.concat_str(sources, separator="\n", ignore_nulls=True).str.to_lowercase()
                     .alias(KEYWORD_COLUMN))
    return frame.with_columns(extra) if extra else frame
