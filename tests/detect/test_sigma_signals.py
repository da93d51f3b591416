"""A batch's signals written as JSON lines from columns are, byte for byte, the signals built as
objects and dumped one by one; counting and level filtering agree with the objects too."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest

from autosoc.detect.sigma import signals as signals_module
from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.ir import Const, Pred
from autosoc.detect.sigma.loader import load_rules
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.detect.sigma.signals import SignalBatch, build_signals, count_key, sigma_jsonl
from autosoc.ingest.files import read_files
from autosoc.normalize import fields as F
from autosoc.normalize import normalize
from autosoc.schema import EventBatch, Signal
from tests.conftest import REPO


def _dumped(signals: list[Signal]) -> bytes:
    return b"".join(orjson.dumps(s.as_dict()) + b"\n" for s in signals)


WRITERS = ["c", "polars"]


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the JSON lines written in C (``_lines``) and in Polars."""
    if request.param == "c" and signals_module._lines is None:
        pytest.skip("the _lines C extension is not built (no C compiler at install)")
    monkeypatch.setattr(signals_module, "NATIVE", request.param == "c")
    return str(request.param)


def _rule(rule_id: str, fields: tuple[str, ...], level: str = "high", title: str = "",
          tags: tuple[str, ...] = ("attack.execution", "attack.t1059.001")) -> CompiledRule:
    return CompiledRule(id=rule_id, title=title or f"rule {rule_id}", level=level, status="test", tags=tags,
                        path=f"/rules/{rule_id}.yml", selector=Const(True),
                        detection=Pred(fields[0] if fields else None, "exists", (True,)), fields=fields,
                        description="d")


def _batch() -> EventBatch:
    """Rows with what JSON makes hard: quotes, backslashes, control characters, non-ASCII and
    astral text, nulls, empty strings, numbers and booleans, remote hosts, a CloudTrail principal."""
    n = 6
    times = [datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2025, 1, 2, 3, 4, 5, 120, tzinfo=UTC), None,
             datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC),
             datetime(2030, 1, 1, 0, 0, 0, 1, tzinfo=UTC)]
    events = pl.DataFrame({
        F.EVENT_ID: [f"{i:032x}" for i in range(n)],
        F.ORIGIN_SOURCE: ["jsonl", "evtx", "jsonl", "cloudtrail", "syslog", "jsonl"],
        F.ORIGIN_PATH: ["/logs/a b.jsonl", 'C:\\logs\\"q".evtx', "/logs/ü.jsonl", "/ct/x.json.gz", "/var/log/auth",
                        "/l"],
        F.ORIGIN_RECORD: [1, 2, None, 4, 5, 6],
        F.TIME: pl.Series(times, dtype=pl.Datetime("us", "UTC")),
        F.HOST: ["WS-1", None, "hôte\u2028", "", "h\x01", "🐍"],
        F.USER: ['CORP\\al"ice', None, "bob", "arn:aws:iam::1:user/x", "", "ユーザー"],
        F.FAMILY: ["windows", "windows", "windows", "cloudtrail", "syslog", "windows"],
        F.USER_UID: [None, "S-1-5-18", None, "AIDAEXAMPLE", None, "x"],
        F.SRC_IP: ["10.0.0.1", None, "", "1.2.3.4", None, "::1"],
        F.DST_IP: ["10.0.0.1", "192.168.1.1", None, None, None, None],
        F.APP_NAME: [None, None, "Graph Explorer", None, None, None],
        F.PROCESS_CMD: [r"sc.exe \\FS-01 create upd", "wmic /node:\"WS-9\" process call create calc", None,
                        r"net use \\10.0.0.5\c$ & psexec \\FS-01 \\localhost", "cmd /c dir", "x\ny\t\"z\\"],
    })
    raw = pl.DataFrame({
        "CommandLine": events[F.PROCESS_CMD],
        "Image": ["C:\\Windows\\System32\\sc.exe", None, "", "ü\x7f", "\x00nul", "𝔘"],
        "Count": pl.Series([5, None, -1, 0, 2**40, 7], dtype=pl.Int64),
        "Ratio": pl.Series([0.5, 1.0, None, 1e20, -0.0, 3.25], dtype=pl.Float64),
        "Flag": pl.Series([True, False, None, True, False, None], dtype=pl.Boolean),
        "Empty": pl.Series([None] * n, dtype=pl.String),
    })
    return EventBatch(events, raw)


