"""The C flatten (``autosoc.normalize._flatten``) against the pure-Python reference in flatten.py.

Same output, compared strictly (``repr`` of the item list: key order, value types and values), and
the same exception types where the reference raises.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from autosoc.ingest.jsonl import split_json
from autosoc.normalize import flatten

native = flatten._native
needs_native = pytest.mark.skipif(
    native is None,
    reason="the C extension autosoc.normalize._flatten was not built (no C compiler at install time?): "
    "only the pure-Python flatten is in use",
)

Outcome = tuple[str, Any]


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """What a call gives: its result in a strict, comparable form, or the type of what it raised."""
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:  # both implementations must fail the same way
        return "raises", type(exc)
    if type(result) is dict:
        return "dict", repr(list(result.items()))
    return "value", repr(result)


def same(record: Any) -> None:
    assert native is not None
    for name in ("flatten_windows", "flatten_dotted"):
        got = outcome(getattr(native, name), record)
        want = outcome(getattr(flatten, f"_py_{name}"), record)
        assert got == want, f"{name} differs on {record!r}"


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc") or shutil.which("gcc")


#: every optional C extension setup.py builds
EXTENSIONS = ("autosoc.normalize._flatten", "autosoc.normalize._columns", "autosoc.normalize._decode",
              "autosoc.detect.sigma._match", "autosoc.detect.sigma._lines", "autosoc.detect.sigma._lower")


@pytest.mark.parametrize("module", EXTENSIONS)
def test_the_extension_is_built_where_a_compiler_is(module: str) -> None:
    compiler = _compiler()
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if compiler:
            pytest.fail(
                f"{module} did not build or import although a C compiler is here ({compiler}): {exc}; "
                "rebuild it with `.venv/bin/python -m pip install -e .` (scripts/bootstrap does on a change of "
                "setup.py or of a C source or header) and read the compiler errors in its output"
            )
        pytest.skip("no C compiler: the pure-Python code serves, as intended")


def test_setup_builds_every_extension_listed_here() -> None:
    setup = (Path(__file__).parents[2] / "setup.py").read_text()
    sources = sorted(p.relative_to(Path(__file__).parents[2] / "src").with_suffix("").as_posix().replace("/", ".")
                     for p in (Path(__file__).parents[2] / "src").rglob("_*.c"))
    assert sources == sorted(EXTENSIONS)
    for module in EXTENSIONS:
        assert module.rsplit(".", 1)[1] in setup


def test_public_names_follow_native_and_the_switch() -> None:
    expect = native is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1"
    assert flatten.NATIVE is expect
    impl = native if expect else None
    for name in ("flatten_windows", "flatten_dotted", "scalar"):
        bound = getattr(flatten, name)
        assert bound is (getattr(impl, name) if impl else getattr(flatten, f"_py_{name}"))


@needs_native
def test_pure_python_switch_in_a_fresh_interpreter() -> None:
    code = "import autosoc.normalize.flatten as f; print(f.NATIVE, f.flatten_windows is f._py_flatten_windows)"
    for value, expect in (("1", "False True"), ("0", "True False")):
        env = {**os.environ, "AUTOSOC_PURE_PYTHON": value}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert run.stdout.split() == expect.split()


# --- (1) the SigmaHQ regression samples -------------------------------------------------------------


def _samples(regression_dir: Path) -> Iterator[Any]:
    for path in sorted(regression_dir.rglob("*.json")):
        with path.open("rb") as stream:  # pretty-printed documents, some files hold several
            for piece in split_json(io.BytesIO(stream.read())):
                if piece.error is None:
                    yield orjson.loads(piece.data)


@needs_native
def test_regression_samples_flatten_identically(regression_dir: Path) -> None:
    records = list(_samples(regression_dir))
    assert len(records) > 200
    windows = 0
    for record in records:
        same(record)
        windows += native.flatten_windows(record) is not None  # type: ignore[union-attr]
    assert windows > 200  # the samples are Windows events: the interesting path was taken


# --- (2) hand-written shapes ------------------------------------------------------------------------

SYSTEM = {
    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "{5770385F}"}},
    "EventID": 1,
    "Version": 5,
    "Keywords": "0x8000000000000000",
    "TimeCreated": {"#attributes": {"SystemTime": "2025-01-01T00:00:00Z"}},
    "Correlation": None,
    "Execution": {"#attributes": {"ProcessID": 3544, "ThreadID": 4272}},
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "host",
    "Security": {"#attributes": {"UserID": "S-1-5-18"}},
}


def nested(event_data: Any = None, user_data: Any = None, system: Any = SYSTEM) -> dict[str, Any]:
    event: dict[str, Any] = {"System": system}
    if event_data is not None:
        event["EventData"] = event_data
    if user_data is not None:
        event["UserData"] = user_data
    return {"Event": event}


HAND: list[Any] = [
    # Winlogbeat / Elastic
    {
        "@timestamp": "2025-01-01T00:00:00Z",
        "winlog": {
            "event_id": 4688,
            "channel": "Security",
            "computer_name": "dc1",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "record_id": 77,
            "process": {"pid": 4, "thread": {"id": 8}},
            "user": {"identifier": "S-1-5-18"},
            "event_data": {"NewProcessName": "C:\\x.exe", "CommandLine": "x /y", "Image": "a", "Threat Name": "t"},
            "user_data": {"Param": "p"},
            "task": "Process Creation",
            "opcode": "Info",
        },
        "host": {"name": "dc1", "ip": ["10.0.0.1", "::1"], "os": {}},
        "tags": ["beats", "windows"],
        "ports": [1, 2, 3],
        "event": {"code": "4688", "created": None, "ok": True, "risk": 1.25},
    },
    {"winlog": {"event_id": 1, "event_data": {"Image": "a"}}},  # no Channel nor Provider: not Windows
    {"winlog": {"event_id": 1, "provider_name": "P"}, "Provider_Name": "direct"},
    # NXLog and other flat shippers
    {
        "EventTime": "2025-01-01 00:00:00",
        "Hostname": "ws1",
        "SourceName": "Microsoft-Windows-Sysmon",
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "RecordNumber": 12,
        "Image": "C:\\a.exe",
        "ProcessId": 42,
        "Big": 2**64 + 5,
        "Neg": -(2**63),
        "Float": 1e300,
        "Zero": -0.0,
        "Flag": False,
        "Nothing": None,
    },
    {"EventID": 1, "hostname": "h", "ProviderName": "P", "computer_name": "c", "Computer": "C"},
    {"EventID": 1, "channel": "c"},  # only the alias: channel -> Channel
    {"EventID": 1},
    {"event_id": 1, "channel": "c", "event_data": {"Image": "i"}},
    # prefixed keys: setdefault first, the top-level name later overwrites in place
    {"EventID": 1, "Channel": "c", "EventData.Image": "x", "Image": "y", "Event.EventData.Image": "z"},
    {"EventID": 1, "Channel": "c", "Image": "y", "EventData.Image": "x", "UserData.Image": "u"},
    {"EventID": 1, "Channel": "c", "EventData": {"Image": "n", "Data": [1, "a"], "Empty": {}}, "EventData.": 3},
    {"EventData": {"EventID": 5, "Channel": "x"}},
    {"EventID": 1, "Channel": "c", "winlog.event_data.Image": "dotted key", "winlog": {"event_data": {"Image": 2}}},
    # the nested evtx-JSON shape
    nested({"Image": "a", "CommandLine": "b", "ProcessId": 7, "Flag": True, "F": 1.5, "N": None}),
    nested({"Data": [{"@Name": "A", "#text": "1"}, {"Name": "B", "text": "2"},
                     {"#attributes": {"Name": "C"}, "Value": 3}]}),
    nested(
        {
            "Data": [
                {"@Name": "", "Name": "D", "#text": ["x", "y"]},
                {"#text": "unnamed 1"},
                "unnamed 2",
                5,
                None,
                1.5,
                True,
                {"@Name": 0, "#text": "zero name"},
                {"Name": None, "#text": None},
                {"@Name": "E", "#text": [1, "a", None]},
                {"@Name": 7, "#text": "int name"},
                {"@Name": "F", "#text": None, "text": "ignored"},
                {"@Name": "G", "text": None, "Value": "ignored"},
                {"@Name": "H"},
                {"@Name": ["l"], "#text": "list name"},
                {"#attributes": "not a dict", "#text": "t"},
                {"#attributes": {"Name": "I"}, "Name": "", "#text": {"x": 1}},
                {"@Name": "A", "#text": "again"},
                [],
                ["nested", "list"],
                {},
            ]
        }
    ),
    nested({"Data": []}),
    nested({"Data": [None, {}]}),
    nested(["a", {"@Name": "X", "#text": "y"}]),
    nested("just text"),
    nested(5),
    nested(1.5),
    nested(True),
    nested({"Data": "string data", "#text": "text data"}),
    nested({"#text": ["a", "b"], "#attributes": {"x": 1}, "#other": 1, "Key": "v"}),
    nested({"#text": [1, {"a": None}]}),
    nested({"#text": 3, "Data": {"#text": "inner"}}),
    # keys with spaces
    nested({"Threat Name": "x", "ThreatName": "y", "Threat ID": 5, "A B": None, "C D": [1, 2], "E F": ["a"]}),
    nested({"ThreatName": "first", "Threat Name": "second"}),
    nested({"S p": {"#text": "t"}, "N e": {"Inner Key": "v", "Other": 2}, "Z z": {"#text": "t", "a": 1, "b": 2}}),
    nested({"x y": {"Data": [{"@Name": "q", "#text": "r"}]}, " ": "space", "  ": "two", "#a b": 1}),
    # UserData nesting
    nested(
        None,
        {
            "EventXML": {
                "#attributes": {"xmlns": "http://x"},
                "Param1": "a",
                "Field": {"#text": "t", "#attributes": {"k": "v"}},
                "Deep": {"Deeper": {"Leaf": 1.5, "List": ["a", "b"], "Mixed": [1, [2, [3]]]}},
            }
        },
    ),
    nested({"Image": "a"}, {"Image": "b", "Other": {"#text": "o"}}),
    nested({"Image": "a"}, "user text"),
    nested({}, ["u1", "u2"]),
    # System oddities
    nested(
        {},
        None,
        {
            "Keywords": {"#text": ["a", "b"], "#attributes": {"x": 1}, "child": {"#text": "c", "y": 2}},
            "Provider": {"#attributes": {"Name": "P"}, "#text": "ptext"},
            "TimeCreated": {"#attributes": "odd"},
            "Level": [4, "x"],
            "Strings": ["a", "b"],
            "Empty": {},
            "Nested": {"a": {"b": {"#attributes": {"c": 1}, "d": [1]}}, "#skip": 1, "e": None},
            "Flag": True,
        },
    ),
    nested({}, None, {}),
    nested({}, None, None),
    nested({}, None, "system text"),
    {"Event": {"System": {"EventID": 1}}},
    {"Event": {"EventData": None}},
    {"Event": {"EventData": {}, "UserData": {}}},
    {"Event": {"System": None, "EventData": None, "UserData": None}},
    {"Event": {"Other": 1}},  # no System nor EventData: not the nested shape
    {"Event": {"Other": 1}, "EventID": 1, "Channel": "c"},  # ... but the flat one
    {"Event": "string", "EventID": 2, "Provider_Name": "p"},
    {"Event": None},
    # not Windows
    {},
    {"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "userIdentity": {"arn": "a", "x": {}}},
    {"message": "hello", "nested": {"list": [{"a": 1}, 2, "3", None, [True]], "deep": {"er": {"est": 1}}}},
    {"a": [], "b": [[]], "c": [{}], "d": [1.5, -0.0, 2**63 - 1], "e": ["a", "b"], "f": ["a", 1]},
    {"a": {"b": {}}, "c": {"d": {"e": None}}, "é": {"ü": "ñ"}, "😀": {"k": "v"}, "": {"": ""}},
    # errors: integers orjson cannot write, inside lists that scalar() serializes
    {"EventID": 1, "Channel": "c", "big": [2**64]},
    nested({"Data": [{"@Name": "A", "#text": [2**70]}]}),
    nested({"List": [2**70]}),
    {"a": [2**70]},
    # names longer than the name cache takes (built every time, never cached)
    nested({"K" * 300: "v", "Data": [{"@Name": "N" * 300, "#text": "t"}]},
           system={"P" * 300: {"#attributes": {"A" * 300: "x"}}, "EventID": 1, "Channel": "c"}),
    {"winlog": {"event_data": {"L" * 400: "v"}, "event_id": 1, "channel": "c"}, "x" * 500: {"y" * 500: 1}},
    {"EventID": 1, "Channel": "c", "EventData." + "Z" * 300: "v"},
]


@needs_native
@pytest.mark.parametrize("index", range(len(HAND)))
def test_hand_written_shapes(index: int) -> None:
    same(HAND[index])


@needs_native
def test_output_is_what_the_reference_gives_and_in_its_order() -> None:
    record = {"EventID": 1, "Channel": "c", "EventData.Image": "x", "Image": "y"}
    out = native.flatten_windows(record)  # type: ignore[union-attr]
    assert list(out.items()) == [("EventID", 1), ("Channel", "c"), ("EventData.Image", "x"), ("Image", "y")]
    data = nested({"Data": [{"@Name": "B", "#text": "1"}, "u1", {"#text": 2}]}, None, {"EventID": 4})
    assert list(native.flatten_windows(data).items()) == [("EventID", 4), ("B", "1"), ("Data", "u1\n2")]  # type: ignore[union-attr]


SCALARS: list[Any] = [
    "s", "", "ü😀", None, True, False, 0, -1, 2**100, 10**20, 1.5, 1e300, -0.0, 1e-7, [], ["a", "b"], ["a", 1],
    ["a", None], [True], {"a": 1}, {}, [2**70], {"a": [1, {"b": None}]}, (1, 2), {1, 2}, b"bytes",
    OrderedDict(a=1), type("S", (str,), {})("sub"), type("I", (int,), {})(3), type("L", (list,), {})(["x"]),
    float("inf"), object(),
]


@needs_native
@pytest.mark.parametrize("index", range(len(SCALARS)))
def test_scalar(index: int) -> None:
    value = SCALARS[index]
    assert outcome(native.scalar, value) == outcome(flatten._py_scalar, value)  # type: ignore[union-attr]


class Sub(dict):  # type: ignore[type-arg]
    pass


@needs_native
def test_calls_off_the_fast_path_behave_like_python() -> None:
    assert native is not None
    record = {"a": {"b": 1}, "EventID": 1, "Channel": "c"}
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("flatten_dotted", (record, "p."), {}),
        ("flatten_dotted", (record,), {"prefix": "x", "out": {"z": 1}}),
        ("flatten_dotted", (), {"record": record}),
        ("flatten_dotted", (), {}),
        ("flatten_dotted", (record, "", None, 4), {}),
        ("flatten_dotted", ([1],), {}),
        ("flatten_dotted", (Sub(record),), {}),
        ("flatten_windows", (), {"record": record}),
        ("flatten_windows", (record, 1), {}),
        ("flatten_windows", (), {}),
        ("flatten_windows", (Sub(record),), {}),
        ("flatten_windows", (OrderedDict(record),), {}),
        ("flatten_windows", (["EventID"],), {}),
        ("flatten_windows", ("winlog",), {}),
        ("flatten_windows", (None,), {}),
        ("scalar", (), {"value": 1}),
        ("scalar", (), {}),
        ("scalar", (1, 2), {}),
    ]
    for name, args, kwargs in cases:
        got = outcome(getattr(native, name), *args, **kwargs)
        want = outcome(getattr(flatten, f"_py_{name}"), *args, **kwargs)
        assert got == want, (name, args, kwargs)


@needs_native
def test_odd_values_and_keys_do_not_crash() -> None:
    """Not JSON, but must not crash: a huge int name (str() refuses it), non-str keys, deep nesting."""
    huge = 10**5000
    same(nested({"Data": [{"@Name": huge, "#text": "x"}]}))
    same(nested({"Data": [huge]}))
    same(nested({5: "int key", (1,): "tuple key", "k": {"#text": "t"}}))
    same(nested({}, None, {5: {"#attributes": {6: 7}}, 8: {"a": 1, 9: 2}}))
    same({"EventID": 1, "Channel": "c", 5: {"x": 1}})
    same({"EventID": 1, "Channel": "c", 5: 1})
    same({"EventID": 1, "Channel": "c", 5: {}})
    same(nested({}, None, {5: {"#attributes": {}}}))  # Python makes 5 + "_" (and fails) before its loop
    same(nested({}, None, {5: {"#attributes": {"a": 1}}, "k": {"#attributes": {6: 7}}}))
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    node["b"] = 1
    same(deep)
    same({"Event": {"EventData": deep}})
    same({"Event": {"System": deep}})
    same({"EventID": 1, "Channel": "c", "x": deep})


def _fresh(text: str) -> str:
    """An str equal to ``text`` but a new object (as orjson hands out when its key cache misses)."""
    return "".join(list(text))


@needs_native
def test_big_sections_and_fresh_key_objects() -> None:
    """Sections longer than one slice of the C loops, more attributes than it gathers ahead, and names
    that are equal to cached ones but other objects (the C join cache compares addresses first)."""
    system: dict[Any, Any] = {f"E{i}": {"#attributes": {f"a{j}": j for j in range(i % 4)}} for i in range(70)}
    system.update({f"S{i}": i for i in range(10)})
    system["Wide"] = {"#attributes": {f"w{j}": j for j in range(80)}}
    system["Odd"] = {"#attributes": {"x": 1}, "#text": "t"}
    data = {f"K{i}": f"v{i}" for i in range(100)}
    data.update({"Threat Name": "t", "#skip": 1, "Data": [{"@Name": "N", "#text": "n"}], "L": ["a", "b"]})
    same(nested(data, {f"U{i}": i for i in range(40)}, system))
    for _ in range(3):  # the same names as other str objects, again and again
        fresh_system = {
            _fresh("Provider"): {_fresh("#attributes"): {_fresh("Name"): "P", _fresh("Guid"): "G"}},
            _fresh("Execution"): {"#attributes": {_fresh("ProcessID"): 1}},
            "EventID": 1,
        }
        same(nested({_fresh("Image"): "i", _fresh("Command Line"): "c"}, None, fresh_system))
        same({"winlog": {_fresh("event_data"): {_fresh("Image"): 1}, "event_id": 1, _fresh("channel"): "c"}})


@needs_native
def test_join_cache_clashes_and_references() -> None:
    """More (key, attribute) pairs than the address-keyed join cache has slots: every name right, and
    no reference kept beyond a slot's (a key seen once is held at most by the caches, not per call)."""
    assert native is not None
    records = [
        nested({}, None, {f"El{i}": {"#attributes": {f"At{j}": j for j in range(3)}}, "EventID": 1})
        for i in range(400)
    ]
    for record in records:
        same(record)
    key = "Elem" + "ent-refcheck"
    attr = "Attr" + "-refcheck"
    record = nested({"Image": "x"}, None, {key: {"#attributes": {attr: 1}}, "EventID": 1})
    native.flatten_windows(record)
    before = sys.getrefcount(key), sys.getrefcount(attr)
    for _ in range(10_000):
        native.flatten_windows(record)
        native.flatten_dotted({key: {attr: 1}})
    after = sys.getrefcount(key), sys.getrefcount(attr)
    assert after[0] - before[0] <= 4 and after[1] - before[1] <= 4, (before, after)


