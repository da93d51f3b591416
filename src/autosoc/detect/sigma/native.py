"""Rules' text tests in C, over the Arrow buffers of the frame's columns (the ``_match`` extension).

:class:`Matcher` compiles each rule's detection (the :mod:`.ir` tree) into a small program of the
C extension and evaluates (rule, row) pairs on String columns without copying them to Python: a
pair costs a fraction of a microsecond, against about a microsecond per test for a generated
Python test (:mod:`.pyeval`) and a quarter of a millisecond per rule for a Polars select.

The truth is exactly :func:`autosoc.detect.sigma.pyeval.compile_rule`'s, for a subset of what it
takes: named fields only (no keywords), ``any``/``null``/``exists``, ``eq``/``contains``/
``startswith``/``endswith`` of a str on the field's text column (the lower-cased copy unless the
test is cased), the compiler's wildcard globs (``(?s)^...$`` over escaped literals, ``.`` and
``.*``: parsed into literal and wildcard tokens), Sigma ``re`` tests that :mod:`.regex` translates
(Python's :mod:`re`, called from C, on the ASCII values short enough for it; any other value leaves
the pair *undecided*, a null in :meth:`Matcher.run`'s result), IPv4 ``cidr`` s (as
:class:`~autosoc.detect.sigma.pyeval.Networks` takes IPv4 ones; an IPv6 network is refused), under
``and``/``or``/``not`` and constants.  A null cell makes every text test false.  Texts are compared
as UTF-8 bytes, which for valid UTF-8 is what Python's str operations do; a glob's ``.`` is one
code point.

OR-ed literals of one column and op become one automaton in C: a trie for equalities, prefixes
and (reversed) suffixes, an Aho-Corasick automaton for substrings, so a rule listing hundreds of
values costs one pass over the text, not one per value.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from autosoc.detect.sigma.exprs import merge_ranges, regex_pattern, rust_regex_ok, text_column
from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred
from autosoc.detect.sigma.regex import python_regex
from autosoc.normalize.columns import arrow_series

try:
    from autosoc.detect.sigma import _match
except ImportError:  # built without a C compiler: the engine keeps to Polars and .pyeval
    _match = None  # type: ignore[assignment]

#: True when the engine uses the C matcher (built, and not switched off by ``AUTOSOC_PURE_PYTHON=1``)
NATIVE: bool = _match is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1"

__all__ = ["NATIVE", "PREFILTER_DENSE_BYTES", "SET_MIN_LITERALS", "Matcher", "Prefilter", "arrow_column",
           "glob_segments", "glob_tokens"]

# node ops and set kinds of _match.c
_CONST, _AND, _OR, _NOT, _NULL, _PRESENT, _EQ, _CONTAINS, _STARTS, _ENDS, _GLOB, _SET, _CIDR4, _CALL = range(14)
_SINGLE_OP = {"eq": _EQ, "contains": _CONTAINS, "startswith": _STARTS, "endswith": _ENDS}
_SET_KIND = {"eq": 0, "contains": 1, "startswith": 2, "endswith": 3}
_TEXT = frozenset(_SINGLE_OP)
_PRESENCE = frozenset({"any", "null", "exists"})
#: glob tokens beside the bytes 0-255: one code point, any run of code points
ANY_ONE, ANY_MANY = 256, 257
#: OR-ed literals of one column and op from this many on are one automaton, below it single tests
SET_MIN_LITERALS = {"eq": 4, "startswith": 3, "endswith": 3, "contains": 4}
_REGEX_META = frozenset(".^$*+?{}[]\\|()")
_COLUMN_KIND = {"null": 0, "string_view": 1, "string": 2, "large_string": 3}
#: the complete transition table of a prefilter automaton (its shallow states) takes at most this
#: many bytes per field; deeper states keep only their trie edges and failure link (4 MiB: SigmaHQ's
#: process-creation automata are complete but for CommandLine's deepest states, 9 MB in all; the
#: group's prefilter ~17 % faster than with 1 MiB)
PREFILTER_DENSE_BYTES = 1 << 22


#: a rough cost of each test, for the order of an AND's or an OR's tests: a comparison at one end
#: of the value, a CIDR, a substring search, a set's automaton (a whole pass for substrings), a
#: wildcard match, a call of Python's regex
_LEAF_COST = {_CONST: 0, _NULL: 1, _PRESENT: 1, _EQ: 2, _STARTS: 2, _ENDS: 2, _CIDR4: 4, _CONTAINS: 6,
              _GLOB: 8, _CALL: 50}
_SET_COST = {_SET_KIND["eq"]: 3, _SET_KIND["startswith"]: 3, _SET_KIND["endswith"]: 3, _SET_KIND["contains"]: 8}


class _Unsupported(Exception):
    pass


def glob_tokens(pattern: str) -> list[int] | None:
    """The compiler's wildcard regex (``(?s)^`` escaped literals, ``.`` and ``.*``, ``$``) as tokens:
    UTF-8 bytes, :data:`ANY_ONE` and :data:`ANY_MANY`; None for any other regex."""
    if not (pattern.startswith("(?s)^") and pattern.endswith("$")):
        return None
    body = pattern[5:-1]
    tokens: list[int] = []
    i = 0
    try:
        while i < len(body):
            c = body[i]
            if c == "\\":
                if i + 1 >= len(body):
                    return None
                escaped = body[i + 1]
                if escaped.isascii() and escaped.isalnum():  # classes, anchors, back-references, \x..
                    return None
                tokens += escaped.encode()
                i += 2
            elif c == ".":
                if body.startswith("*", i + 1):
                    tokens.append(ANY_MANY)
                    i += 2
                else:
                    tokens.append(ANY_ONE)
                    i += 1
            elif c in _REGEX_META:  # a quantifier, class, group or anchor: not the compiler's form
                return None
            else:
                tokens += c.encode()
                i += 1
    except UnicodeEncodeError:  # a lone surrogate
        return None
    return tokens


def glob_segments(pattern: str) -> list[str] | None:
    """The literal runs of a compiler's wildcard regex (see :func:`glob_tokens`): every one of them
    is in every text the glob matches."""
    tokens = glob_tokens(pattern)
    if tokens is None:
        return None
    out: list[str] = []
    run = bytearray()
    for token in [*tokens, ANY_MANY]:
        if token < 256:
            run.append(token)
        elif run:
            out.append(run.decode("utf-8", "surrogatepass"))
            run.clear()
    return out


def _utf8(value: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise _Unsupported("surrogate") from exc


def _ipv4_ranges(cidrs: Sequence[str]) -> bytes:
    ranges = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise _Unsupported("cidr") from exc
        if network.version != 4:
            raise _Unsupported("ipv6 cidr")
        ranges.append((int(network.network_address), int(network.broadcast_address)))
    starts, ends = merge_ranges(ranges)
    return b"".join(struct.pack("<II", first, last) for first, last in zip(starts, ends, strict=True))


class _Writer:
    """One rule's program: nodes (children before parents), literals, sets, globs and ranges;
    a leaf's column is first a number of ``columns`` (names), resolved when the rule is complete."""

    def __init__(self) -> None:
        self.nodes: list[list[int]] = []
        self.kids: list[int] = []
        self.literals: list[bytes] = []
        self._literal_at: dict[bytes, int] = {}
        self.sets: list[tuple[int, list[int]]] = []
        self.globs: list[bytes] = []
        self.ranges: list[bytes] = []
        self.calls: list[Callable[[str], object]] = []
        self.columns: dict[str, int] = {}
        self.leaves: list[int] = []  # the nodes whose ``a`` is a column
        self.costs: list[int] = []  # per node: a rough cost of testing it (see _LEAF_COST)

    def emit(self, op: int, a: int = 0, b: int = 0, c: int = 0) -> int:
        self.nodes.append([op, a, b, c])
        if op in (_AND, _OR):
            cost = 1 + sum(self.costs[k] for k in self.kids[a:a + b])
        elif op == _NOT:
            cost = 1 + self.costs[a]
        elif op == _SET:
            cost = _SET_COST[self.sets[b][0]]
        else:
            cost = _LEAF_COST[op]
        self.costs.append(cost)
        return len(self.nodes) - 1

    def leaf(self, op: int, column: str, b: int = 0, c: int = 0) -> int:
        self.leaves.append(len(self.nodes))
        return self.emit(op, self.columns.setdefault(column, len(self.columns)), b, c)

    def literal(self, value: str) -> int:
        data = _utf8(value)
        at = self._literal_at.get(data)
        if at is None:
            at = self._literal_at[data] = len(self.literals)
            self.literals.append(data)
        return at

    def combine(self, op: int, items: list[int]) -> int:
        # the cheaper tests first (an AND stops at its first false one, an OR at its first true
        # one; the truth is the same in any order): a pair comes from the prefilter because its row
        # holds one rule's literal, so the test of that literal, often the costliest (a substring
        # in a command line), is the likeliest to pass and the least worth doing first
        start = len(self.kids)
        self.kids += sorted(items, key=self.costs.__getitem__)
        return self.emit(op, start, len(items))

    def node(self, node: Node) -> int:
        if isinstance(node, Pred):
            return self.pred(node)
        if isinstance(node, And):
            if not node.items:
                return self.emit(_CONST, 1)
            return self.combine(_AND, [self.node(i) for i in node.items])
        if isinstance(node, Or):
            return self.or_(node) if node.items else self.emit(_CONST, 0)
        if isinstance(node, Not):
            return self.emit(_NOT, self.node(node.item))
        if isinstance(node, Const):
            return self.emit(_CONST, 1 if node.value else 0)
        raise _Unsupported(type(node).__name__)

    def pred(self, p: Pred) -> int:
        if p.field is None:
            raise _Unsupported("keyword")
        if p.op in _PRESENCE:
            present = p.op == "any" or (p.op == "exists" and bool(p.args[0]))
            return self.leaf(_PRESENT if present else _NULL, p.field)
        if not p.args or type(p.args[0]) is not str:
            raise _Unsupported(p.op)
        if p.op == "glob":
            tokens = glob_tokens(p.args[0])
            if tokens is None:
                raise _Unsupported("glob")
            self.globs.append(struct.pack(f"<{len(tokens)}i", *tokens))
            return self.leaf(_GLOB, text_column(p), len(self.globs) - 1)
        if p.op == "cidr":
            return self.cidr(p.field, [p.args[0]])
        if p.op == "re":
            # only a Rust pattern is Rust's truth here (one Rust lacks runs in Python everywhere,
            # see exprs); a value the translation does not decide is left undecided in C
            pattern = regex_pattern(p)
            regex = python_regex(pattern) if rust_regex_ok(pattern) else None
            if regex is None:
                raise _Unsupported("re")
            self.calls.append(regex.search)  # type: ignore[arg-type]
            return self.leaf(_CALL, p.field, len(self.calls) - 1, regex.max_len)
        if p.op not in _TEXT:
            raise _Unsupported(p.op)
        return self.leaf(_SINGLE_OP[p.op], text_column(p), self.literal(p.args[0]))

    def cidr(self, field: str, cidrs: list[str]) -> int:
        self.ranges.append(_ipv4_ranges(cidrs))
        return self.leaf(_CIDR4, field, len(self.ranges) - 1)

    def or_(self, node: Or) -> int:
        # OR-ed tests of one column and op: one automaton (or single tests when they are few)
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        parts: list[int] = []
        for item in node.items:
            if (isinstance(item, Pred) and item.field is not None and item.op in _TEXT and item.args
                    and type(item.args[0]) is str):
                grouped[(text_column(item), item.op)].append(item.args[0])
            elif (isinstance(item, Pred) and item.field is not None and item.op == "cidr" and item.args
                  and type(item.args[0]) is str):
                grouped[(item.field, "cidr")].append(item.args[0])
            else:
                parts.append(self.node(item))
        for (column, op), values in grouped.items():
            if op == "cidr":
                parts.append(self.cidr(column, values))
                continue
            distinct = list(dict.fromkeys(values))
            if op != "eq" and "" in distinct:  # the empty affix or substring is in every text
                parts.append(self.leaf(_PRESENT, column))
            elif len(distinct) >= SET_MIN_LITERALS[op]:
                self.sets.append((_SET_KIND[op], [self.literal(v) for v in distinct]))
                parts.append(self.leaf(_SET, column, len(self.sets) - 1))
            else:
                parts += [self.leaf(_SINGLE_OP[op], column, self.literal(v)) for v in distinct]
        return parts[0] if len(parts) == 1 else self.combine(_OR, parts)

    def program(self) -> Program:
        return Program(nodes=[v for quad in self.nodes for v in quad], kids=self.kids, leaves=self.leaves,
                       columns=tuple(self.columns), literals=self.literals, sets=self.sets, globs=self.globs,
                       ranges=self.ranges, calls=self.calls)


