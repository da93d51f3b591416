"""Generated Python rule tests have the truth of the Polars expressions, on random rules and rows."""

from __future__ import annotations

import ipaddress
import random

import polars as pl

from autosoc.detect.sigma.compiler import _MULTI, _SINGLE, _glob_regex
from autosoc.detect.sigma.engine import with_columns
from autosoc.detect.sigma.exprs import lower_name, to_expr
from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred
from autosoc.detect.sigma.pyeval import compile_rule

FIELDS = ("Image", "CommandLine", "User")
ALPHABET = ["a", "b", "A", "\\", ".", " ", "é", "É", "*", "'", '"', "\n", "$", "?", "(", "İ"]
TEXT_OPS = ("eq", "contains", "startswith", "endswith")


def _text(rng: random.Random, most: int = 3) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def _pred(rng: random.Random) -> Pred:
    field = rng.choice(FIELDS)
    op = rng.choice((*TEXT_OPS, *TEXT_OPS, "any", "null", "exists", "glob"))
    if op == "any" or op == "null":
        return Pred(field, op)
    if op == "glob":  # a wildcard value, as the compiler writes it: its regex over escaped literals
        cased = rng.random() < 0.3
        parts = [rng.choice([_MULTI, _SINGLE, _text(rng)]) for _ in range(rng.randint(1, 4))]
        parts = [p if p in (_MULTI, _SINGLE) or cased else str(p).lower() for p in parts]
        return Pred(field, "glob", (_glob_regex(parts, cased, anchored=True),), cased)
    if op == "exists":
        return Pred(field, op, (rng.random() < 0.5,))
    cased = rng.random() < 0.3
    value = _text(rng)
    return Pred(field, op, (value if cased else value.lower(),), cased)


def _node(rng: random.Random, depth: int = 0) -> Node:
    roll = rng.random()
    if depth >= 3 or roll < 0.35:
        return _pred(rng)
    if roll < 0.45:
        return Not(_node(rng, depth + 1))
    if roll < 0.5:
        return Const(rng.random() < 0.5)
    items = tuple(_node(rng, depth + 1) for _ in range(rng.randint(1, 4)))
    if roll < 0.7:
        # OR lists of one field and op: the collapsed forms (set lookup, affix tuple, substring loop)
        field, op = rng.choice(FIELDS), rng.choice(TEXT_OPS)
        # (long substring lists are one automaton pass)
        many = rng.randint(0, 4) if rng.random() < 0.7 else rng.randint(9, 16)
        items += tuple(Pred(field, op, (_text(rng).lower(),)) for _ in range(many))
        return Or(items)
    return And(items)


def test_generated_tests_agree_with_polars_on_random_rules() -> None:
    rng = random.Random(20261201)
    rows = [{f: (None if rng.random() < 0.2 else _text(rng, 6)) for f in FIELDS} for _ in range(300)]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(FIELDS, pl.String))
    frame = frame.with_columns(pl.col(f).str.to_lowercase().alias(lower_name(f)) for f in FIELDS)
    for _ in range(400):
        node = _node(rng)
        columns: dict[str, int] = {}
        test = compile_rule(node, lambda c, columns=columns: columns.setdefault(c, len(columns)))
        assert test is not None, node
        # beside a column, as the engine selects them: a constant broadcasts to every row
        expected = frame.select(pl.int_range(pl.len()).alias("i"), to_expr(node).alias("v"))["v"].to_list()
        values = frame.select(list(columns)).rows() if columns else [()] * frame.height
        got = [test(row) for row in values]
        assert got == expected, node


def test_rules_outside_the_text_tests_stay_on_polars() -> None:
    index = {}.setdefault
    for node in (Pred("CommandLine", "re", ("a.b", "")), Pred("Image", "glob", ("^a.*b$",)),  # not the compiler's
                 Pred(None, "glob", ("(?s)mimi.*katz",)),
                 Pred(None, "contains", ("mimikatz",)), Pred(None, "cidr", ("10.0.0.0/8",), True),
                 Pred("EventID", "cmp", ("gt", 4.0), True), Pred("User", "fieldref", ("TargetUser", "eq")),
                 And((Pred("Image", "endswith", ("\\a.exe",)), Not(Pred("CommandLine", "re", ("x", "i")))))):
        assert compile_rule(node, lambda c: index(c, 0)) is None, node


