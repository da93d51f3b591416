"""The engine's evaluation paths agree: whole-union selects, per-rule gathered rows, generated Python
tests, collapsed OR lists.

``SigmaEngine`` evaluates a rule with necessary literals either together with the group's other
candidate rules over the union of their candidate rows, alone over its own candidate rows (large
batches, ``gather_min_skipped``), or, with few candidate rows, as a generated Python function
(``python_max_rows``).  All must give exactly the same hits, on real data.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from autosoc.detect.sigma import engine
from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.exprs import rust_escape, to_expr
from autosoc.detect.sigma.ir import Or, Pred
from autosoc.detect.sigma.loader import load_rules
from autosoc.ingest.files import read_files
from autosoc.normalize import normalize
from autosoc.schema import EventBatch
from tests.conftest import REPO

RULE_SETS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


def _one_batch(paths: list[Path]) -> EventBatch:
    """Every sample in one batch (as ``hunt`` coalesces small files), so groups see many rows."""
    batches = [b for raw in read_files(paths) for b in normalize(raw) if len(b)]
    windows = [b for b in batches if b.events["family"][0] == "windows"]
    return EventBatch(pl.concat([b.events for b in windows]), pl.concat([b.raw for b in windows], how="diagonal"))


@pytest.fixture(scope="module")
def rules(sigma_dir: Path) -> list:
    return load_rules([sigma_dir / name for name in RULE_SETS], cache_dir=REPO / ".autosoc-cache").rules


@pytest.mark.parametrize("kind", ["json", "evtx"])
def test_gathered_and_shared_paths_fire_identically(rules: list, regression_dir: Path, kind: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _one_batch(sorted(regression_dir.rglob(f"*.{kind}")))
    assert batch.raw.height > 200
    gathered = SigmaEngine(rules, gather_min_skipped=0, python_max_rows=0, prefilter_python_max_rows=0).evaluate(batch)
    # large rules run their prebuilt expressions over their own rows instead of being rebuilt: both ways
    monkeypatch.setattr(engine, "GATHER_MAX_PREDS", 10**9)
    rebuilt = SigmaEngine(rules, gather_min_skipped=0, python_max_rows=0, prefilter_python_max_rows=0).evaluate(batch)
    monkeypatch.setattr(engine, "GATHER_MAX_PREDS", 0)
    taken = SigmaEngine(rules, gather_min_skipped=0, python_max_rows=0, prefilter_python_max_rows=0).evaluate(batch)
    monkeypatch.undo()
    shared = SigmaEngine(rules, gather_min_skipped=10**9, python_max_rows=0,
                         prefilter_python_max_rows=0).evaluate(batch)
    # every rule it can compile as a Python test, the prefilter in Python
    python = SigmaEngine(rules, python_max_rows=10**9, prefilter_python_max_rows=10**9).evaluate(batch)
    as_map = {(r.id, r.path): rows for r, rows in shared}
    assert {(r.id, r.path): rows for r, rows in gathered} == as_map
    assert {(r.id, r.path): rows for r, rows in rebuilt} == as_map
    assert {(r.id, r.path): rows for r, rows in taken} == as_map
    assert {(r.id, r.path): rows for r, rows in python} == as_map
    assert len(as_map) > 150  # most regression rules fire on their samples
    signals = SigmaEngine(rules, gather_min_skipped=0).detect(batch)
    assert len(signals) == sum(len(rows) for rows in as_map.values())


@pytest.mark.parametrize("kind", ["json", "evtx"])
def test_selectors_per_combination_pick_the_same_rows(rules: list, regression_dir: Path, kind: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The logsource selectors run once per combination of the values they read (large batches)
    or over every row: the same groups, the same rows, the same hits."""
    batch = _one_batch(sorted(regression_dir.rglob(f"*.{kind}")))
    monkeypatch.setattr(engine, "SELECTOR_COMBINATIONS_MIN_ROWS", 10**9)
    every_row = SigmaEngine(rules)
    want = every_row.evaluate(batch)
    monkeypatch.setattr(engine, "SELECTOR_COMBINATIONS_MIN_ROWS", 0)
    per_combination = SigmaEngine(rules)
    assert per_combination.evaluate(batch) == want
    assert per_combination._truths  # kept: the next batch's combinations are looked up
    assert per_combination.evaluate(batch) == want
    assert len(want) > 150
    monkeypatch.setattr(engine, "SELECTOR_TRUTHS_MAX", 1)  # forgotten on every batch: still the same
    forgetting = SigmaEngine(rules)
    assert forgetting.evaluate(batch) == want and forgetting.evaluate(batch) == want
    frame = pl.DataFrame({
        "Channel": ["Security", "security", None, "Microsoft-Windows-Sysmon/Operational", "System", "Security"],
        "EventID": ["4688", "4624", "1", "1", None, "4688"],
        engine.FAMILY_COLUMN: ["windows", "windows", "windows", "windows", None, "linux"],
    })
    frame = engine.with_columns(frame, every_row._selector_fields, every_row._selector_lowered)
    monkeypatch.setattr(engine, "SELECTOR_COMBINATIONS_MIN_ROWS", 10**9)
    direct = every_row._masks(frame)
    monkeypatch.setattr(engine, "SELECTOR_COMBINATIONS_MIN_ROWS", 0)
    for _ in range(2):  # the truths worked out, then looked up
        combined = every_row._masks(frame)
        assert [m is None for m in combined] == [m is None for m in direct]
        assert [m.to_list() for m in combined if m is not None] == [m.to_list() for m in direct if m is not None]
    # "" is not a null, though both are no channel for a selector
    blank = frame.with_columns(pl.Series("Channel", ["", None, "", None, "", None]))
    nothing = [False] * blank.height
    assert [nothing if m is None else m.fill_null(False).to_list() for m in every_row._masks(blank)] == [
        m.fill_null(False).to_list() for m in blank.select(
            [g.selector.alias(str(i)) for i, g in enumerate(every_row._groups)]).iter_columns()]
    assert sum(m is not None for m in direct) >= 3  # security, sysmon process creation, the any-windows groups