@dataclass(frozen=True, slots=True)
class Program:
    """A rule's detection compiled for the C matcher, its columns not numbered yet: each engine
    numbers them its own way (:meth:`rule`).  Picklable, so the rule cache keeps it
    (:attr:`~autosoc.detect.sigma.rules.CompiledRule.program`): compiling the rules of the groups a
    hunt meets cost ~0.2 s of its first batch."""

    nodes: list[int]  # (op, a, b, c) per node, children before parents
    kids: list[int]
    leaves: list[int]  # the nodes whose ``a`` is a number of ``columns``
    columns: tuple[str, ...]
    literals: list[bytes]
    sets: list[tuple[int, list[int]]]
    globs: list[bytes]
    ranges: list[bytes]
    calls: list[Callable[[str], object]]

    def rule(self, index: Callable[[str], int]) -> _match.Rule:
        """The C program, ``index(name)`` giving each column's number (called in ``columns`` order)."""
        at = [index(name) for name in self.columns]
        flat = list(self.nodes)
        for leaf in self.leaves:
            flat[4 * leaf + 1] = at[flat[4 * leaf + 1]]
        return _match.Rule(struct.pack(f"<{len(flat)}i", *flat), struct.pack(f"<{len(self.kids)}i", *self.kids),
                           self.literals, self.sets, self.globs, self.ranges, self.calls)