CIDRS = ["10.0.0.0/8", "10.128.0.0/9", "192.168.1.0/24", "192.168.2.0/24", "1.2.3.4/32", "0.0.0.0/0",
         "::1/128", "fe80::/10", "2603:1063:2200::20/128", "2603:1063:2200::21/128", "2a00:1450::/32",
         "2001:db8:0:2:8000::/65", "::/0", "::ffff:0:0/96"]


def _address(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.45:
        text = ".".join(str(rng.choice([0, 1, 2, 3, 4, 10, 127, 128, 168, 192, 255, 256, rng.randrange(300)]))
                        for _ in range(4))
        before = rng.choice(["", " ", "0", "\t", "\u3000", "\x1c", "\u200b", "["])  # Rust's spaces, not Python's
        return before + text + rng.choice(["", " ", "]", "%eth0", "\n"])
    if roll < 0.85:
        network = ipaddress.ip_network(rng.choice([c for c in CIDRS if ":" in c]))
        number = int(network.network_address) + rng.choice([0, 1, -1, 2**64, rng.getrandbits(70)])
        text = str(ipaddress.IPv6Address(number % 2**128))
        return rng.choice([text, text.upper(), f"[{text}]", f"{text}%3", f" {text} ", "::ffff:10.1.2.3"])
    return rng.choice(["", "not-an-ip", "10.0.0", "1.2.3.4/8", "::g", "localhost"])


def test_generated_cidr_tests_agree_with_polars() -> None:
    rng = random.Random(7)
    fields = ("SourceIp", "DestinationIp")
    rows = [{f: _address(rng) for f in fields} | {"Image": rng.choice(["a", "b", None])} for _ in range(400)]
    frame = pl.DataFrame(rows, schema=dict.fromkeys((*fields, "Image"), pl.String))
    frame = with_columns(frame, set(), {"Image"}, ipv4=set(fields), ipv6=set(fields))
    for _ in range(200):
        items: list[Node] = [Pred(rng.choice(fields), "cidr", (rng.choice(CIDRS),), True)
                             for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.3:
            items.append(Pred("Image", "eq", ("a",)))
        node: Node = Or(tuple(items)) if rng.random() < 0.7 else And(tuple(items))
        if rng.random() < 0.3:
            node = Not(node)
        columns: dict[str, int] = {}
        test = compile_rule(node, lambda c, columns=columns: columns.setdefault(c, len(columns)))
        assert test is not None, node
        expected = frame.select(pl.int_range(pl.len()).alias("i"), to_expr(node).alias("v"))["v"].to_list()
        got = [test(row) for row in frame.select(list(columns)).rows()]
        assert got == expected, node


def test_the_python_ipv4_parser_takes_what_the_columnar_one_takes() -> None:
    from autosoc.detect.sigma import exprs, pyeval

    values = [" 10.0.0.1 ", "10.0.0.1\n", "010.0.0.1", "10.0.0.256", "1.2.3.4\u3000", "\u0661.2.3.4", "10.0.0.1%x",
              "[1.2.3.4]", "", "255.255.255.255", "0.0.0.0", "1.2.3", "1.2.3.4.5", "1..2.3"]
    # every character before and after an address: which of them count as spaces differs between Rust and Python
    values += [c + "1.2.3.4" for c in map(chr, range(0x3100)) if not 0xD800 <= ord(c) < 0xE000]
    values += ["1.2.3.4" + c for c in map(chr, range(0x3100)) if not 0xD800 <= ord(c) < 0xE000]
    columnar = pl.DataFrame({"v": values}).select(exprs.ipv4_number(pl.col("v"))).to_series().to_list()
    assert [pyeval.ipv4_number(v) for v in values] == columnar