# --- (3) randomized records ---------------------------------------------------------------------------

KEYS = [
    "Image", "CommandLine", "Data", "#text", "#attributes", "#other", "Name", "@Name", "text", "Value",
    "Threat Name", "ThreatName", "A B", "EventID", "Channel", "Provider_Name", "Provider", "System", "EventData",
    "UserData", "winlog", "event_data", "user_data", "event_id", "channel", "Event", "Hostname", "SourceName",
    "", " ", "x", "é k", "ключ", "😀 z", "EventData.Image", "winlog.event_id", "Execution", "ProcessID",
]
LEAVES: list[Any] = [
    None, True, False, 0, 1, -5, 2**63 - 1, 2**64 + 1, 1.5, -0.0, 1e300, "", "a", "a b", "x\ny", "ü", "😀", "#",
]


def rand_leaf(rng: random.Random) -> Any:
    if rng.random() < 0.005:
        return [2**70]  # orjson refuses it: an error path, now and then
    return rng.choice(LEAVES)


def rand_value(rng: random.Random, depth: int) -> Any:
    r = rng.random()
    if depth >= 4 or r < 0.45:
        return rand_leaf(rng)
    if r < 0.65:
        return rand_dict(rng, depth + 1)
    if r < 0.8:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.9:
        return [rng.choice(["a", "b c", "", "ü"]) for _ in range(rng.randint(0, 3))]
    return rand_data_items(rng, depth + 1)