def test_gathered_path_with_duplicate_rows() -> None:
    """Identical rows are evaluated once and fan out to every batch row they stand for."""
    from autosoc.detect.sigma.testing import match

    rule = """
title: t
id: 5c1a7bd4-0000-4000-8000-000000000001
status: test
logsource: {product: windows, category: process_creation}
detection:
    sel: {Image|endswith: ['\\a.exe', '\\b.exe'], CommandLine|contains: 'x'}
    flt: {CommandLine|contains: 'skip'}
    condition: sel and not flt
level: low
"""
    events = [{"Image": "C:\\A.exe", "CommandLine": "x"}] * 3 + [{"Image": "C:\\b.exe", "CommandLine": "x skip"},
                                                                 {"Image": "C:\\c.exe", "CommandLine": "x"}]
    assert match(rule, events) == [True, True, True, False, False]


def test_the_distinct_step_is_skipped_after_a_batch_of_distinct_rows(rules: list, regression_dir: Path) -> None:
    """A group whose rows were nearly all distinct skips the distinct step for the next batches, and
    a skipped step changes no hit; a group of repeated rows keeps it."""
    batch = _one_batch(sorted(regression_dir.rglob("*.json")))
    varied = SigmaEngine(rules)
    first = varied.evaluate(batch)
    skipping = [g for g in varied._groups if g.distinct_skips == engine.DISTINCT_SKIPS]
    assert skipping, "no group of the regression samples has mostly distinct rows"
    assert varied.evaluate(batch) == first  # the step skipped
    assert all(g.distinct_skips == engine.DISTINCT_SKIPS - 1 for g in skipping)
    repeated = EventBatch(pl.concat([batch.events] * 3), pl.concat([batch.raw] * 3))
    fresh = SigmaEngine(rules)
    hits = fresh.evaluate(repeated)
    assert all(g.distinct_skips == 0 for g in fresh._groups)  # a third of the rows distinct: kept
    height = batch.raw.height
    assert {(r.id, r.path): [row for row in rows if row < height] for r, rows in hits} == {
        (r.id, r.path): rows for r, rows in first}