def test_jsonl_is_the_signals_dumped_one_by_one_on_awkward_values(writer: str) -> None:
    batch = _batch()
    fired = [
        (_rule("r1", ("CommandLine", "Image", "Count", "Image")), [0, 1, 2, 3, 4, 5]),
        (_rule("r2", ("Ratio", "Flag", "Empty", "NotInBatch"), level="low", tags=()), [5, 1, 1, 3]),
        (_rule("r3", (), level="critical", title='quote " and \\ and ü'), [2]),
        (_rule("r4", ("Empty",), level="informational"), [0, 4]),
        (_rule("r5", ("Flag",)), []),
    ]
    signals = build_signals(batch, fired)
    assert len(signals) == 13
    assert sigma_jsonl(batch, fired) == _dumped(signals)
    lines = [orjson.loads(line) for line in sigma_jsonl(batch, fired).splitlines()]
    assert lines[0]["entities"] == ["ip:10.0.0.1", "ip:10.0.0.1", "host:FS-01"]
    assert lines[3]["entities"] == ["ip:1.2.3.4", "ip:10.0.0.5", "host:FS-01", "cloud_principal:AIDAEXAMPLE"]
    assert lines[0]["time"] == "2025-01-02T03:04:05+00:00" and lines[1]["time"] == "2025-01-02T03:04:05.000120+00:00"
    assert lines[2]["time"] is None and lines[2]["origins"] == [{"source": "jsonl", "path": "/logs/ü.jsonl",
                                                                  "record": None}]
    assert lines[6]["matched"] == {"Ratio": "3.25"} and lines[7]["matched"] == {"Ratio": "1.0", "Flag": "False"}
    assert lines[11]["matched"] == {} and lines[12]["matched"] == {}


def test_jsonl_escapes_long_values_at_every_offset_as_orjson_does(writer: str) -> None:
    """Values of up to 100 characters with a quote, a backslash, a control character or non-ASCII
    text at any offset (the C writer tests 16 bytes at a time, then 8, then one): byte for byte
    what orjson writes."""
    rng = random.Random(7)
    awkward = ['"', "\\", "\x00", "\x1f", "\n", "\x7f", "é", "😀", "\u2028", " ", "a", "Z", "0", "~"]
    values: list[str | None] = []
    for length in range(101):
        plain = "".join(rng.choice("abcXYZ019 -_.:/") for _ in range(length))
        values.append(plain)
        for _ in range(3):
            at = rng.randint(0, length)
            values.append(plain[:at] + rng.choice(awkward) + plain[at:])
        values.append("".join(rng.choice(awkward) for _ in range(length)))
    n = len(values)
    events = pl.DataFrame({
        F.EVENT_ID: [f"{i:032x}" for i in range(n)], F.ORIGIN_SOURCE: ["jsonl"] * n, F.ORIGIN_PATH: ["/l"] * n,
        F.ORIGIN_RECORD: list(range(n)), F.TIME: pl.Series([None] * n, dtype=pl.Datetime("us", "UTC")),
        F.HOST: values[::-1], F.USER: values, F.FAMILY: ["windows"] * n, F.USER_UID: values,
        **{name: pl.Series([None] * n, dtype=pl.String) for name in (F.SRC_IP, F.DST_IP, F.APP_NAME)},
        F.PROCESS_CMD: values,
    })
    batch = EventBatch(events, pl.DataFrame({"CommandLine": values, "Image": values[::-1]}))
    fired = [(_rule("r1", ("CommandLine", "Image")), list(range(n)))]
    assert sigma_jsonl(batch, fired) == _dumped(build_signals(batch, fired))


def test_a_signal_batch_counts_filters_and_builds_like_its_objects(writer: str) -> None:
    batch = _batch()
    fired = [(_rule("r1", ("CommandLine",)), [0, 3]), (_rule("r2", ("Image",), level="low"), [1, 2, 5]),
             (_rule("r3", (), level="medium"), [])]
    extra = [Signal("c1", "correlated", "critical", "test", ["attack.t1110"], ["e"], [], detector="sigma_correlation")]
    signals = SignalBatch(batch, fired, extra)
    built = build_signals(batch, fired) + extra
    assert len(signals) == 6 and list(signals) == built and signals[-1] is extra[0] and signals[1:3] == built[1:3]
    assert signals.counts() == Counter((s.rule_id, s.title, s.level, s.detector, tuple(s.tags)) for s in built)
    assert signals.counts() == Counter(map(count_key, built))
    assert signals.jsonl() == _dumped(built)
    high = signals.at_least("medium")
    assert [s.rule_id for s in high] == ["r1", "r1", "c1"] and high.jsonl() == _dumped([built[0], built[1], extra[0]])
    assert signals.at_least("informational") is signals
    more = Signal("c2", "late", "low", "test", [], ["f"], [])
    signals.extend([more])
    assert len(signals) == 7 and signals[-1] is more and signals.jsonl().endswith(orjson.dumps(more.as_dict()) + b"\n")
    assert len(SignalBatch(None, [])) == 0 and SignalBatch(None, []).jsonl() == b""
    with pytest.raises(ValueError, match="need the batch"):
        SignalBatch(None, fired)