def compile_program(node: Node) -> Program | str:
    """``node`` (a rule's detection) as a :class:`Program`, or why the C matcher cannot take it."""
    writer = _Writer()
    try:
        writer.node(node)
    except _Unsupported as exc:
        return f"unsupported: {exc}"
    except RecursionError:
        return "unsupported: nested too deep"
    return writer.program()


def arrow_column(array: pa.Array) -> tuple[int, int, int, object, object, tuple[object, ...]]:
    """An Arrow string_view, string or large_string array (or a null one) as the C side reads it."""
    kind = _COLUMN_KIND.get(str(array.type))
    if kind is None:
        raise TypeError(f"a column must be a string array, not {array.type}")
    if kind == 0 or array.null_count == len(array):
        return (0, len(array), 0, None, None, ())
    buffers = array.buffers()
    validity = buffers[0] if array.null_count else None
    data = tuple(b"" if b is None else b for b in buffers[2:])
    return (kind, len(array), array.offset, validity, buffers[1], data)


class Matcher:
    """The tests of many rules over one list of columns, compiled into C programs."""

    def __init__(self) -> None:
        self._rules: list[_match.Rule] = []
        #: the rules whose program calls Python (a regex): costlier per pair, and they hold the GIL
        self.calling: set[int] = set()

    def __len__(self) -> int:
        return len(self._rules)

    def add(self, node: Node, index: Callable[[str], int], program: Program | str | None = None) -> int | None:
        """Compile a rule's detection; ``index(column_name)`` gives the column's position in the
        ``columns`` passed to :meth:`run` (as :func:`~autosoc.detect.sigma.pyeval.compile_rule`'s
        ``index``; it is called only for a rule that compiles).  ``program``: what
        :func:`compile_program` made of ``node`` already (the rule cache keeps it), else it is
        compiled here.  Returns the rule's number in this matcher, or None when the node holds a
        test outside the supported set."""
        if program is None:
            program = compile_program(node)
        if isinstance(program, str):
            return None
        self._rules.append(program.rule(index))
        if program.calls:
            self.calling.add(len(self._rules) - 1)
        return len(self._rules) - 1

    def run(self, columns: Sequence[pl.Series], rules: pl.Series, positions: pl.Series) -> pl.Series:
        """``columns[i]``: the String column of index i (all of one length n; sliced, chunked and
        null-holding ones are fine).  ``rules``, ``positions``: UInt32 Series of equal length, pairs
        (rule number from :meth:`add`, row < n).  Returns a Boolean Series, one value per pair: the
        rule's truth on that row, or null where a regex test left it undecided (a value that is not
        ASCII or longer than the translation is safe for: Rust's engine must decide it).  A rule number
        or row out of range raises ValueError."""
        if rules.len() != positions.len():
            raise ValueError(f"{rules.len()} rule numbers but {positions.len()} positions")
        pairs = rules.len()
        if pairs == 0:
            return pl.Series("match", [], dtype=pl.Boolean)
        # the C side takes each Series' Arrow stream (Polars' own buffers), only for the columns the
        # pairs' rules read, and checks the types, the lengths and the ranges
        bits, decided = _match.run(list(columns), self._rules, rules, positions)
        validity = None if decided is None else pa.py_buffer(decided)
        array = pa.Array.from_buffers(pa.bool_(), pairs, [validity, pa.py_buffer(bits)])
        return arrow_series("match", array)

    def states(self, number: int) -> int:
        """The automaton states of one compiled rule (a measure of its memory)."""
        return int(self._rules[number].states)