def test_globs_and_regexes_prefilter_the_rule_by_their_literal_runs() -> None:
    """A wildcard value's longest literal run, a regex's necessary literals: the rule runs on the rows
    holding one, and fires exactly where it would on every row."""
    from autosoc.detect.sigma.compiler import _MULTI, _SINGLE, _glob_regex
    from autosoc.detect.sigma.prefilter import required_literals
    from autosoc.detect.sigma.testing import match

    glob = _glob_regex(["whoami", _MULTI, ">", _SINGLE, "x"], cased=False, anchored=True)
    assert required_literals(Pred("CommandLine", "glob", (glob,))) == {("CommandLine", "whoami")}
    cased = _glob_regex(["WhoAmI", _MULTI, "\u00c9t\u00c9"], cased=True, anchored=True)
    assert required_literals(Pred("CommandLine", "glob", (cased,), True)) == {("CommandLine", "whoami")}
    assert required_literals(Pred("CommandLine", "glob", (_glob_regex(["a", _MULTI], False, True),))) is None
    assert required_literals(Pred("CommandLine", "re", (r"\s-c\s", ""), True)) == {("CommandLine", "-c")}
    assert required_literals(Pred("CommandLine", "re", ("(?=x)abc", ""), True)) is None  # not Rust: no literals
    rule = """
title: t
id: 5c1a7bd4-0000-4000-8000-000000000003
status: test
logsource: {product: windows, category: process_creation}
detection:
    sel: {CommandLine|contains: 'whoami*>'}
    rx: {CommandLine|re: 'net\\s+us[e]r'}
    condition: sel or rx
level: low
"""
    events = [{"CommandLine": c} for c in ["WHOAMI /all > x", "whoami", "net  user a", "NET USER", "x>whoami",
                                           "\u00e9 whoami\u00e9>", "net\u00a0user"]]
    assert match(rule, events) == [True, False, True, False, False, True, True]


def test_one_walk_gives_the_first_and_second_literal_sets_of_every_rule(rules: list) -> None:
    """literal_sets is required_literals and second_literals in one walk, on every SigmaHQ rule."""
    from autosoc.detect.sigma.prefilter import literal_sets, required_literals, second_literals

    seconds = 0
    for rule in rules:
        first = required_literals(rule.detection)
        second = None if first is None else second_literals(rule.detection, first)
        assert literal_sets(rule.detection) == (first, second), rule.path
        seconds += second is not None
    assert seconds > 500


def test_a_rule_of_two_conjuncts_is_a_candidate_only_where_a_literal_of_each_is() -> None:
    """The prefilter's second necessary set: another conjunct's literals (None without one), the
    rule a candidate where both sets hit, and it fires exactly where it would on every row."""
    from autosoc.detect.sigma.ir import And
    from autosoc.detect.sigma.prefilter import required_literals, second_literals
    from autosoc.detect.sigma.testing import match

    image = Or((Pred("Image", "endswith", ("\\rundll32.exe",)), Pred("Image", "endswith", ("\\regsvr32.exe",))))
    command = Pred("CommandLine", "contains", ("javascript:",))
    short = Pred("User", "contains", ("x",))  # one byte: no literal set
    both = And((image, And((command, short))))
    first = required_literals(both)
    assert first == {("Image", "\\rundll32.exe"), ("Image", "\\regsvr32.exe")}  # its shortest the longer
    assert second_literals(both, first) == {("CommandLine", "javascript:")}
    assert second_literals(And((command, short)), required_literals(command)) is None
    assert second_literals(Or((image, command)), required_literals(Or((image, command)))) is None
    rule = """
title: t
id: 5c1a7bd4-0000-4000-8000-000000000004
status: test
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: ['\\rundll32.exe', '\\regsvr32.exe']
        CommandLine|contains: 'javascript:'
    condition: sel
level: low
"""
    events = [{"Image": "C:\\W\\RUNDLL32.EXE", "CommandLine": "a JavaScript:x"},
              {"Image": "C:\\W\\rundll32.exe", "CommandLine": "a.dll,b"},
              {"Image": "C:\\W\\cmd.exe", "CommandLine": "javascript:"},
              {"Image": "C:\\W\\regsvr32.exe", "CommandLine": "javascript:"},
              {"CommandLine": "javascript: \\rundll32.exe"}]
    assert match(rule, events) == [True, False, False, True, False]