def rand_dict(rng: random.Random, depth: int) -> dict[str, Any]:
    return {rng.choice(KEYS): rand_value(rng, depth) for _ in range(rng.randint(0, 6))}


def rand_data_items(rng: random.Random, depth: int) -> list[Any]:
    items: list[Any] = []
    for _ in range(rng.randint(0, 5)):
        if rng.random() < 0.25:
            items.append(rand_value(rng, depth + 1))
            continue
        item: dict[str, Any] = {}
        for key in ("@Name", "Name", "#attributes", "#text", "text", "Value"):
            if rng.random() < 0.4:
                if key == "#attributes":
                    item[key] = {"Name": rng.choice(["N", "", None, 3])} if rng.random() < 0.8 else "x"
                elif key in ("@Name", "Name"):
                    item[key] = rng.choice(["N", "M", "", None, 0, 7, "A B"])
                else:
                    item[key] = rand_value(rng, depth + 2)
        items.append(item)
    return items


def rand_record(rng: random.Random) -> Any:
    shape = rng.random()
    if shape < 0.4:
        event: dict[str, Any] = {}
        for key, make in (
            ("System", lambda: rand_system(rng)),
            ("EventData", lambda: rand_event_data(rng)),
            ("UserData", lambda: rand_event_data(rng)),
        ):
            if rng.random() < 0.8:
                event[key] = make()
        if rng.random() < 0.2:
            event[rng.choice(KEYS)] = rand_value(rng, 1)
        return {"Event": event}
    if shape < 0.7:
        record: dict[str, Any] = {
            "winlog": {
                "event_id": rng.choice([1, "1", None]),
                rng.choice(["channel", "provider_name", "computer_name"]): "c",
                "event_data": rand_event_data(rng),
            },
        }
        for _ in range(rng.randint(0, 4)):
            record[rng.choice(KEYS)] = rand_value(rng, 1)
        return record
    if shape < 0.85:
        flat = {rng.choice(KEYS): rand_leaf(rng) for _ in range(rng.randint(0, 10))}
        flat.update(rng.choice([{"EventID": 4}, {"EventID": 4, "Channel": "c"}, {"event_id": 1, "hostname": "h"}, {}]))
        return flat
    return rand_dict(rng, 0)