def test_columns_of_other_types_are_written_as_their_objects_dump_them(writer: str) -> None:
    """A host that is a number, times that are all null or naive, a record that is text: the C
    writer leaves such batches to Polars, and both give what the objects give."""
    base = _batch()
    rule = _rule("r1", ("CommandLine", "Count"))
    variants = [
        base.events.with_columns(pl.Series(F.HOST, [1, None, 3, 4, 5, 6], dtype=pl.Int64)),
        base.events.with_columns(pl.Series(F.TIME, [None] * 6, dtype=pl.Null)),
        base.events.with_columns(pl.col(F.TIME).dt.replace_time_zone(None)),
        base.events.with_columns(pl.col(F.ORIGIN_RECORD).cast(pl.String)),
        base.events.with_columns(pl.Series(F.USER, [None] * 6, dtype=pl.Null)),
        base.events.with_columns(pl.Series(F.TIME, [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59,
                                                                                               999999, tzinfo=UTC)] * 3,
                                           dtype=pl.Datetime("us", "UTC"))),
    ]
    for events in variants:
        batch = EventBatch(events, base.raw)
        fired = [(rule, [0, 1, 2, 3, 4, 5])]
        assert sigma_jsonl(batch, fired) == _dumped(build_signals(batch, fired)), events.schema


def test_a_large_batch_is_written_a_piece_at_a_time(writer: str) -> None:
    n = 3000
    events = pl.DataFrame({
        F.EVENT_ID: [f"{i:032x}" for i in range(n)], F.ORIGIN_SOURCE: ["jsonl"] * n, F.ORIGIN_PATH: ["/l.jsonl"] * n,
        F.ORIGIN_RECORD: list(range(n)),
        F.TIME: pl.Series([datetime(2025, 1, 1, tzinfo=UTC)] * n, dtype=pl.Datetime("us", "UTC")),
        F.HOST: ["h"] * n, F.USER: ["u"] * n, F.FAMILY: ["windows"] * n, F.USER_UID: [None] * n,
        F.SRC_IP: [None] * n, F.DST_IP: [None] * n, F.APP_NAME: [None] * n, F.PROCESS_CMD: ["cmd"] * n,
    }, schema_overrides={F.USER_UID: pl.String, F.SRC_IP: pl.String, F.DST_IP: pl.String, F.APP_NAME: pl.String})
    raw = pl.DataFrame({"CommandLine": [f"powershell -enc {'A' * 300}{i}" for i in range(n)]})
    batch = EventBatch(events, raw)
    fired = [(_rule(f"r{k}", ("CommandLine",)), list(range(k, n, 2))) for k in range(2)]
    pieces: list[bytes] = []
    written = SignalBatch(batch, fired).write_jsonl(pieces.append)
    assert b"".join(pieces) == _dumped(build_signals(batch, fired)) and written == sum(map(len, pieces))
    if writer == "c":
        assert len(pieces) > 1 and all(len(p) < 2 << 20 for p in pieces)  # about a megabyte each


def test_the_c_blake2b_is_hashlibs() -> None:
    import hashlib
    import random

    if signals_module._lines is None:
        pytest.skip("the _lines C extension is not built (no C compiler at install)")
    rng = random.Random(3)
    for length in [0, 1, 5, 63, 64, 127, 128, 129, 255, 256, 257, 1000, 4096]:
        for _ in range(5):
            data = rng.randbytes(length)
            for size in (1, 12, 32, 64):
                assert signals_module._lines.blake2b(data, size) == hashlib.blake2b(data, digest_size=size).digest()


@pytest.mark.parametrize("kind", ["json", "evtx"])
def test_jsonl_is_the_signals_dumped_one_by_one_on_the_regression_samples(sigma_dir: Path, regression_dir: Path,
                                                                           kind: str, writer: str) -> None:
    rules = load_rules([sigma_dir / "rules"], cache_dir=REPO / ".autosoc-cache").rules
    engine = SigmaEngine(rules)
    read = [b for raw in read_files(sorted(regression_dir.rglob(f"*.{kind}"))) for b in normalize(raw) if len(b)]
    families: dict[str, list[EventBatch]] = {}
    for b in read:  # as hunt coalesces small files: many rows, the raw columns of many sources
        families.setdefault(b.events[F.FAMILY][0], []).append(b)
    batches = [EventBatch(pl.concat([b.events for b in same], how="diagonal_relaxed"),
                          pl.concat([b.raw for b in same], how="diagonal_relaxed")) for same in families.values()]
    total = 0
    for batch in batches:
        signals = engine.detect_batch(batch)
        total += len(signals)
        assert signals.jsonl() == _dumped(list(signals)), batch.raw.height
    assert total > 150