def test_one_character_non_ascii_literals_prefilter_the_rule() -> None:
    """An emoji or a right-to-left override is one character but several UTF-8 bytes: as selective
    as a word, so the rule runs only on rows holding it (SigmaHQ's emoji and RTLO rules), and still
    fires exactly where it did."""
    from autosoc.detect.sigma.ir import And
    from autosoc.detect.sigma.prefilter import required_literals
    from autosoc.detect.sigma.testing import match

    emoji, rtlo = "\U0001f600", "\u202e"
    assert required_literals(Or((Pred("CommandLine", "contains", (emoji,)), Pred("CommandLine", "contains", (rtlo,)))))
    assert required_literals(Pred("CommandLine", "contains", ("x",))) is None  # one ASCII byte: nearly every row
    assert required_literals(And((Pred("Image", "contains", ("x",)), Pred("CommandLine", "contains", (emoji,))))) == {
        ("CommandLine", emoji)}
    rule = f"""
title: t
id: 5c1a7bd4-0000-4000-8000-000000000002
status: test
logsource: {{product: windows, category: process_creation}}
detection:
    sel: {{CommandLine|contains: ['{emoji}', '{rtlo}']}}
    condition: sel
level: low
"""
    events = [{"CommandLine": f"cmd {emoji}"}, {"CommandLine": f"doc{rtlo}fdp.exe"}, {"CommandLine": "plain"},
              {"Image": "x"}]
    assert match(rule, events) == [True, True, False, False]


def test_a_rule_with_only_single_byte_literals_runs_in_polars_on_the_rows_holding_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule without necessary literals of two bytes but with single-byte ones (SigmaHQ's PowerShell
    token obfuscation: a backtick) is not prefiltered; where it runs in Polars (its regex too long a
    value for Python's engine) it runs on the rows holding one of them, with the same truth."""
    from autosoc.detect.sigma.ir import And, Not
    from autosoc.detect.sigma.prefilter import required_literals, weak_literals
    from autosoc.detect.sigma.testing import compile_yaml, match

    token = Pred("CommandLine", "re", (r"\w+`(?:\w+|-|.)`[\w+|\s]", ""), True)
    braces = Pred("CommandLine", "re", (r'"(?:\{\d\})+"\s*-f', ""), True)
    assert required_literals(token) is None and weak_literals(token) == {("CommandLine", "`")}
    assert weak_literals(Or((token, braces))) == {("CommandLine", "`"), ("CommandLine", "-f")}
    assert weak_literals(And((token, Pred("Image", "endswith", ("\\powershell.exe",))))) == {
        ("Image", "\\powershell.exe")}
    assert weak_literals(Not(token)) is None and weak_literals(Pred("CommandLine", "contains", ("",))) is None
    rule = r"""
title: t
id: 5c1a7bd4-0000-4000-8000-000000000005
status: test
logsource: {product: windows, category: process_creation}
detection:
    sel:
        - CommandLine|re: '\w+`(?:\w+|-|.)`[\w+|\s]'
        - CommandLine|re: '"(?:\{\d\})+"\s*-f'
    filter: {CommandLine|contains: 'benign'}
    condition: sel and not filter
level: low
"""
    pad = " x" * 60  # longer than Python's engine takes for the backtick pattern: Polars decides
    lines = [f"IN`V`o`Ke-eXp`ResSIOn{pad}", f"IN`V`o`Ke benign{pad}", f'"{{0}}{{1}}" -f {pad}', f"plain{pad}",
             f"one ` tick{pad}", "short`a`b", f"{{0}}{pad}"]
    runs: list[int] = []
    run = engine._run

    def counted(group: engine._Group, frame: pl.DataFrame, rules: list[int]) -> list:
        runs.append(frame.height)
        return run(group, frame, rules)

    monkeypatch.setattr(engine, "_run", counted)
    assert match(rule, [{"CommandLine": line} for line in lines]) == [True, False, True, False, False, True, False]
    built = SigmaEngine([compile_yaml(rule)])
    assert [group.weak for group in built._groups] == [{0: {"CommandLine": ["-f", "`"]}}]
    assert runs and max(runs) < len(lines)  # never every row: those without a backtick or "-f" are not run


@pytest.mark.parametrize("op", ["startswith", "endswith"])
@pytest.mark.parametrize("cased", [False, True])
def test_or_of_affixes_is_one_regex_with_the_same_truth(op: str, cased: bool) -> None:
    values = ["c:\\win", "a.b*c", "(x)|[y]", "^$", "#&-~", "ü", "", "{1,2}"]
    texts = ["c:\\windows", "A.B*C tail", "tail (x)|[y]", "^$", "x#&-~", "ÜBER über", None, "{1,2}", "plain"]
    column = "f" if cased else "__lc__f"
    frame = pl.DataFrame({column: [t if cased or t is None else t.lower() for t in texts]})
    preds = [Pred("f", op, (v,), cased) for v in values]
    collapsed = frame.select(to_expr(Or(tuple(preds))).alias("v"))["v"].to_list()
    one_by_one = [any((t.startswith(v) if op == "startswith" else t.endswith(v)) for v in values) if t is not None
                  else False for t in frame[column].to_list()]
    assert collapsed == one_by_one


def test_rust_escape_is_literal() -> None:
    text = "\\.+*?()|[]{}^$#&-~ a"
    frame = pl.DataFrame({"s": [text, "other"]})
    assert frame.select(pl.col("s").str.contains(f"^{rust_escape(text)}$"))["s"].to_list() == [True, False]


def test_columnar_ipv4_cidr_agrees_with_pythons_ipaddress() -> None:
    import ipaddress
    import random

    import polars as pl

    from autosoc.detect.sigma.exprs import ipv4_number

    rng = random.Random(7)
    values = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(300)]
    values += ["10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0", " 10.1.2.3", "01.2.3.4", "1.2.3",
               "::ffff:10.0.0.1", "fe80::1", "", "10.0.0.256", "host.example"]
    networks = ["10.0.0.0/8", "0.0.0.0/0", "192.168.0.0/16", "172.16.0.0/12", "1.2.3.4/32", "128.0.0.0/1"]
    numbers = pl.DataFrame({"ip": values}).select(ipv4_number(pl.col("ip"))).to_series().to_list()

    def parsed(value: str) -> ipaddress.IPv4Address | None:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return None
        return address if isinstance(address, ipaddress.IPv4Address) else None

    for cidr in networks:
        net = ipaddress.ip_network(cidr)
        for value, number in zip(values, numbers, strict=True):
            expected = (a := parsed(value)) is not None and a in net
            got = number is not None and int(net.network_address) <= number <= int(net.broadcast_address)
            assert got == expected, (cidr, value)


