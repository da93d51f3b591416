"""Engine IR -> Polars boolean expressions, evaluated over a whole batch at once.

Case-insensitive string tests run on a lower-cased copy of the column (``lower_name``), made once
per batch and shared by every rule that tests that field.  Field-less keywords search
``KEYWORD_COLUMN``, all of an event's values joined and lower-cased.  OR-ed tests of one field
collapse into one kernel: ``is_in`` for equalities, Aho-Corasick ``contains_any`` for substrings.
A regex the Rust engine cannot run (look-around, back-references) is evaluated in Python, once
per distinct value of the batch, not once per event.  CIDR tests are range tests on numeric
copies of the address column, made once per batch: an IPv4 number (``ipv4_name``) and the two
64-bit halves of an IPv6 address (``ipv6_name``).
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache

import polars as pl

from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred
from autosoc.detect.sigma.ir import preds as all_preds

KEYWORD_COLUMN = "__keywords__"
_LOWER = "__lc__"
_TEXT_OPS = {"eq", "contains", "startswith", "endswith", "glob"}
_COLLAPSIBLE = {"eq", "contains", "startswith", "endswith"}  # OR-ed over one field: one kernel
_RUST_META = frozenset("\\.+*?()|[]{}^$#&-~")


def lower_name(field: str) -> str:
    return _LOWER + field


_IPV4 = "__ip4__"


def ipv4_name(field: str) -> str:
    """The column holding ``field`` as an IPv4 number (added per batch for the fields IPv4 CIDRs test)."""
    return _IPV4 + field


def ipv4_fields(node: Node) -> set[str]:
    """Fields an IPv4 ``cidr`` predicate of the node tests (they get an ``ipv4_name`` column)."""
    return {p.field for p in all_preds(node)
            if p.op == "cidr" and p.field and ipaddress.ip_network(str(p.args[0]), strict=False).version == 4}


_IPV6 = "__ip6__"
_MASK64 = (1 << 64) - 1


def ipv6_name(field: str) -> str:
    """The column holding ``field`` as an IPv6 address: a struct of its high and low 64 bits."""
    return _IPV6 + field


def ipv6_fields(node: Node) -> set[str]:
    """Fields an IPv6 ``cidr`` predicate of the node tests (they get an ``ipv6_name`` column)."""
    return {p.field for p in all_preds(node)
            if p.op == "cidr" and p.field and ipaddress.ip_network(str(p.args[0]), strict=False).version == 6}


def text_column(pred: Pred) -> str:
    if pred.field is None:
        return KEYWORD_COLUMN
    return pred.field if pred.cased else lower_name(pred.field)


def lowered_fields(node: Node) -> set[str]:
    """Fields whose lower-cased copy the node reads."""
    return {p.field for p in all_preds(node) if p.field is not None and not p.cased and p.op in _TEXT_OPS}


Column = Callable[[str], pl.Expr]


def to_expr(node: Node, col: Column = pl.col) -> pl.Expr:
    """The node as a boolean expression; ``col`` makes the column leaves (``pl.col``, or a gather of some rows)."""
    if isinstance(node, Pred):
        return _pred(node, col)
    if isinstance(node, And):
        return pl.all_horizontal([to_expr(i, col) for i in node.items])
    if isinstance(node, Or):
        return _or(node, col)
    if isinstance(node, Not):
        return ~to_expr(node.item, col)
    if isinstance(node, Const):
        return pl.lit(node.value)
    raise TypeError(node)


def _or(node: Or, col: Column) -> pl.Expr:
    grouped: dict[tuple[str | None, str, bool], list[Pred]] = defaultdict(list)
    others: list[pl.Expr] = []
    ipv4_ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    ipv6_preds: dict[str, list[Pred]] = defaultdict(list)
    for item in node.items:
        if isinstance(item, Pred) and item.op in _COLLAPSIBLE and item.field is not None:
            grouped[(item.field, item.op, item.cased)].append(item)
        elif isinstance(item, Pred) and item.op == "cidr" and item.field is not None and (
                network := ipaddress.ip_network(str(item.args[0]), strict=False)).version == 4:
            ipv4_ranges[item.field].append((int(network.network_address), int(network.broadcast_address)))
        elif isinstance(item, Pred) and item.op == "cidr" and item.field is not None:
            ipv6_preds[item.field].append(item)
        elif isinstance(item, Pred) and item.op == "contains":
            grouped[(None, "contains", item.cased)].append(item)
        else:
            others.append(to_expr(item, col))
    for name, ranges in ipv4_ranges.items():
        others.append(_in_ranges(col(ipv4_name(name)), ranges))
    for name, preds in ipv6_preds.items():
        others.append(_pred(preds[0], col) if len(preds) == 1 else _in_ipv6_ranges(col(ipv6_name(name)), preds, col))
    for (_, op, _), preds in grouped.items():
        if len(preds) == 1:
            others.append(_pred(preds[0], col))
            continue
        column = col(text_column(preds[0]))
        values = list(dict.fromkeys(str(p.args[0]) for p in preds))
        if op == "eq":
            others.append(column.is_in(values).fill_null(False))
        elif op == "contains":
            others.append(column.str.contains_any(values).fill_null(False))
        else:
            others.append(_affixes(column, op, values, preds, col))
    return others[0] if len(others) == 1 else pl.any_horizontal(others)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Inclusive ranges merged into sorted disjoint ones (touching ones joined): their starts and ends."""
    starts: list[int] = []
    ends: list[int] = []
    for first, last in sorted(ranges):
        if starts and first <= ends[-1] + 1:
            ends[-1] = max(ends[-1], last)
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends


def _in_ranges(number: pl.Expr, ranges: list[tuple[int, int]], dtype: pl.DataType = pl.Int64) -> pl.Expr:
    """``number`` lies in one of the inclusive ``ranges``: OR-ed CIDRs as one sorted search.

    The ranges are merged into disjoint ones; the range a number may lie in is the last one
    starting at or before it."""
    if len(ranges) == 1:
        first, last = ranges[0]
        return number.is_between(pl.lit(first, dtype=dtype), pl.lit(last, dtype=dtype)).fill_null(False)
    first_of, last_of = merge_ranges(ranges)
    starts = pl.Series(first_of, dtype=dtype)
    ends = pl.Series(last_of, dtype=dtype)
    index = pl.lit(starts).search_sorted(number, side="right").cast(pl.Int64) - 1
    return ((index >= 0) & (number <= pl.lit(ends).gather(index.clip(0)))).fill_null(False)


def _in_ipv6_ranges(halves: pl.Expr, preds: list[Pred], col: Column) -> pl.Expr:
    """OR-ed IPv6 CIDRs of one field as one sorted search over their merged ranges: on the high half
    when every prefix has at most 64 bits, else on the whole address as one 128-bit number.

    As columns, each CIDR would be two range tests on the two halves, and a rule listing a dozen
    of them spent ~12 ms a batch on expression overhead whatever the row count (the Office
    outbound rule, with 27 single addresses among its CIDRs, ~5 ms a batch)."""
    networks = [ipaddress.ip_network(str(p.args[0]), strict=False) for p in preds]
    ranges = [(int(n.network_address), int(n.broadcast_address)) for n in networks]
    if all(n.prefixlen <= 64 for n in networks):
        return _in_ranges(halves.struct.field("hi"), [(first >> 64, last >> 64) for first, last in ranges],
                          pl.UInt64)
    number = (halves.struct.field("hi").cast(pl.UInt128) * pl.lit(1 << 64, dtype=pl.UInt128)
              + halves.struct.field("lo").cast(pl.UInt128))
    return _in_ranges(number, ranges, pl.UInt128)


def _affixes(column: pl.Expr, op: str, values: list[str], preds: list[Pred], col: Column) -> pl.Expr:
    """OR-ed prefixes (suffixes) of one field as one anchored alternation of literals.

    The regex engine runs an anchored literal alternation from the anchored end, so this is one
    cheap pass instead of one ``starts_with``/``ends_with`` pass per value.
    """
    body = "|".join(rust_escape(v) for v in values)
    pattern = rf"\A(?:{body})" if op == "startswith" else rf"(?:{body})\z"
    if rust_regex_ok(pattern):
        return column.str.contains(pattern).fill_null(False)
    return pl.any_horizontal([_pred(p, col) for p in preds])


def rust_escape(text: str) -> str:
    """``text`` as a literal in Rust regex syntax (the characters ``regex::escape`` escapes)."""
    return "".join("\\" + c if c in _RUST_META else c for c in text)