class Prefilter:
    """The necessary literals of a group's rules, one Aho-Corasick automaton per field, in C.

    Each automaton runs over byte classes; its shallow states (breadth-first, up to
    :data:`PREFILTER_DENSE_BYTES`) form a complete transition table, the deeper ones keep their trie
    edges and failure link.  :meth:`run` makes one pass over each value, in blocks of rows (per
    block field by field, a bitmap per rule of the block's rows keeping each (rule, row) pair once
    and in row order), and sorts the pairs by rule (a stable counting sort), all without the GIL.
    A field of few long literals (at most 128, each at least 5 bytes: keyword lists such as Mimikatz
    Use's) is searched by skips instead (Wu-Manber, blocks of two bytes, see :attr:`windows`): a
    window the shortest literal's length moves on by up to that length at a time; or, where the
    processor has AVX2, by Teddy's SIMD search (see :attr:`simd`), some five times faster on the
    keyword text of Windows events.
    """

    def __init__(self, literal_rules: Mapping[str, Mapping[str, Sequence[int]]], *,
                 dense_bytes: int = PREFILTER_DENSE_BYTES, folded: bool = False,
                 conjuncts: Mapping[int, int] | None = None) -> None:
        """field -> (lower-cased literal -> the rule indices that need it), as engine._Group.literal_rules.

        Literals are non-empty (ValueError otherwise) and matched as UTF-8 bytes.  ``folded``: the
        columns :meth:`run` is given are the fields' own text, not lower-cased, and A-Z in them match
        the literals' a-z (ASCII case folding; the literals must hold no A-Z, else ValueError).
        ``conjuncts``: rule -> the number its second necessary set of literals goes by in
        ``literal_rules``: the rule's pairs are then the rows holding a literal of each set, and the
        second sets' numbers are never reported (ValueError for a number no literal has, a rule
        given twice, or a second set that is a rule with one)."""
        self.fields = [name for name, literals in literal_rules.items() if literals]
        spec = [[(literal.encode("utf-8", "surrogatepass"), [int(r) for r in rules])
                 for literal, rules in literal_rules[name].items()] for name in self.fields]
        pairs = [(int(r), int(v)) for r, v in (conjuncts or {}).items()]
        if missing := {v for _, v in pairs}:
            for literals in spec:
                for _, rules in literals:
                    missing.difference_update(rules)
            if missing:
                raise ValueError(f"conjuncts: no literal goes by the second set's number {min(missing)}")
        self._native = _match.Prefilter(spec, dense_bytes, [folded] * len(self.fields), pairs)

    @property
    def nbytes(self) -> int:
        """The memory the automata take, in bytes."""
        return int(self._native.nbytes)

    @property
    def windows(self) -> dict[str, int]:
        """Per field: the window of its skip search (a field of at most 128 literals, each at least
        5 bytes, is searched Wu-Manber's way, the shortest literal's length at a time), or 0."""
        return dict(zip(self.fields, self._native.windows, strict=True))

    @property
    def simd(self) -> list[bool]:
        """Per field (in :attr:`fields` order): whether its skip search is Teddy's SIMD search
        (eight buckets of the literals, 32 positions a step tested for a bucket's first three bytes
        with byte shuffles; used where the processor has AVX2) rather than Wu-Manber's skips."""
        return list(self._native.simd)

    @property
    def states(self) -> dict[str, tuple[int, int, int]]:
        """Per field: (states, states in the complete table, byte classes)."""
        return dict(zip(self.fields, self._native.states, strict=True))

    def run(self, columns: Mapping[str, pl.Series]) -> tuple[pl.Series, pl.Series] | None:
        """columns: field -> its lower-cased String column (all of one length n; sliced, chunked,
        null-holding ones fine; a field missing from the mapping is skipped).  Returns (rules,
        positions), UInt32 Series of equal length: every (rule, row) where the row's value of one of
        the rule's fields contains one of that field's literals for it -- each pair once, sorted by
        rule then row -- or None when there is none.  Columns of different lengths raise ValueError."""
        given = [columns.get(name) for name in self.fields]
        if all(c is None for c in given):
            return None
        found = self._native.run(given)
        if found is None:
            return None
        rules, rows = found
        count = len(rules) // 4
        return (arrow_series("rule", pa.Array.from_buffers(pa.uint32(), count, [None, pa.py_buffer(rules)])),
                arrow_series("pos", pa.Array.from_buffers(pa.uint32(), count, [None, pa.py_buffer(rows)])))
