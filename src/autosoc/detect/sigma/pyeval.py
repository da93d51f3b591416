"""Rules as generated Python functions, for rules with only a few candidate rows in a batch.

A Polars select costs about a quarter of a millisecond per rule expression whatever the number of
rows (planning and dispatch of its few dozen nodes); a rule whose prefilter leaves it a handful of
rows is therefore cheaper to test row by row in Python.  :func:`compile_rule` turns the IR of a
rule made of plain text tests (``eq``, ``contains``, ``startswith``, ``endswith``, wildcard
``glob`` s, ``any``, ``null``, ``exists`` and ``cidr`` on named fields, under ``and``/``or``/``not``) into one
Python function of a row tuple, with the same truth as :func:`autosoc.detect.sigma.exprs.to_expr`:
it reads the same columns (the lower-cased copies for case-insensitive tests, whose values were
lower-cased by Polars), a null value makes every text test false, ``not`` negates, and an address
is what the columnar parsers take (:func:`~autosoc.detect.sigma.exprs.ipv4_number`, Python's
``ipaddress`` for IPv6).  Rules with regular expressions, numeric comparisons, field references or
keywords return None and stay on the Polars path.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import ahocorasick

from autosoc.detect.sigma.exprs import address_of, merge_ranges, text_column
from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred

RowTest = Callable[[Sequence[str | None]], bool]
_TEXT = frozenset({"eq", "contains", "startswith", "endswith"})
_PRESENCE = frozenset({"any", "null", "exists"})
#: OR-ed substrings of one field beyond this many are found with one Aho-Corasick pass, not a loop
AUTOMATON_MIN_LITERALS = 8


class _Unsupported(Exception):
    pass


class _Writer:
    """Builds one boolean Python expression over local variables ``v0, v1, ...`` (one per column)."""

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}
        self.constants: list[object] = []

    def var(self, column: str) -> str:
        return f"v{self.columns.setdefault(column, len(self.columns))}"

    def const(self, value: object) -> str:
        self.constants.append(value)
        return f"k{len(self.constants) - 1}"

    def node(self, node: Node) -> str:
        if isinstance(node, Pred):
            return self.pred(node)
        if isinstance(node, And):
            return "(" + " and ".join(self.node(i) for i in node.items) + ")" if node.items else "True"
        if isinstance(node, Or):
            return self.or_(node) if node.items else "False"
        if isinstance(node, Not):
            return f"(not {self.node(node.item)})"
        if isinstance(node, Const):
            return "True" if node.value else "False"
        raise _Unsupported(type(node).__name__)

    def pred(self, p: Pred) -> str:
        if p.field is None:
            raise _Unsupported("keyword")
        if p.op in _PRESENCE:
            v = self.var(p.field)
            present = p.op == "any" or (p.op == "exists" and bool(p.args[0]))
            return f"({v} is not None)" if present else f"({v} is None)"
        if p.op == "glob" and type(p.args[0]) is str:
            return self.glob(p)
        if p.op == "cidr" and type(p.args[0]) is str:
            return f"{self.const(Networks([p.args[0]]))}({self.var(p.field)})"
        if p.op not in _TEXT or type(p.args[0]) is not str:
            raise _Unsupported(p.op)
        return self._one(self.var(text_column(p)), p.op, p.args[0])

    def or_(self, node: Or) -> str:
        # OR-ed tests of one field and op become one set lookup, one tuple affix test or one loop
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        parts: list[str] = []
        for item in node.items:
            if isinstance(item, Pred) and item.field is not None and item.op in _TEXT and type(item.args[0]) is str:
                grouped[(text_column(item), item.op)].append(item.args[0])
            elif isinstance(item, Pred) and item.field is not None and item.op == "cidr" and type(item.args[0]) is str:
                grouped[(item.field, "cidr")].append(item.args[0])
            else:
                parts.append(self.node(item))
        for (column, op), values in grouped.items():
            v = self.var(column)
            if op == "cidr":
                parts.append(f"{self.const(Networks(values))}({v})")
            elif len(values) == 1:
                parts.append(self._one(v, op, values[0]))
            elif op == "eq":
                parts.append(f"({v} in {self.const(frozenset(values))})")
            elif op == "contains" and "" in values:
                parts.append(f"({v} is not None)")  # the empty string is in every text
            elif op == "contains" and len(set(values)) > AUTOMATON_MIN_LITERALS:
                parts.append(f"({v} is not None and next({self.const(_automaton(values))}.iter({v}), None)"
                             " is not None)")
            elif op == "contains":
                k = self.const(tuple(dict.fromkeys(values)))
                parts.append(f"({v} is not None and any(x in {v} for x in {k}))")
            else:
                parts.append(f"({v} is not None and {v}.{op}({self.const(tuple(dict.fromkeys(values)))}))")
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def glob(self, p: Pred) -> str:
        # the compiler's wildcard regex, (?s)^...$ over escaped literals; Rust's $ is the end of the
        # text, Python's also matches before a final newline: \Z is the end in Python
        pattern = str(p.args[0])
        if not (pattern.startswith("(?s)^") and pattern.endswith("$")):
            raise _Unsupported("glob")
        try:
            search = re.compile(pattern[:-1] + r"\Z").search
        except re.error as exc:
            raise _Unsupported("glob") from exc
        v = self.var(text_column(p))
        return f"({v} is not None and {self.const(search)}({v}) is not None)"

    @staticmethod
    def _one(v: str, op: str, value: str) -> str:
        if op == "eq":
            return f"({v} == {value!r})"
        if op == "contains":
            return f"({v} is not None and {value!r} in {v})"
        return f"({v} is not None and {v}.{op}({value!r}))"


class Networks:
    """OR-ed CIDRs of one field as a test of a value: merged IPv4 and IPv6 ranges, found by bisection."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr, strict=False)
            ranges[network.version].append((int(network.network_address), int(network.broadcast_address)))
        self._v4 = merge_ranges(ranges[4])
        self._v6 = merge_ranges(ranges[6])

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        if self._v4[0]:
            number = ipv4_number(value)
            if number is not None:
                return _within(self._v4, number)
        if self._v6[0]:
            address = address_of(value)
            if isinstance(address, ipaddress.IPv6Address):
                return _within(self._v6, int(address))
        return False