def rand_system(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rand_leaf(rng)
    system: dict[str, Any] = {}
    for key in rng.sample(["Provider", "EventID", "TimeCreated", "Execution", "Channel", "Keywords", "Security"], 4):
        r = rng.random()
        if r < 0.4:
            system[key] = {"#attributes": {rng.choice(KEYS): rand_leaf(rng) for _ in range(rng.randint(0, 3))}}
        elif r < 0.6:
            system[key] = rand_dict(rng, 2)
        else:
            system[key] = rand_value(rng, 2)
    return system


def rand_event_data(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.1:
        return rand_value(rng, 2)
    if r < 0.3:
        return {"Data": rand_data_items(rng, 1)}
    if r < 0.4:
        return rand_data_items(rng, 1)
    return rand_dict(rng, 1)


@needs_native
def test_randomized_records() -> None:
    rng = random.Random(20250101)
    kinds: dict[str, int] = {}
    for _ in range(4000):
        record = rand_record(rng)
        same(record)
        kind = outcome(flatten._py_flatten_windows, record)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        value = rand_value(rng, 0)
        assert outcome(native.scalar, value) == outcome(flatten._py_scalar, value)  # type: ignore[union-attr]
    # the generator reached every outcome: a flattened event, not Windows (None), an error
    assert kinds.get("dict", 0) > 1000 and kinds.get("value", 0) > 100 and kinds.get("raises", 0) > 5


# --- (4) references and memory -------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _strings(value: Any, into: dict[int, str]) -> None:
    if type(value) is str:
        into[id(value)] = value
    elif type(value) is dict:
        for key, child in value.items():
            _strings(key, into)
            _strings(child, into)
    elif type(value) is list:
        for child in value:
            _strings(child, into)


@needs_native
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc (Linux)")
def test_no_leaks() -> None:
    assert native is not None
    image = "C:\\Windows\\System32\\" + "leak-check.exe"  # fresh objects: their counts are ours alone
    name = "Name " + "with space"
    records = [
        nested({"Image": image, name: image, "Data": [{"@Name": name, "#text": image}, image, {"#text": [image]}]}),
        {"EventID": 1, "Channel": "c", "EventData.Image": image, name: {"a": [image, 1], "b": {}}},
        nested({"List": [2**70, image]}),  # raises: the error paths must release what they hold
        {name: [image, {"b": image}]},
        *HAND,
    ]
    calls = [native.flatten_windows, native.flatten_dotted]

    def run(n: int) -> None:
        for _ in range(n):
            for record in records:
                for call in calls:
                    with contextlib.suppress(TypeError):
                        call(record)
            native.scalar([image, image])
            native.scalar(records[3])

    def counts() -> tuple[int, ...]:
        return tuple(sys.getrefcount(obj) for obj in probes)

    run(200)  # warm up: name caches, free lists
    found: dict[int, str] = {}
    for record in records:
        _strings(record, found)
        for call in calls:
            with contextlib.suppress(TypeError):
                _strings(call(record), found)  # the output keys: some are the cached joined names
    probes: list[Any] = [*found.values(), *records]
    gc.collect()
    rounds = 200_000 // (2 * len(records))
    before_counts, before = counts(), _rss()
    run(rounds)
    gc.collect()
    after_counts, after = counts(), _rss()
    # a leak adds about one reference a round; a common name ("name", "a") may move by one or two for
    # reasons of its own (a lazy import or a collected cycle elsewhere in the process)
    changed = [
        (probes[i], b, a)
        for i, (b, a) in enumerate(zip(before_counts, after_counts, strict=True))
        if abs(a - b) > rounds // 20
    ]
    assert not changed, f"reference counts changed: {changed[:5]}"
    assert after - before < 4 * 1024 * 1024, f"RSS grew by {(after - before) / 1e6:.1f} MB"

    tracemalloc.start()
    try:
        run(50)
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        run(500)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 64 * 1024, f"traced memory grew by {end - start} bytes"