def test_remote_computers_named_on_a_command_line_become_entities() -> None:
    from autosoc.detect.sigma.signals import remote_hosts
    from autosoc.schema import Entity

    assert remote_hosts(r"sc.exe \\FS-01 create upd binPath= C:\Windows\t.exe") == [Entity("host", "FS-01")]
    assert remote_hosts(r"PsExec.exe -accepteula \\sql-01.corp.example -s cmd") == [
        Entity("host", "sql-01.corp.example")]
    assert remote_hosts(r"net use \\10.0.0.5\c$ /user:x") == [Entity("ip", "10.0.0.5")]
    assert remote_hosts('wmic /node:"WS-1" process call create calc') == [Entity("host", "WS-1")]
    assert remote_hosts("Invoke-Command -ComputerName DC01 -ScriptBlock {whoami}") == [Entity("host", "DC01")]
    for local in (r"copy a \\localhost\c$\b", r"type \\?\C:\x", r"echo > \\.\pipe\p", "cmd /c dir C:\\"):
        assert remote_hosts(local) == []


def test_the_remote_host_hint_passes_every_command_line_that_names_a_computer() -> None:
    """Signals only run :func:`remote_hosts` on command lines the (Rust) hint matches: the hint must
    match every line the Python regex finds a computer in, whatever the case or the neighbours."""
    import random

    from autosoc.detect.sigma.signals import _REMOTE_HINT, _REMOTE_HINT_EXACT, remote_hosts

    rng = random.Random(5)
    pieces = ["\\\\", "\\", "/node:", "/NODE:", "-ComputerName ", "-computername:", "-r:", "-R:", "-remote:",
              "-Remote:", "'", '"', " ", "=", "FS-01", "10.0.0.5", "a", "Z9.corp", "-", ".", ":", "http://", "k",
              # what stands before a UNC name: every whitespace of Python's \s (U+001C..U+001F are not
              # Unicode's) and what is not; letters that only match [A-Za-z] ignoring case (Kelvin, long s)
              "\t", "\n", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000", "\u180e", "\u200b", "C:",
              "\u212a", "\u017f", "x\\\\"]
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(40000)]
    column = pl.Series(lines)
    hinted = (column.str.contains(_REMOTE_HINT) & column.str.contains(_REMOTE_HINT_EXACT)).to_list()
    named = [bool(remote_hosts(line)) for line in lines]
    assert sum(named) > 1000  # the generator does produce such lines
    assert all(hint for hint, found in zip(hinted, named, strict=True) if found)
    # the second search passes fewer: a path's doubled backslashes are not a UNC name
    paths = pl.Series(["C:\\\\Windows\\\\x.exe", "reg add HKLM\\\\Software", "net use \\\\fs-01\\c$"])
    assert paths.str.contains(_REMOTE_HINT).to_list() == [True, True, True]
    assert paths.str.contains(_REMOTE_HINT_EXACT).to_list() == [False, False, True]


def test_signal_times_are_the_datetimes_polars_gives() -> None:
    from autosoc.detect.sigma.signals import _datetimes

    column = pl.Series([0, 1_735_689_600_123_456, None, -1], dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    assert _datetimes(column) == column.to_list()
    assert [t.isoformat() if t else t for t in _datetimes(column)] == [
        t.isoformat() if t else t for t in column.to_list()]
    naive = column.cast(pl.Datetime("ms"))
    assert _datetimes(naive) == naive.to_list()


@pytest.mark.parametrize("count", [1, 3, 4, 5, 9, 13])
def test_signal_ids_across_the_one_block_edge_and_partly_filled_lanes(writer: str, count: int) -> None:
    """The C writer hashes one-block signal ids (detector + rule id + event id up to 128 bytes) four
    or eight at a time and longer ones alone: rule ids of every length around the edge, mixed,
    any number of signals, each id the one ``Signal.signal_id`` gives."""
    batch = _batch()
    rows = [i % batch.events.height for i in range(count)]
    # "sigma" (5) + the rule id + a 32-digit event id: 126, 127, 128 (one block), 129, 200 bytes
    fired = [(_rule("r" * length, ("Image",)), rows[k % 2::2] or rows)
             for k, length in enumerate((89, 163, 90, 91, 92, 36))]
    signals = build_signals(batch, fired)
    assert sigma_jsonl(batch, fired) == _dumped(signals)
    assert len({s.signal_id for s in signals}) == len({(s.rule_id, s.event_ids[0]) for s in signals}) > 1
