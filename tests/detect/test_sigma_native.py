"""The C rule tests (native.Matcher) have the truth of the generated Python tests (pyeval), pair by pair."""

from __future__ import annotations

import pickle
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

pytest.importorskip("autosoc.detect.sigma._match", reason="the _match C extension is not built")

from autosoc.detect.sigma import native
from autosoc.detect.sigma.compiler import _MULTI, _SINGLE, _glob_regex
from autosoc.detect.sigma.engine import _Group, with_columns
from autosoc.detect.sigma.exprs import lower_name
from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred, preds
from autosoc.detect.sigma.native import Matcher, glob_tokens
from autosoc.detect.sigma.pyeval import compile_rule
from tests.conftest import REGRESSION, REPO, SIGMA
from tests.detect import test_sigma_pyeval as generated

FIELDS = ("Image", "CommandLine", "User", "SourceIp")
# multi-byte code points of every length, case pairs whose lower-case differs in length, regex metas
ALPHABET = ["a", "b", "A", "B", "\\", ".", " ", "", "é", "É", "ß", "İ", "ı", "K", "€", "😀", "𝔸", "*", "?",
            "'", '"', "\n", "\r", "$", "^", "(", ")", "[", "{", "|", "+", "#", "-", "~", "&", "\t", "\x00"]
ADDRESSES = ["10.0.0.1", " 10.1.2.3\u3000", "010.0.0.1", "192.168.1.7", "192.168.3.1", "1.2.3.4", "1.2.3.4 ",
             "\u200b1.2.3.4", "255.255.255.255", "256.1.1.1", "1.2.3", "::1", "10.0.0.1\n", "\x1c1.2.3.4", ""]
CIDRS_V4 = ["10.0.0.0/8", "10.128.0.0/9", "192.168.1.0/24", "192.168.2.0/24", "1.2.3.4/32", "0.0.0.0/0",
            "255.255.255.254/31"]


def _text(rng: random.Random, most: int = 4) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def _value(rng: random.Random, field: str) -> str | None:
    roll = rng.random()
    if roll < 0.15:
        return None
    if field == "SourceIp" and roll < 0.7:
        return rng.choice(ADDRESSES)
    return _text(rng, 8) if roll < 0.9 else _text(rng, 40)


def _glob(rng: random.Random, field: str) -> Pred:
    cased = rng.random() < 0.3
    parts = [rng.choice([_MULTI, _SINGLE, _text(rng)]) for _ in range(rng.randint(1, 5))]
    parts = [p if p in (_MULTI, _SINGLE) or cased else str(p).lower() for p in parts]
    return Pred(field, "glob", (_glob_regex(parts, cased, anchored=True),), cased)


def _pred(rng: random.Random) -> Pred:
    field = rng.choice(FIELDS)
    op = rng.choice(("eq", "contains", "startswith", "endswith") * 2 + ("any", "null", "exists", "glob", "cidr"))
    if op in ("any", "null"):
        return Pred(field, op)
    if op == "exists":
        return Pred(field, op, (rng.random() < 0.5,))
    if op == "glob":
        return _glob(rng, field)
    if op == "cidr":
        return Pred(field, "cidr", (rng.choice(CIDRS_V4),), True)
    cased = rng.random() < 0.3
    value = _text(rng)
    return Pred(field, op, (value if cased else value.lower(),), cased)


def _node(rng: random.Random, depth: int = 0) -> Node:
    roll = rng.random()
    if depth >= 4 or roll < 0.3:
        return _pred(rng)
    if roll < 0.4:
        return Not(_node(rng, depth + 1))
    if roll < 0.45:
        return rng.choice([Const(rng.random() < 0.5), And(()), Or(())])
    items = tuple(_node(rng, depth + 1) for _ in range(rng.randint(1, 4)))
    if roll < 0.75:  # OR lists of one field and op: single tests, tries and automata
        field, op = rng.choice(FIELDS), rng.choice(("eq", "contains", "startswith", "endswith"))
        cased = rng.random() < 0.2
        many = rng.choice([rng.randint(0, 5), rng.randint(6, 40), rng.randint(100, 300)])
        values = [_text(rng, rng.choice([2, 5, 12])) for _ in range(many)]
        items += tuple(Pred(field, op, (v if cased else v.lower(),), cased) for v in values)
        if rng.random() < 0.2:
            items += tuple(Pred("SourceIp", "cidr", (c,), True) for c in rng.sample(CIDRS_V4, 3))
        return Or(items)
    return And(items)


def _frame(rows: list[dict[str, str | None]], fields: tuple[str, ...]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(fields, pl.String))
    return frame.with_columns(pl.col(f).str.to_lowercase().alias(lower_name(f)) for f in fields)