def test_origins_made_many_at_once_are_origins() -> None:
    from autosoc.errors import Origin

    made = Origin.many(["jsonl", "evtx"], ["/a", "/b"], [3, None])
    assert made == [Origin("jsonl", "/a", 3), Origin("evtx", "/b")]
    assert hash(made[0]) == hash(Origin("jsonl", "/a", 3)) and str(made[0]) == "/a:3"
    with pytest.raises(AttributeError):
        made[0].record = 4  # type: ignore[misc]


def test_keyword_rules_run_only_on_the_rows_their_literals_may_be_in() -> None:
    """A keyword group whose rules all have necessary literals looks for them in the fields' own
    text, ASCII case folded, and lower-cases the keyword text of those rows only; rows holding a
    character whose lower case is partly ASCII (U+212A KELVIN SIGN -> k, U+0130 -> i + dot) are kept,
    so the truth is the lower-cased text's."""
    from autosoc.detect.sigma.testing import match

    rule = """
title: t
id: 5c1a7bd4-0000-4000-8000-000000000004
status: test
logsource: {product: windows}
detection:
    keywords: ['sekurlsa::', 'gentilkiwi.com', 'mimilib.dll', 'eo.oe.kiwi']
    filter: {EventID: 15}
    condition: keywords and not filter
level: low
"""
    events = [{"EventID": 1, "CommandLine": "x SEKURLSA::logonpasswords"}, {"EventID": 1, "CommandLine": "nothing"},
              {"EventID": 15, "Data": "sekurlsa::"}, {"EventID": 1, "Url": "http://gentil\u212aiwi.com"},
              {"EventID": 1, "Image": "C:\\MIM\u0130LIB.DLL"}, {"EventID": 1, "Image": "C:\\MIM\u0131LIB.DLL"},
              {"EventID": 1, "Other": "\u00c9 mimilib.dll"}, {"EventID": 1, "A": "sekurl", "B": "sa::"},
              {"EventID": 1, "Image": "EO.OE.KIW\u0130"}]
    assert match(rule, events) == [True, False, False, True, False, False, True, False, True]