def _within(ranges: tuple[list[int], list[int]], number: int) -> bool:
    index = bisect_right(ranges[0], number) - 1
    return index >= 0 and number <= ranges[1][index]


#: what Rust's ``str::trim`` (Polars' ``strip_chars()``) takes off: Unicode White_Space
_RUST_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
              "\u2028\u2029\u202f\u205f\u3000"
_DOTTED_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")


@lru_cache(maxsize=65536)
def ipv4_number(value: str) -> int | None:
    """:func:`autosoc.detect.sigma.exprs.ipv4_number` for one value: a dotted quad without leading
    zeros, spaces around it allowed, as its 32-bit number; None for anything else."""
    match = _DOTTED_QUAD.fullmatch(value.strip(_RUST_SPACE))
    if match is None:
        return None
    octets = [int(g) for g in match.groups()]
    if max(octets) > 255:
        return None
    return octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]


def _automaton(values: list[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for value in dict.fromkeys(values):
        automaton.add_word(value, value)
    automaton.make_automaton()
    return automaton


def compile_rule(node: Node, index: Callable[[str], int]) -> RowTest | None:
    """``test(row)``: the node's truth on a row tuple that holds column ``c`` at ``index(c)``;
    None when the node holds a test only Polars evaluates."""
    writer = _Writer()
    try:
        body = writer.node(node)
    except (_Unsupported, RecursionError):
        return None
    source = "def test(row):\n"
    for column, i in writer.columns.items():
        source += f"    v{i} = row[{index(column)}]\n"
    source += f"    return bool({body})\n"
    namespace: dict[str, object] = {f"k{i}": value for i, value in enumerate(writer.constants)}
    try:
        code = compile(source, "<sigma rule>", "exec")  # the source holds only reprs of literals
    except (SyntaxError, RecursionError, MemoryError):  # nesting deeper than the parser takes
        return None
    exec(code, namespace)
    return namespace["test"]  # type: ignore[no-any-return]