def _compare(nodes: list[Node], frame: pl.DataFrame, min_supported: int) -> int:
    """Every node on every row: native == pyeval; returns how many nodes native compiled."""
    columns: dict[str, int] = {}

    def index(name: str) -> int:
        return columns.setdefault(name, len(columns))

    matcher = Matcher()
    tests = []
    for node in nodes:
        test = compile_rule(node, index)
        number = matcher.add(node, index)
        if test is not None and number is not None:
            tests.append((number, test, node))
    assert len(tests) >= min_supported
    series = [frame.get_column(name) for name in columns]
    values = frame.select(list(columns)).rows() if columns else [()] * frame.height
    rules = [number for number, _, _ in tests for _ in range(frame.height)]
    rows = [row for _ in tests for row in range(frame.height)]
    got = matcher.run(series, pl.Series(rules, dtype=pl.UInt32), pl.Series(rows, dtype=pl.UInt32)).to_list()
    expected = [bool(test(values[row])) for _, test, _ in tests for row in range(frame.height)]
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        if g != e:
            number, _, node = tests[k // frame.height]
            row = k % frame.height
            raise AssertionError(f"rule {node} on row {frame.row(row)}: native {g}, pyeval {e}")
    return len(tests)


def test_native_agrees_with_pyeval_on_the_pyeval_generators() -> None:
    rng = random.Random(20261201)
    rows = [{f: (None if rng.random() < 0.2 else generated._text(rng, 6)) for f in generated.FIELDS}
            for _ in range(300)]
    nodes = [generated._node(rng) for _ in range(400)]
    assert _compare(nodes, _frame(rows, generated.FIELDS), 400) == 400  # all of pyeval's generated tests


def test_native_agrees_with_pyeval_on_random_rules() -> None:
    rng = random.Random(1)
    rows = [{f: _value(rng, f) for f in FIELDS} for _ in range(400)]
    # rows that hit the many-literal sets and globs: texts made of the rules' own pieces
    nodes = [_node(rng) for _ in range(500)]
    pieces = [str(p.args[0]) for n in nodes for p in preds(n) if p.op in ("eq", "contains", "startswith", "endswith")]
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
        rows.append({f: text if rng.random() < 0.7 else _value(rng, f) for f in FIELDS})
    supported = _compare(nodes, _frame(rows, FIELDS), 450)
    assert supported >= 450


def test_globs_parse_into_tokens_and_other_regexes_are_refused() -> None:
    regex = _glob_regex(["a.", _MULTI, "\n(é)", _SINGLE, " #&~-$^"], cased=True, anchored=True)
    assert glob_tokens(regex) == [*b"a.", native.ANY_MANY, *"\n(é)".encode(), native.ANY_ONE, *b" #&~-$^"]
    for pattern in ("^a.*b$", "(?s)^a+$", "(?s)^a|b$", "(?s)^[ab]$", "(?s)^\\d$", "(?s)^a.*?$", "(?s)^(a)$",
                    "(?s)^a$b$", "(?s)^a\\", "(?s)^\\Z$", "(?s)^a{2}$", "(?s)^.+$", "(?s)mimi.*katz"):
        assert glob_tokens(pattern) is None, pattern


def test_rules_outside_the_subset_are_refused_without_touching_the_index() -> None:
    asked: list[str] = []

    def index(name: str) -> int:
        asked.append(name)
        return len(asked) - 1

    matcher = Matcher()
    # regexes Python's engine cannot stand in for: look-ahead (not Rust), a Unicode class, a nested
    # unbounded repeat (backtracking), a class set operation
    for node in (Pred("CommandLine", "re", ("a(?=b)", "")), Pred("CommandLine", "re", (r"\p{L}x", "")),
                 Pred("CommandLine", "re", ("(a+)+b", "")), Pred("CommandLine", "re", ("[a-z&&[^x]]", "")),
                 Pred(None, "re", ("a.b", "")), Pred("Image", "glob", ("^a.*b$",)),
                 Pred(None, "contains", ("mimikatz",)), Pred(None, "glob", ("(?s)mimi.*katz",)),
                 Pred("DestinationIp", "cidr", ("fe80::/10",), True), Pred("EventID", "cmp", ("gt", 4.0), True),
                 Pred("User", "fieldref", ("TargetUser", "eq")), Pred("EventID", "eq", (4,)),
                 Or((Pred("Image", "endswith", ("\\a.exe",)), Pred("SourceIp", "cidr", ("::1/128",), True))),
                 And((Pred("Image", "endswith", ("\\a.exe",)), Not(Pred("CommandLine", "re", ("(?<n>x)", "i")))))):
        assert matcher.add(node, index) is None, node
    assert asked == [] and len(matcher) == 0


def _matcher() -> tuple[Matcher, dict[str, int]]:
    columns: dict[str, int] = {}
    matcher = Matcher()
    for node in (Pred("Image", "endswith", ("\\a.exe",), True),
                 Not(Pred("Image", "contains", ("x",), True)),
                 Pred("Image", "null"),
                 Const(True)):
        assert matcher.add(node, lambda c: columns.setdefault(c, len(columns))) is not None
    return matcher, columns


def _pairs(height: int) -> tuple[pl.Series, pl.Series]:
    rules = [r for r in range(4) for _ in range(height)]
    return pl.Series(rules, dtype=pl.UInt32), pl.Series(list(range(height)) * 4, dtype=pl.UInt32)


def _expected(values: list[str | None]) -> list[bool]:
    return ([v is not None and v.endswith("\\a.exe") for v in values] + [not (v is not None and "x" in v)
            for v in values] + [v is None for v in values] + [True] * len(values))


@pytest.mark.parametrize("shape", ["plain", "sliced", "chunked", "sliced-chunked", "all-null", "null-dtype", "empty"])
def test_columns_of_every_shape(shape: str) -> None:
    matcher, _ = _matcher()
    values = ["C:\\a.exe", None, "x" * 30 + "\\a.exe", "", "\\a.exe", "short", None, "é" * 20, "xx\\a.exe"] * 3
    if shape == "plain":
        series = pl.Series(values)
    elif shape == "sliced":
        series = pl.Series(["pad" * 10, None, *values, "tail" * 5]).slice(2, len(values))
    elif shape == "chunked":
        series = pl.concat([pl.Series(values[:5]), pl.Series(values[5:11]), pl.Series(values[11:])], rechunk=False)
        assert series.n_chunks() == 3
    elif shape == "sliced-chunked":
        series = pl.concat([pl.Series(["z" * 20, *values[:7]]), pl.Series([*values[7:], "w" * 14])],
                           rechunk=False).slice(1, len(values))
    elif shape == "all-null":
        values = [None] * 7
        series = pl.Series(values, dtype=pl.String)
    elif shape == "null-dtype":
        values = [None] * 5
        series = pl.Series(values)
        assert series.dtype == pl.Null
    else:
        values = []
        series = pl.Series(values, dtype=pl.String)
    rules, rows = _pairs(len(values))
    out = matcher.run([series], rules, rows)
    assert out.dtype == pl.Boolean and out.to_list() == _expected(values)


def test_empty_pairs_and_unsorted_repeated_pairs() -> None:
    matcher, _ = _matcher()
    empty = pl.Series([], dtype=pl.UInt32)
    assert matcher.run([pl.Series(["a"])], empty, empty).to_list() == []
    values = ["b\\a.exe", None, "x"]
    out = matcher.run([pl.Series(values)], pl.Series([3, 0, 0, 2, 1, 0], dtype=pl.UInt32),
                      pl.Series([2, 0, 0, 1, 2, 1], dtype=pl.UInt32))
    assert out.to_list() == [True, True, True, True, False, False]
    # the pairs may themselves be slices of bigger series
    rules = pl.Series([9, 9, 0, 1], dtype=pl.UInt32).slice(2)
    rows = pl.Series([7, 0, 1], dtype=pl.UInt32).slice(1)
    assert matcher.run([pl.Series(values)], rules, rows).to_list() == [True, True]


def test_bad_pairs_raise_value_errors() -> None:
    matcher, _ = _matcher()
    column = [pl.Series(["a", "b"])]
    with pytest.raises(ValueError, match="row out of range"):
        matcher.run(column, pl.Series([0, 1], dtype=pl.UInt32), pl.Series([1, 2], dtype=pl.UInt32))
    with pytest.raises(ValueError, match="row out of range"):  # a constant rule as well
        matcher.run(column, pl.Series([3], dtype=pl.UInt32), pl.Series([2**32 - 1], dtype=pl.UInt32))
    with pytest.raises(ValueError, match="rule number out of range"):
        matcher.run(column, pl.Series([4], dtype=pl.UInt32), pl.Series([0], dtype=pl.UInt32))
    with pytest.raises(ValueError, match="more columns"):
        matcher.run([], pl.Series([0], dtype=pl.UInt32), pl.Series([0], dtype=pl.UInt32))
    with pytest.raises(ValueError):
        matcher.run(column, pl.Series([0, 1], dtype=pl.UInt32), pl.Series([0], dtype=pl.UInt32))
    with pytest.raises(ValueError, match="nulls"):
        matcher.run(column, pl.Series([0, None], dtype=pl.UInt32), pl.Series([0, 1], dtype=pl.UInt32))
    with pytest.raises(TypeError):
        matcher.run(column, pl.Series([0], dtype=pl.Int64), pl.Series([0], dtype=pl.UInt32))
    with pytest.raises(TypeError):
        matcher.run([pl.Series([1, 2])], pl.Series([0], dtype=pl.UInt32), pl.Series([0], dtype=pl.UInt32))
    two = Matcher()  # the columns a run's rules read are of one length
    columns: dict[str, int] = {}
    assert two.add(And((Pred("A", "eq", ("a",), True), Pred("B", "eq", ("a",), True))),
                   lambda c: columns.setdefault(c, len(columns))) == 0
    with pytest.raises(ValueError, match="rows"):
        two.run([pl.Series(["a"]), pl.Series(["a", "b"])], pl.Series([0], dtype=pl.UInt32),
                pl.Series([0], dtype=pl.UInt32))


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.string_view()])
def test_arrow_string_layouts(kind: pa.DataType) -> None:
    matcher, _ = _matcher()
    values = ["x", None, "long enough to be out of line \\a.exe", "\\a.exe", "", None, "é\\a.exe"]
    array = pa.array(["pad", *values], type=kind).slice(1)
    rules, rows = _pairs(len(values))
    pair_rules = (rules.to_arrow().buffers()[1], 0, rules.len())
    pair_rows = (rows.to_arrow().buffers()[1], 0, rows.len())
    bits, decided = native._match.run([native.arrow_column(array)], matcher._rules, pair_rules, pair_rows)
    got = pl.Series(pa.Array.from_buffers(pa.bool_(), rules.len(), [None, pa.py_buffer(bits)])).to_list()
    assert decided is None and got == _expected(values)