def _pred(p: Pred, col: Column = pl.col) -> pl.Expr:
    op = p.op
    if op in _TEXT_OPS:
        column = col(text_column(p))
        value = p.args[0]
        if op == "eq":
            expr = column.str.contains(str(value), literal=True) if p.field is None else column == value
        elif op == "contains":
            expr = column.str.contains(str(value), literal=True)
        elif op == "startswith":
            expr = column.str.starts_with(str(value))
        elif op == "endswith":
            expr = column.str.ends_with(str(value))
        else:
            expr = _regex(column, str(value), p.field or KEYWORD_COLUMN)
        return expr.fill_null(False)
    field = p.field or KEYWORD_COLUMN
    column = col(field)
    if op == "any":
        return column.is_not_null()
    if op == "null":
        return column.is_null()
    if op == "exists":
        return column.is_not_null() if p.args[0] else column.is_null()
    if op == "re":
        return _regex(column, regex_pattern(p), field).fill_null(False)
    if op == "cidr":
        network = ipaddress.ip_network(str(p.args[0]), strict=False)
        if isinstance(network, ipaddress.IPv4Network) and p.field:
            # columnar: the batch's address column as numbers (computed once per field), a range test
            return _in_ranges(col(ipv4_name(p.field)),
                              [(int(network.network_address), int(network.broadcast_address))])
        if p.field:
            first, last = int(network.network_address), int(network.broadcast_address)
            halves = col(ipv6_name(p.field))
            # lexicographic (high, low) in [first, last]: for a prefix of at most 64 bits the low
            # range is all of it, for a longer one the high half is one value
            return (halves.struct.field("hi").is_between(_u64(first >> 64), _u64(last >> 64))
                    & halves.struct.field("lo").is_between(_u64(first & _MASK64), _u64(last & _MASK64))
                    ).fill_null(False)
        return _python_test(column, lambda v: _in_network(v, network))
    if op == "cmp":
        number = column.cast(pl.Float64, strict=False)
        bound = float(p.args[1])  # type: ignore[arg-type]
        cmp = {"lt": number < bound, "lte": number <= bound, "gt": number > bound, "gte": number >= bound,
               "neq": number != bound}
        return cmp[str(p.args[0])].fill_null(False)
    if op == "fieldref":
        other, mode = str(p.args[0]), str(p.args[1])
        left, right = column.str.to_lowercase(), col(other).str.to_lowercase()
        if mode == "eq":
            expr = left == right
        elif mode == "startswith":
            expr = left.str.starts_with(right)
        elif mode == "endswith":
            expr = left.str.ends_with(right)
        else:
            expr = left.str.contains(right, literal=True)
        return expr.fill_null(False)
    raise ValueError(f"unknown predicate op {op!r}")


def regex_pattern(p: Pred) -> str:
    """A ``re`` predicate's pattern with its Sigma flags (i, m, s) inline."""
    pattern, flags = str(p.args[0]), str(p.args[1])
    return f"(?{flags}){pattern}" if flags else pattern


@lru_cache(maxsize=4096)
def rust_regex_ok(pattern: str) -> bool:
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except Exception:  # polars raises ComputeError for syntax the Rust engine lacks
        return False
    return True


def _regex(column: pl.Expr, pattern: str, field: str) -> pl.Expr:
    if rust_regex_ok(pattern):
        return column.str.contains(pattern)
    compiled = re.compile(pattern)
    return _python_test(column, lambda v: compiled.search(v) is not None)


def _python_test(column: pl.Expr, test: Callable[[str], bool]) -> pl.Expr:
    """A Python test run once per distinct value of the batch."""

    def apply(series: pl.Series) -> pl.Series:
        hits = [v for v in series.drop_nulls().unique().to_list() if test(v)]
        return series.is_in(hits).fill_null(False)

    return column.map_batches(apply, return_dtype=pl.Boolean)


def ipv4_number(column: pl.Expr) -> pl.Expr:
    """A dotted-quad IPv4 address as its 32-bit number; null for anything else (IPv6, names, junk)."""
    octet = r"(0|[1-9]\d{0,2})"  # no leading zeros: as Python's ipaddress (they would be octal elsewhere)
    parts = column.str.strip_chars().str.extract_groups(rf"^{octet}\.{octet}\.{octet}\.{octet}$")
    octets = [parts.struct.field(str(i)).cast(pl.UInt32, strict=False) for i in (1, 2, 3, 4)]
    valid = pl.all_horizontal(o <= 255 for o in octets)
    number = (octets[0] * 16777216 + octets[1] * 65536 + octets[2] * 256 + octets[3]).cast(pl.Int64)
    return pl.when(valid).then(number).otherwise(None)


def _u64(value: int) -> pl.Expr:
    return pl.lit(value, dtype=pl.UInt64)


_HALVES = pl.Struct({"hi": pl.UInt64, "lo": pl.UInt64})


def ipv6_halves(column: pl.Expr) -> pl.Expr:
    """An IPv6 address (brackets and a zone id allowed) as ``{hi, lo}``; null for anything else.

    Python's ``ipaddress`` parses each distinct value of the batch once."""

    def apply(series: pl.Series) -> pl.Series:
        distinct = series.drop_nulls().unique()
        his: list[int | None] = []
        los: list[int | None] = []
        for value in distinct.to_list():
            address = address_of(value)
            if isinstance(address, ipaddress.IPv6Address):
                number = int(address)
                his.append(number >> 64)
                los.append(number & _MASK64)
            else:
                his.append(None)
                los.append(None)
        frame = pl.DataFrame({"hi": his, "lo": los}, schema={"hi": pl.UInt64, "lo": pl.UInt64})
        hi = series.replace_strict(distinct, frame["hi"], default=None, return_dtype=pl.UInt64)
        lo = series.replace_strict(distinct, frame["lo"], default=None, return_dtype=pl.UInt64)
        return pl.struct(hi.alias("hi"), lo.alias("lo"), eager=True)

    return column.map_batches(apply, return_dtype=_HALVES)


def _in_network(value: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    address = address_of(value)
    return address is not None and address in network


@lru_cache(maxsize=65536)
def address_of(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]").split("%")[0])
    except ValueError:
        return None