def test_a_folded_prefilter_matches_any_ascii_case() -> None:
    native = pytest.importorskip("autosoc.detect.sigma.native")
    if not native.NATIVE:
        pytest.skip("the C extension is not built or is switched off")
    gate = native.Prefilter({"CommandLine": {"mimikatz": [0], "\u00e9t\u00e9": [1]}}, folded=True)
    found = gate.run({"CommandLine": pl.Series(["MimiKatz.exe", "mimi", "\u00c9T\u00c9 \u00e9t\u00e9", None])})
    assert found is not None
    assert list(zip(found[0].to_list(), found[1].to_list(), strict=True)) == [(0, 0), (1, 2)]
    with pytest.raises(ValueError, match="A-Z"):
        native.Prefilter({"CommandLine": {"Mimikatz": [0]}}, folded=True)


def test_hits_are_grouped_by_rule_in_any_order_and_fan_out_distinct_rows() -> None:
    group = engine._Group(pl.lit(True), set(), set())
    group.rules = ["r0", "r1", "r2"]  # type: ignore[list-item]  # only looked up by number
    group.native_rules = [2, 0, 1]  # matcher number -> the group's rule
    nids = pl.Series([1, 0, 1, 2, 0], dtype=pl.UInt32)
    rows = pl.Series([7, 3, 2, 9, 1], dtype=pl.UInt32)
    assert sorted(engine._hits_by_rule(group, nids, rows)) == [("r0", [2, 7]), ("r1", [9]), ("r2", [1, 3])]
    nested = pl.Series([[8, 4], [3], [5, 1]], dtype=pl.List(pl.UInt32))
    assert engine._hits_by_rule(group, pl.Series([0, 0, 2], dtype=pl.UInt32), nested) == [
        ("r2", [3, 4, 8]), ("r1", [1, 5])]


def test_a_group_makes_the_address_columns_only_its_polars_tests_need() -> None:
    """Rules of one group, some of whose CIDRs the C matcher tests on the text and some (IPv6) it
    leaves to Polars, with and without literals: each fires where it does alone, on every path,
    the IPv4 numbers and IPv6 halves made only for the rules that read them."""
    from autosoc.detect.sigma.testing import _PATHS, compile_yaml, match
    from autosoc.schema import RawBatch

    detections = [
        "sel: {DestinationIp|cidr: ['10.0.0.0/8', '192.168.0.0/16']}\n    condition: sel",
        "sel: {DestinationIp|cidr: ['fe80::/10', '2001:db8::/32']}\n    condition: sel",
        "sel: {DestinationIp|cidr: '2001:db8::/32', Image|endswith: '\\\\curl.exe'}\n    condition: sel",
        "sel: {DestinationIp|cidr: '172.16.0.0/12', Image|endswith: '\\\\curl.exe'}\n    condition: sel",
        "sel: {Image|endswith: '\\\\nc.exe'}\n    condition: sel",
    ]
    texts = [f"title: t{i}\nid: 5c1a7bd4-0000-4000-8000-00000000010{i}\nstatus: test\n"
             f"logsource: {{category: network_connection, product: windows}}\ndetection:\n    {d}\nlevel: low\n"
             for i, d in enumerate(detections)]
    rules = [compile_yaml(text) for text in texts]
    ips = ["10.1.2.3", "192.168.5.5", "172.20.0.1", "fe80::1", "2001:db8::7", "8.8.8.8", "::1", "junk", None]
    images = ["C:\\Windows\\curl.exe", "C:\\Tools\\nc.exe", "C:\\x.exe"]
    events = [{"DestinationIp": ip, "Image": image} for _ in range(150) for ip in ips for image in images]
    events = [{k: v for k, v in e.items() if v is not None} for e in events]
    alone = [match(text, events) for text in texts]
    assert all(any(flags) for flags in alone)
    (batch,) = normalize(RawBatch("test", "<memory>", "json", events, list(range(1, len(events) + 1))))
    for options in _PATHS.values():
        fired = {rule.id: rows for rule, rows in SigmaEngine(rules, **options).evaluate(batch)}  # type: ignore[arg-type]
        for rule, flags in zip(rules, alone, strict=True):
            assert sorted(fired.get(rule.id, [])) == [i for i, hit in enumerate(flags) if hit], (rule.id, options)