@pytest.fixture(scope="module")
def windows_rules() -> list:
    if not (SIGMA / "rules" / "windows").exists() or not REGRESSION.exists():
        pytest.skip(f"third-party data missing: {SIGMA} (clone with ../shared/data beside the repo "
                    "or set AUTOSOC_SHARED_DATA)")
    from autosoc.detect.sigma.loader import load_rules

    return load_rules([SIGMA / "rules" / "windows"], cache_dir=REPO / ".autosoc-cache").rules


def _regression_frame() -> pl.DataFrame:
    from autosoc.ingest.files import read_files
    from autosoc.normalize import normalize

    samples = sorted(p for p in Path(REGRESSION).rglob("*") if p.suffix in (".json", ".evtx"))
    frames = [batch.raw for raw in read_files(samples) for batch in normalize(raw)]
    return pl.concat(frames, how="diagonal_relaxed")


def test_windows_rules_agree_with_pyeval_on_the_regression_samples(windows_rules: list,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    raw = _regression_frame()
    columns: dict[str, int] = {}

    def index(name: str) -> int:
        return columns.setdefault(name, len(columns))

    matcher = Matcher()
    tests = []
    python_only = 0
    for rule in windows_rules:
        test = compile_rule(rule.detection, index)
        number = matcher.add(rule.detection, index)
        if test is not None and number is not None:
            tests.append((number, test, rule))
        elif test is not None:
            python_only += 1
    share = len(tests) / (len(tests) + python_only)
    with capsys.disabled():
        print(f"\nnative compiles {len(tests)} of the {len(tests) + python_only} windows rules pyeval takes "
              f"({share:.1%}; {len(windows_rules)} rules in all)")
    assert share > 0.95
    lowered = {name.removeprefix(lower_name("")) for name in columns if name.startswith(lower_name(""))}
    frame = with_columns(raw, set(columns) - {lower_name(f) for f in lowered}, lowered)
    names = list(columns)
    series = [frame.get_column(name) for name in names]
    values = frame.select(names).rows()
    height = frame.height
    rules = pl.Series([number for number, _, _ in tests for _ in range(height)], dtype=pl.UInt32)
    rows = pl.Series([row for _ in tests for row in range(height)], dtype=pl.UInt32)
    got = matcher.run(series, rules, rows).to_list()
    hits = 0
    for k, (_, test, rule) in enumerate(tests):
        expected = [bool(test(v)) for v in values]
        hits += sum(expected)
        assert got[k * height:(k + 1) * height] == expected, rule.path
    assert hits > 100  # the samples fire their rules
    # the programs the rule cache keeps (pickled, as it keeps them), numbered by another engine's
    # columns in its own order, have the same truths
    other: dict[str, int] = {name: i for i, name in enumerate(reversed(names))}
    cached = Matcher()
    numbers = [cached.add(rule.detection, other.__getitem__, pickle.loads(pickle.dumps(rule.program)))
               for rule in windows_rules]
    assert [n for n in numbers if n is not None] == list(range(len(cached))) and len(cached) == len(matcher)
    assert cached.run(series[::-1], rules, rows).to_list() == got


def test_globs_agree_with_pyeval_on_texts_made_of_their_pieces() -> None:
    rng = random.Random(5)
    small = ["a", "b", "é", "😀", "\n", ".", "\\"]
    nodes: list[Node] = []
    texts: list[str | None] = [None, ""]
    for _ in range(300):
        parts = [rng.choice([_MULTI, _SINGLE, "".join(rng.choice(small) for _ in range(rng.randint(1, 3)))])
                 for _ in range(rng.randint(1, 6))]
        nodes.append(Pred("CommandLine", "glob", (_glob_regex(parts, True, anchored=True),), True))
        for _ in range(3):  # a text the glob is meant to match, and variants of it
            text = "".join(rng.choice(small) * rng.randint(0, 2) if p is _MULTI else rng.choice(small)
                           if p is _SINGLE else str(p) for p in parts)
            texts += [text, text[1:], text[:-1], text + rng.choice(small), rng.choice(small) + text]
    frame = pl.DataFrame({"CommandLine": texts}, schema={"CommandLine": pl.String})
    assert _compare(nodes, frame, 300) == 300
    hits = sum(bool(compile_rule(n, lambda c: 0)((t,))) for n in nodes[:50] for t in texts[:800])
    assert hits > 200


def test_the_engine_fires_the_same_with_and_without_the_matcher(windows_rules: list,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine with the C matcher (every supported rule with candidates tested there) and
    without it (Polars selects and pyeval): the same rules on the same rows of the regression
    samples, in small batches (distinct rows and the Python prefilter) and in one (Polars')."""
    from autosoc.detect.sigma import native
    from autosoc.detect.sigma.engine import SigmaEngine
    from autosoc.ingest.files import read_files
    from autosoc.normalize import normalize
    from autosoc.schema import EventBatch

    samples = sorted(p for p in Path(REGRESSION).rglob("*") if p.suffix in (".json", ".evtx"))
    batches = [b for raw in read_files(samples) for b in normalize(raw) if len(b)]
    whole = EventBatch(pl.concat([b.events for b in batches]), pl.concat([b.raw for b in batches], how="diagonal"))

    def fired(enabled: bool, prefilter_rows: int) -> list[tuple[str, list[int]]]:
        monkeypatch.setattr(native, "NATIVE", enabled)
        engine = SigmaEngine(windows_rules, prefilter_python_max_rows=prefilter_rows, use_native=enabled)
        return [(rule.id, rows) for batch in (*batches[:40], whole) for rule, rows in engine.evaluate(batch)]

    for prefilter_rows in (0, 2000):
        with_matcher, without = fired(True, prefilter_rows), fired(False, prefilter_rows)
        assert len(with_matcher) > 200 and sorted(with_matcher) == sorted(without)


# ---------------------------------------------------------------- the literal prefilter (native.Prefilter)

PREFILTER_FIELDS = ("Image", "CommandLine", "User")
PREFILTER_PIECES = ["ab", "b", "abc", "a", "bc", "c", "é", "ß", "😀", "\\", " ", "-", "x", "€", "ab ", "\x00"]


def _literal_map(rng: random.Random) -> dict[str, dict[str, list[int]]]:
    """Overlapping literals (one inside another), shared by several rules, a rule on several fields."""
    out: dict[str, dict[str, list[int]]] = {}
    for field in PREFILTER_FIELDS:
        if rng.random() < 0.15:
            continue
        literals = out.setdefault(field, {})
        for _ in range(rng.randint(1, 12)):
            literal = "".join(rng.choice(PREFILTER_PIECES) for _ in range(rng.randint(1, 3)))
            if len(literal.encode()) >= 2:
                literals.setdefault(literal, []).extend(
                    r for r in rng.sample(range(20), rng.randint(1, 3)) if r not in literals.get(literal, []))
    return {field: literals for field, literals in out.items() if literals}  # as the engine's groups


def _prefilter_column(rng: random.Random, height: int) -> pl.Series:
    values = [None if rng.random() < 0.2 else "".join(rng.choice(PREFILTER_PIECES) for _ in range(rng.randint(0, 8)))
              for _ in range(height + 6)]
    shape = rng.choice(("plain", "sliced", "chunked"))
    if shape == "sliced":
        return pl.Series(values, dtype=pl.String).slice(3, height)
    if shape == "chunked":
        cut = rng.randint(0, height)
        return pl.concat([pl.Series(values[:cut], dtype=pl.String), pl.Series(values[cut:height], dtype=pl.String)],
                         rechunk=False)
    return pl.Series(values[:height], dtype=pl.String)


def _reference_pairs(literal_rules: dict[str, dict[str, list[int]]],
                     columns: dict[str, pl.Series]) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for field, literals in literal_rules.items():
        if field not in columns:
            continue
        for row, value in enumerate(columns[field].to_list()):
            if value is None:
                continue
            for literal, rules in literals.items():
                if literal in value:
                    pairs |= {(rule, row) for rule in rules}
    return pairs


def _prefilter_pairs(prefilter: native.Prefilter, columns: dict[str, pl.Series]) -> list[tuple[int, int]]:
    found = prefilter.run(columns)
    if found is None:
        return []
    rules, positions = found
    assert rules.dtype == pl.UInt32 and positions.dtype == pl.UInt32 and rules.len() == positions.len() > 0
    pairs = list(zip(rules.to_list(), positions.to_list(), strict=True))
    assert pairs == sorted(set(pairs)), "each pair once, sorted by rule then row"
    return pairs


def _literal_group(literal_rules: dict[str, dict[str, list[int]]]) -> _Group:
    group = _Group(pl.lit(True), set(), set())
    for field, literals in literal_rules.items():
        group.literal_rules[field] = {literal: list(rules) for literal, rules in literals.items()}
    group.seal()
    return group


def _engine_pairs(found: pl.DataFrame | None) -> set[tuple[int, int]]:
    return set() if found is None else set(zip(found.get_column("rule").to_list(), found.get_column("pos").to_list(),
                                               strict=True))


def test_prefilter_finds_what_a_substring_test_and_the_engine_find() -> None:
    from autosoc.detect.sigma.engine import _candidates, _candidates_python

    rng = random.Random(7)
    seen = 0
    for _ in range(150):
        literal_rules = _literal_map(rng)
        height = rng.randint(0, 40)
        columns = {field: _prefilter_column(rng, height) for field in PREFILTER_FIELDS if rng.random() < 0.85}
        expected = _reference_pairs(literal_rules, columns)
        seen += len(expected)
        # a tiny table budget sends nearly every state through the trie edges and failure links
        for dense_bytes in (1, 64, native.PREFILTER_DENSE_BYTES):
            prefilter = native.Prefilter(literal_rules, dense_bytes=dense_bytes)
            assert set(_prefilter_pairs(prefilter, columns)) == expected
        group = _literal_group(literal_rules)
        frame = pl.DataFrame({"pad": [0] * height, **{lower_name(field): column for field, column in columns.items()}})
        if group.literal_rules:
            assert _engine_pairs(_candidates(group, frame)) == expected
            assert _engine_pairs(_candidates_python(group, frame)) == expected
    assert seen > 1000


def test_prefilter_of_every_windows_group_agrees_with_the_engine_on_the_regression_samples(
        windows_rules: list) -> None:
    from autosoc.detect.sigma.engine import SigmaEngine, _candidates

    raw = _regression_frame()
    engine = SigmaEngine(windows_rules)
    total = memory = 0
    for group in engine._groups:
        if not group.literal_rules:
            continue
        prefilter = native.Prefilter(group.literal_rules)
        memory += prefilter.nbytes
        frame = with_columns(raw, set(), set(group.literal_rules))
        columns = {field: frame.get_column(lower_name(field)) for field in group.literal_rules}
        got = _prefilter_pairs(prefilter, columns)
        assert set(got) == _engine_pairs(_candidates(group, frame))
        total += len(got)
    assert total > 1000
    assert memory < 64 << 20


def test_prefilter_empty_inputs_null_columns_and_missing_fields() -> None:
    literal_rules = {"Image": {"ab": [0], "b": [1, 2]}, "User": {"zz": [3]}, "Empty": {}}
    prefilter = native.Prefilter(literal_rules)
    assert prefilter.fields == ["Image", "User"] and prefilter.nbytes > 0
    assert prefilter.run({}) is None
    assert prefilter.run({"Other": pl.Series(["ab"])}) is None
    assert prefilter.run({"Image": pl.Series([], dtype=pl.String)}) is None
    assert prefilter.run({"Image": pl.Series([None, None], dtype=pl.String), "User": pl.Series([None, None])}) is None
    assert prefilter.run({"Image": pl.Series(["", "x"])}) is None
    assert _prefilter_pairs(prefilter, {"User": pl.Series([None, "zzz"]), "Empty": pl.Series(["ab", "ab"])}) == [(3, 1)]
    assert _prefilter_pairs(prefilter, {"Image": pl.Series(["xab", None, "b"]),
                                        "User": pl.Series([None, None], dtype=pl.String).extend_constant(None, 1)}) == [
        (0, 0), (1, 0), (1, 2), (2, 0), (2, 2)]
    assert native.Prefilter({}).run({"Image": pl.Series(["ab"])}) is None
    with pytest.raises(ValueError, match="rows"):
        prefilter.run({"Image": pl.Series(["ab"]), "User": pl.Series(["zz", "zz"])})
    with pytest.raises(ValueError, match="empty literal"):
        native.Prefilter({"Image": {"": [0]}})


def test_prefilter_over_many_blocks_of_rows() -> None:
    """Many rules make small blocks of rows (each rule's bitmap of the block's rows): pairs across
    block ends, rules found in several blocks and several fields, still once each and in order."""
    rng = random.Random(11)
    for _ in range(6):
        literal_rules = {field: {literal: [rule * 1000 + rng.randint(0, 999) for rule in rules]
                                 for literal, rules in literals.items()}
                         for field, literals in _literal_map(rng).items()}
        literal_rules.setdefault("Image", {})["ab"] = [299_999, 0]
        height = rng.randint(100, 700)
        columns = {field: _prefilter_column(rng, height) for field in PREFILTER_FIELDS}
        expected = _reference_pairs(literal_rules, columns)
        assert len(expected) > 50
        assert set(_prefilter_pairs(native.Prefilter(literal_rules), columns)) == expected
        assert set(_prefilter_pairs(native.Prefilter(literal_rules, dense_bytes=1), columns)) == expected


def test_regex_tests_leave_non_ascii_and_long_values_undecided() -> None:
    matcher = Matcher()
    columns: dict[str, int] = {}
    index = lambda c: columns.setdefault(c, len(columns))  # noqa: E731
    plain = matcher.add(Pred("CommandLine", "re", (r"-k\s\w+", "")), index)
    negated = matcher.add(Not(Pred("CommandLine", "re", (r"-k\s\w+", ""))), index)
    assert plain == 0 and negated == 1 and matcher.calling == {0, 1}
    values = ["-k net", "-k \u00e9t\u00e9", "-k " + "w" * 100_000, "-x net", None]
    series = pl.Series("CommandLine", values, dtype=pl.String)
    rows = pl.Series([0, 1, 2, 3, 4] * 2, dtype=pl.UInt32)
    rules = pl.Series([0] * 5 + [1] * 5, dtype=pl.UInt32)
    got = matcher.run([series], rules, rows).to_list()
    assert got == [True, None, None, False, False, False, None, None, True, True]


def test_a_raising_regex_call_raises() -> None:
    rule = native._match.Rule(struct.pack("<4i", native._CALL, 0, 0, -1), b"", [], [], [], [],
                              [lambda text: 1 / 0])
    with pytest.raises(ZeroDivisionError):
        native._match.run([pl.Series(["x"])], [rule], pl.Series([0], dtype=pl.UInt32),
                          pl.Series([0], dtype=pl.UInt32))
    with pytest.raises(TypeError):
        native._match.Rule(struct.pack("<4i", native._CALL, 0, 0, -1), b"", [], [], [], [], [3])
    with pytest.raises(ValueError):
        native._match.Rule(struct.pack("<4i", native._CALL, 0, 1, -1), b"", [], [], [], [], [str])


SKIP_PIECES = ["ab", "b", "abc", "ba", "é", "😀", "\\", ":", "\x00", "kiwi", "::", "A", "Z", "É"]


@pytest.fixture(params=[False, True], ids=["wu-manber", "teddy"])
def simd(request: pytest.FixtureRequest) -> Iterator[bool]:
    """The skip search both ways: by skips (Wu-Manber) and, where the processor has AVX2, by
    Teddy's SIMD search."""
    if request.param and not native._match.simd(True):
        pytest.skip("this processor has no AVX2: the SIMD search is not used here")
    before = native._match.simd()
    native._match.simd(request.param)
    yield request.param
    native._match.simd(before)


@pytest.mark.parametrize("folded", [False, True])
def test_the_skip_search_finds_what_a_substring_test_finds(folded: bool, simd: bool) -> None:
    """Fields of few long literals are searched by skips (Wu-Manber) or by Teddy's SIMD search:
    every literal found, at the start, the end, overlapping, inside another, in values shorter
    than the window; folded, A-Z in the text match the literals' a-z (and nothing else is folded)."""
    rng = random.Random(11 if folded else 5)
    engaged = seen = 0
    for _ in range(200):
        literal_rules: dict[str, dict[str, list[int]]] = {}
        for field in PREFILTER_FIELDS:
            literals = literal_rules.setdefault(field, {})
            for _ in range(rng.randint(1, 10)):
                literal = "".join(rng.choice(SKIP_PIECES) for _ in range(rng.randint(3, 7)))
                literal = literal.lower() if folded else literal
                if len(literal.encode()) >= 5 and (not folded or literal == literal.lower()):
                    literals.setdefault(literal, []).append(rng.randrange(20))
        literal_rules = {f: lits for f, lits in literal_rules.items() if lits}
        if folded:  # only ASCII A-Z fold: É stays É
            literal_rules = {f: {lit: r for lit, r in lits.items() if not any("A" <= c <= "Z" for c in lit)}
                             for f, lits in literal_rules.items()}
            literal_rules = {f: lits for f, lits in literal_rules.items() if lits}
        height = rng.randint(0, 30)
        columns = {}
        for field in PREFILTER_FIELDS:
            values = []
            for _ in range(height):
                if rng.random() < 0.15:
                    values.append(None)
                    continue
                pieces = [rng.choice(SKIP_PIECES) for _ in range(rng.randint(0, 12))]
                if field in literal_rules and rng.random() < 0.5:  # a literal, maybe in other case
                    literal = rng.choice(list(literal_rules[field]))
                    pieces.insert(rng.randint(0, len(pieces)), literal.upper() if folded and rng.random() < 0.5
                                  else literal)
                values.append("".join(pieces))
            columns[field] = pl.Series(values, dtype=pl.String)
        folded_columns = ({f: c.map_elements(lambda v: "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in v),
                                             return_dtype=pl.String) for f, c in columns.items()}
                          if folded else columns)
        expected = _reference_pairs(literal_rules, folded_columns)
        prefilter = native.Prefilter(literal_rules, folded=folded)
        engaged += sum(1 for w in prefilter.windows.values() if w)
        assert [bool(w) and simd for w in prefilter.windows.values()] == prefilter.simd
        assert set(_prefilter_pairs(prefilter, columns)) == expected
        seen += len(expected)
    assert engaged > 300 and seen > 500
    assert native.Prefilter({"F": {"abcd": [0], "abcdefgh": [1]}}).windows == {"F": 0}  # a literal too short
    assert native.Prefilter({"F": {f"lit{i:04d}": [i] for i in range(129)}}).windows == {"F": 0}  # too many
    assert native.Prefilter({"F": {"abcdefgh": [0], "xyz12": [1]}}).windows == {"F": 5}


@pytest.mark.parametrize("folded", [False, True])
def test_the_skip_search_finds_literals_at_every_offset_of_long_values(folded: bool, simd: bool) -> None:
    """Values of hundreds of bytes (the keyword text is ~770 a Windows event): a literal at every
    offset, across the SIMD search's 32-byte steps and in its zero-padded rest, and up to
    128 literals in its eight buckets, some sharing their first three bytes."""
    rng = random.Random(3)
    for count in (1, 5, 9, 40, 128):
        literals = {f"{rng.choice(['mim', 'sek', 'p::', 'lsa'])}{i:03d}{'x' * rng.randint(0, 9)}": [i % 7]
                    for i in range(count)}
        prefilter = native.Prefilter({"F": literals}, folded=folded)
        assert prefilter.windows["F"] == min(map(len, literals)) and prefilter.simd == [simd]
        values: list[str | None] = []
        for length in (5, 6, 31, 33, 34, 35, 63, 64, 65, 66, 97, 300):
            for _ in range(20):
                literal = rng.choice(list(literals))
                if len(literal) > length:
                    continue
                at = rng.randint(0, length - len(literal))
                shown = literal.upper() if folded and rng.random() < 0.5 else literal
                filler = "".join(rng.choice("abcxyz:P0 ") for _ in range(length))
                values.append(filler[:at] + shown + filler[at + len(literal):])
            values.append("m" * length)
        values.append(None)
        column = pl.Series(values, dtype=pl.String)
        text = column.str.to_lowercase() if folded else column
        expected = _reference_pairs({"F": literals}, {"F": text})
        assert set(_prefilter_pairs(prefilter, {"F": column})) == expected
        assert len({row for _, row in expected}) >= 200


def test_prefilter_conjuncts_keep_the_rows_holding_a_literal_of_each_set() -> None:
    """A rule with a second necessary set of literals (numbered after the rules) is a candidate
    only on rows where a literal of each set was found, in any of the fields; the second sets'
    numbers are never reported; rules without one are as before.  Small blocks of rows too."""
    rng = random.Random(23)
    seen = dropped = 0
    for spread in (1, 1000):
        for _ in range(120):
            literal_rules = {field: {literal: [r * spread for r in rules] for literal, rules in literals.items()}
                             for field, literals in _literal_map(rng).items()}
            found = {r for literals in literal_rules.values() for rules in literals.values() for r in rules}
            conjuncts: dict[int, int] = {}
            for rule in sorted(found):
                if rng.random() < 0.6:
                    conjuncts[rule] = number = 20 * spread + len(conjuncts)
                    for _ in range(rng.randint(1, 3)):
                        field = rng.choice(PREFILTER_FIELDS)
                        literal = "".join(rng.choice(PREFILTER_PIECES) for _ in range(rng.randint(1, 2)))
                        literal_rules.setdefault(field, {}).setdefault(literal, []).append(number)
            height = rng.randint(0, 200 if spread == 1 else 700)
            columns = {field: _prefilter_column(rng, height) for field in PREFILTER_FIELDS if rng.random() < 0.9}
            reference = _reference_pairs(literal_rules, columns)
            expected = {(r, row) for r, row in reference if r in found
                        and (r not in conjuncts or (conjuncts[r], row) in reference)}
            dropped += sum(1 for r, _ in reference if r in found) - len(expected)
            for dense_bytes in (1, native.PREFILTER_DENSE_BYTES):
                prefilter = native.Prefilter(literal_rules, dense_bytes=dense_bytes, conjuncts=conjuncts)
                assert set(_prefilter_pairs(prefilter, columns)) == expected
            seen += len(expected)
    assert seen > 1000 and dropped > 1000


def test_prefilter_conjuncts_that_cannot_be_kept_are_refused() -> None:
    literal_rules = {"Image": {"ab": [0, 1], "cd": [5]}, "User": {"zz": [6, 7]}}
    assert native.Prefilter(literal_rules, conjuncts={0: 5, 1: 6}).fields == ["Image", "User"]
    shared = native.Prefilter(literal_rules, conjuncts={0: 5, 1: 5})  # two rules may share a second set
    assert _prefilter_pairs(shared, {"Image": pl.Series(["ab", "abcd", "cd"])}) == [(0, 1), (1, 1)]
    for conjuncts, why in (({0: 4}, "number 4"), ({0: 9}, "number 9"), ({0: 0}, "numbers"),
                           ({0: 5, 5: 6}, "numbers"), ({5: 6, 0: 5}, "numbers"), ({0: 5, 6: 0}, "numbers")):
        with pytest.raises(ValueError, match=why):
            native.Prefilter(literal_rules, conjuncts=conjuncts)


def test_a_program_is_compiled_once_and_says_why_it_cannot_be() -> None:
    detection = Or((Pred("CommandLine", "contains", ("whoami",)), Pred("Image", "endswith", ("\\cmd.exe",))))
    program = native.compile_program(detection)
    command, image = lower_name("CommandLine"), lower_name("Image")  # (tests of any case read those)
    assert isinstance(program, native.Program) and program.columns == (command, image)
    assert native.compile_program(Pred(None, "contains", ("x",))) == "unsupported: keyword"
    matcher = Matcher()
    assert matcher.add(detection, {image: 0, command: 1}.__getitem__, program) == 0
    assert matcher.add(detection, {image: 0, command: 1}.__getitem__, "unsupported: keyword") is None
    assert matcher.add(Pred(None, "contains", ("x",)), {}.__getitem__) is None
    columns = [pl.Series(["c:\\windows\\cmd.exe", "x.exe", None, "y.exe"]),
               pl.Series(["dir", "whoami /all", "whoami", "dir"])]
    pairs = pl.Series([0, 0, 0, 0], dtype=pl.UInt32), pl.Series([0, 1, 2, 3], dtype=pl.UInt32)
    assert matcher.run(columns, *pairs).to_list() == [True, True, True, False]
    # the program is not changed by numbering its columns: a second engine numbers them anew
    again = Matcher()
    again.add(detection, {command: 0, image: 1}.__getitem__, program)
    assert again.run(columns[::-1], *pairs).to_list() == [True, True, True, False]
    assert program == native.compile_program(detection)
