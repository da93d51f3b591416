"""JSON lines of Windows events -> the raw frame in one C call (``autosoc.normalize._decode``)
against the pure-Python path it replaces: ``orjson.loads``, ``_py_flatten_windows`` and the frame
builders (the reference ``_py_build_raw_frame`` and the C ``_columns.build``).  The decoder may
refuse a call (None); what it accepts must come out exactly as the reference has it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pytest

from autosoc.normalize import columns, flatten
from autosoc.normalize.fields import KEYWORD_TEXT

try:
    from autosoc.normalize import _decode
except ImportError:  # built without a C compiler
    _decode = None  # type: ignore[assignment]
try:
    from autosoc.normalize import _columns
except ImportError:
    _columns = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    _decode is None or _columns is None,
    reason="the C extensions autosoc.normalize._decode / _columns were not built (no C compiler at install time?)",
)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "sigma" / "regression_data"
MODES = [(False, False), (True, False), (False, True), (True, True)]


def _view_array(n: int, validity: bytes | None, views: bytes, data: bytes, null_count: int) -> pa.Array:
    buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(views), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string_view(), n, buffers, null_count=null_count)


def _frame_of(n: int, built: tuple[Any, ...]) -> tuple[pl.DataFrame, list[str], list[str] | None]:
    """A build's buffers as build_raw_frame turns them into the frame, the ids and the JSON."""
    names, cols, id_views, id_data, texts, text = built
    frame = pl.DataFrame([pl.Series(_view_array(n, *column)) for column in cols])
    frame.columns = names
    if text is not None:
        frame = frame.with_columns(pl.Series(KEYWORD_TEXT, _view_array(n, None, *text, 0)))
    ids = pl.Series("id", _view_array(n, None, id_views, id_data, 0)).to_list()
    jsons = None if texts is None else pl.Series("json", _view_array(n, None, *texts, 0)).to_list()
    return frame, ids, jsons


def _same(got: tuple[pl.DataFrame, list[str], list[str] | None],
          want: tuple[pl.DataFrame, pl.Series, pl.Series | None]) -> None:
    frame, ids, jsons = got
    assert frame.columns == want[0].columns
    assert frame.schema == want[0].schema
    assert frame.rows() == want[0].rows()
    assert ids == want[1].to_list()
    assert jsons == (None if want[2] is None else want[2].to_list())


def _reference_rows(lines: list[bytes]) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        row = flatten._py_flatten_windows(orjson.loads(line))
        assert row, f"accepted, but the reference has no row for {line[:200]!r}"
        rows.append(row)
    return rows


def check(lines: list[bytes]) -> bool:
    """The decoder against the references in every mode; whether it accepted the lines."""
    accepted = None
    for keep_json, keep_text in MODES:
        got = _decode.windows_lines(lines, keep_json, keep_text)
        if accepted is None:
            accepted = got is not None
        assert (got is not None) == accepted, "accepted in one mode, refused in another"
        if got is None:
            continue
        rows = _reference_rows(lines)
        # the very buffers _columns.build writes for the flattened rows ...
        assert got == _columns.build(rows, keep_json, columns._other_forms, keep_text)
        # ... and the same frame, ids and JSON as the pure-Python reference
        _same(_frame_of(len(lines), got), columns._py_build_raw_frame(rows, keep_json=keep_json, keep_text=keep_text))
    if lines and all(line and not line.isspace() and b"\n" not in line for line in lines):  # as a file's lines
        for keep_json, keep_text in MODES:
            assert _block(lines, keep_json, keep_text) == _decode.windows_lines(lines, keep_json, keep_text)
    return bool(accepted)


def _block(lines: list[bytes], keep_json: bool, keep_text: bool) -> Any:
    """windows_block over the lines written as a file's (each ending with a newline)."""
    data = b"".join(line + b"\n" for line in lines)
    buf = bytearray(data + b"{")  # the byte after the data is not a NUL
    used, count, skipped, result = _decode.windows_block(buf, len(data), len(lines) + 1, True, keep_json, keep_text)
    assert buf == data + b"{", "the buffer came back changed"
    assert (used, count, skipped) == (len(data), len(lines), None)
    return result


def accepts(*lines: bytes | str) -> bool:
    return check([line.encode() if isinstance(line, str) else line for line in lines])


def ev(system: Any = None, data: Any = None, **extra: Any) -> str:
    event: dict[str, Any] = {}
    if system is not None:
        event["System"] = system
    if data is not None:
        event["EventData"] = data
    event.update(extra)
    return json.dumps({"Event": event}, ensure_ascii=False)


SYSTEM = {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "{5770385F}"}}, "EventID": 1,
          "Version": 5, "Keywords": "0x8000000000000000",
          "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00.000000Z"}},
          "Execution": {"#attributes": {"ProcessID": 3000, "ThreadID": 4000}}, "Channel": "Sysmon/Operational",
          "Computer": "host", "Security": None, "Correlation": None}


# ---------------------------------------------------------------------------- the regression samples

def _regression_lines() -> list[bytes]:
    if not SHARED.is_dir():
        pytest.skip(f"the SigmaHQ regression data is not at {SHARED} (see ../shared/data/README)")
    decoder = json.JSONDecoder()
    lines = []
    for path in sorted(SHARED.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        at = 0
        while True:  # one pretty-printed document, or several one after the other
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            record, at = decoder.raw_decode(text, at)
            lines.append(orjson.dumps(record))
    assert len(lines) > 200
    return lines


def test_every_regression_sample() -> None:
    lines = _regression_lines()
    accepted = [line for line in lines if check([line])]
    refused = len(lines) - len(accepted)
    print(f"\nregression samples: {len(accepted)} of {len(lines)} lines accepted, {refused} refused")
    assert len(accepted) >= len(lines) - 5
    assert check(accepted)  # all at once: shapes and columns across rows
    assert check(accepted[::-1][::3])
    assert not check(lines) if refused else check(lines)


# ---------------------------------------------------------------------------- edge cases

def test_usual_event() -> None:
    assert accepts(ev(SYSTEM, {"Image": "C:\\Windows\\cmd.exe", "ProcessId": 42, "CommandLine": "cmd /c \"x\""}))


def test_escapes_and_utf8() -> None:
    for value in ('\\"', "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00", "\\u0000", "\\b\\f\\n\\r\\t", "\\u001f",
                  "\\u007f", "\\u2028", "é€😀", "a\\u0041b", "\x7f", "\\uD83D\\uDE00", "\\u00E9"):
        line = '{"Event":{"System":{"EventID":1},"EventData":{"V":"' + value + '","K\\u00e9y":"x"}}}'
        assert accepts(line), value
    # keys with escapes and controls, and the same key spelled two ways (a duplicate)
    assert accepts('{"Event":{"System":{"a\\nb":"\\u0001"}}}')
    assert not accepts('{"Event":{"System":{"e":1,"\\u0065":2}}}')



# escapes as orjson writes them (the decoder reuses the line's bytes for the row's JSON) and
# escapes it writes otherwise (the string must be escaped anew): every kind, alone, mixed, short
# and long (past the 16-byte blocks the scanner copies), at the start, the end and block edges
SAME_ESCAPES = ["\\\\", '\\"', "\\n", "\\t", "\\r", "\\b", "\\f", "\\u0000", "\\u0001", "\\u001f", "\\u000b",
                "\\u0019", "\\u001e"]
OTHER_ESCAPES = ["\\/", "\\u0041", "\\u00E9", "\\u00e9", "\\u001F", "\\u001E", "\\u000B", "\\u0008", "\\u000a",
                 "\\u000A", "\\u0009", "\\u000d", "\\u000c", "\\u0022", "\\u005c", "\\u005C", "\\u007f", "\\u0020",
                 "\\u2028", "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\u0100"]


def _escaped_values() -> list[str]:
    values = []
    for escape in SAME_ESCAPES + OTHER_ESCAPES:
        values += [escape, "a" + escape, escape + "z", "C:" + escape + "Windows" + escape + "System32" + escape,
                   "x" * 15 + escape + "y" * 17, "x" * 16 + escape, "x" * 14 + escape + "é" + "w" * 20,
                   escape * 20, "p" * 40 + escape + "q" * 3]
    for same in SAME_ESCAPES:
        for other in OTHER_ESCAPES[:6]:
            values += [same + "mid" + other, other + "mid" + same, "y" * 20 + same + "z" * 20 + other]
    return values


def test_escapes_reused_or_written_anew() -> None:
    values = _escaped_values()
    for value in values:  # one line each: in System, EventData, #text, a key with spaces, UserData
        line = ('{"Event":{"System":{"EventID":1,"S":"' + value + '","T":{"#text":"' + value + '"}},'
                '"EventData":{"V":"' + value + '","A Key":"' + value + '","W":{"#text":"' + value + '"}},'
                '"UserData":{"U":"' + value + '"}}}')
        assert accepts(line), value
    # all in one call, and as the last bytes of a line (no room for a whole block after them)
    lines = ['{"Event":{"System":{"EventID":1},"EventData":{"V":"' + value + '"}}}' for value in values]
    assert accepts(*lines)
    assert accepts(*('{"Event":{"EventData":{"V' + value + '":"' + value + '"}}}' for value in values))


def test_invalid_strings_are_refused() -> None:
    for value in ("\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800x", "\\x", "\\u12", "\\u12g4", "\x01", "\t"):
        assert not accepts('{"Event":{"System":{"EventID":"' + value + '"}}}'), value
    for raw in (b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc3", b"\xe2\x82",
                b"\x80", b"\xf8\x88\x80\x80\x80"):
        assert not accepts(b'{"Event":{"System":{"EventID":"a' + raw + b'b"}}}'), raw


def test_ints() -> None:
    for value in ("0", "-0", "7", "-7", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                  "18446744073709551615", "123456789012"):
        assert accepts('{"Event":{"System":{"EventID":' + value + '},"EventData":{"N":' + value + '}}}'), value
    for value in ("18446744073709551616", "-9223372036854775809", "99999999999999999999999", "01", "-", "-01",
                  "1.5", "1e3", "1E3", "-0.0", "1.", ".5", "+1", "NaN", "Infinity", "0x10"):
        assert not accepts('{"Event":{"System":{"EventID":' + value + '}}}'), value
    # a float anywhere refuses, even where the reference would not look
    assert not accepts('{"Event":{"System":{"EventID":1}},"other":1.5}')


def test_duplicate_keys_are_refused() -> None:
    assert not accepts('{"Event":{"System":{"EventID":1,"EventID":2}}}')
    assert not accepts('{"Event":{"System":{"EventID":1}},"Event":{"System":{}}}')
    assert not accepts('{"Event":{"System":{"EventID":1},"EventData":{' + ",".join(
        f'"k{i}":{i}' for i in range(40)) + ',"k7":1}}}')
    assert accepts('{"Event":{"System":{"EventID":1},"EventData":{' + ",".join(
        f'"k{i}":{i}' for i in range(40)) + "}}}")


def test_system_values() -> None:
    assert accepts(ev({"EventID": 1, "A": True, "B": False, "C": None, "D": "", "E": -3}))
    assert accepts(ev({"Provider": {"#attributes": {"Name": "x", "T": True, "N": None, "I": 5}}}))
    assert accepts(ev({"Provider": {"#attributes": {}}, "EventID": 4}))
    assert accepts(ev({"Empty": {}, "EventID": 4}))
    # _attr_children: #text, other attributes, children, nested children, '#' keys ignored
    assert accepts(ev({"EventID": {"#attributes": {"Qualifiers": 0}, "#text": 4625}}))
    for text in ("x", 5, True, False, None):
        assert accepts(ev({"EventID": {"#text": text, "#other": [1, 2]}}))
    assert accepts(ev({"T": {"#attributes": "not a dict", "child": "c", "kid": {"#attributes": {"a": 1}, "g": 2}}}))
    # a later name overwrites an earlier one in place
    assert accepts(ev({"Provider_Name": "first", "Provider": {"#attributes": {"Name": "second"}}, "EventID": 1},
                      {"EventID": "from data", "Provider_Name": "x"}))
    # System that is not an object is ignored, as by the reference
    assert accepts(ev("a string", {"A": "b"}))
    assert accepts('{"Event":{"System":null,"EventData":{"A":"b"}}}')
    for bad in ([1, 2], ["a"], {"#attributes": {"a": [1]}}, {"#attributes": {"a": {"b": 1}}}, {"#text": [1]},
                {"child": [1]}, 1.5):
        assert not accepts(ev({"EventID": 1, "X": bad})), bad


def test_event_data_values() -> None:
    assert accepts(ev(SYSTEM, {"A": True, "B": False, "C": None, "D": "", "E": 0}))
    assert accepts(ev(SYSTEM, {"Threat Name": "x", "Other Key  ": 5, "ThreatName": "y", "Null Key": None,
                               "Bool Key": True, " ": "space"}))
    assert accepts(ev(SYSTEM, {"ThreatName": "y", "Threat Name": "x"}))
    assert accepts(ev(SYSTEM, {"#attributes": {"Name": "x"}, "#comment": "c", "#n": 5, "#x": [1], "A": "b"}))
    assert accepts(ev(SYSTEM, {}))
    assert accepts('{"Event":{"System":{"EventID":1},"EventData":null}}')
    assert accepts(ev(SYSTEM))  # no EventData
    assert accepts(ev(None, {"A": "b"}))  # no System
    for scalar in ("text", 5, True, False):
        assert accepts(ev(SYSTEM, scalar))
    # nested objects: {"#text": ..} with one more key at most, or their members
    assert accepts(ev(SYSTEM, {"Wrapped": {"#text": "t", "#attributes": {"a": 1}}, "Other": {"#text": 3}}))
    assert accepts(ev(SYSTEM, {"Outer Key": {"Inner": "x", "Inner Two": 2}, "Key Gone": {"a": "b"}}))
    assert accepts(ev(SYSTEM, {"Deep": {"Deeper": {"Deepest": "x"}}}))
    for bad in ({"Data": [{"@Name": "a", "#text": "b"}]}, {"#text": "t"}, {"L": ["a"]}, {"F": 1.5},
                {"Wrapped": {"#text": ["t"]}}, [1]):
        assert not accepts(ev(SYSTEM, bad)), bad


def test_user_data() -> None:
    assert accepts(ev(SYSTEM, UserData={"EventXML": {"Param1": "x", "Param2": 3}}))
    assert accepts(ev(SYSTEM, {"A": "1"}, UserData={"A": "2", "B": None}))
    assert accepts('{"Event":{"UserData":{"A":"b"},"System":{"EventID":1}}}')  # System first all the same


def test_other_shapes_are_refused() -> None:
    for line in ('{"Event":{"UserData":{"A":"b"}}}', '{"Event":{}}', '{"Event":[]}', '{"Event":"x"}', "{}",
                 '{"EventID":1,"Channel":"x"}', '{"winlog":{"event_id":1}}', "[]", '"x"', "1", "null",
                 '{"Event":{"System":{}}}', '{"Event":{"System":{"Empty":{}},"EventData":{}}}'):
        assert not accepts(line), line


def test_whitespace_and_syntax() -> None:
    assert accepts(' \t\r\n{ "Event" : { "System" : { "EventID" : 1 , "A" : [ 1 , { } , [ ] ] , "B" : "x" } } } \r\n'
                   .replace('"A" : [ 1 , { } , [ ] ] ,', ""))
    assert accepts('{"Event":{"System":{"EventID":1}},"x":[1,{"a":[true,false,null]},[]],"y":{}}')
    for line in ('{"Event":{"System":{"EventID":1}}', '{"Event":{"System":{"EventID":1,}}}',
                 '{"Event":{"System":{"EventID":1}}}}', '{"Event":{"System":{"EventID":1}}} x',
                 '{"Event":{"System":{"EventID":tru}}}', '{"Event":{"System":{"EventID":True}}}',
                 "{'Event':{}}", '{"Event":{"System":{"EventID" 1}}}', '{"Event":{"System":{"EventID":1}},"x":[1,]}',
                 '{"Event":{"System":{"EventID":1}},"x":[1 2]}', '{"Event":{"System":{EventID:1}}}',
                 '\ufeff{"Event":{"System":{"EventID":1}}}', '{"Event":{"System":{"EventID":1}}}\x00',
                 '{"Event":{"System":{"EventID":1}}}\x0b', ""):
        assert not accepts(line), line
    deep = '{"Event":{"System":{"EventID":1}},"d":' + "[" * 63 + "]" * 63 + "}"  # 64 deep in all
    assert accepts(deep)
    assert not accepts(deep.replace("[", "[[", 1).replace("]", "]]", 1))


def test_batches() -> None:
    good = [ev(SYSTEM, {"A": str(i), "N": i}) for i in range(50)]
    shapes = [ev({"EventID": i}, {f"K{i % 7}": "v", "Same": i}) for i in range(60)]
    assert accepts(*good)
    assert accepts(*shapes)
    assert accepts(*good, *shapes, *good)
    assert not accepts(*good, '{"Event":{"System":{"EventID":1.5}}}', *shapes)
    assert not accepts(*good, "not json")
    assert _decode.windows_lines([good[0].encode(), "a str"], False, False) is None
    assert check([])
    empty = _decode.windows_lines([], True, True)
    assert empty == _columns.build([], True, columns._other_forms, True)
    with pytest.raises(TypeError):
        _decode.windows_lines((b"{}",), False, False)


def test_block_lines() -> None:
    """windows_block finds the lines itself: blank ones skipped and numbered, a last line without a
    newline only when final, at most max_lines, the buffer unchanged, what it declines still counted."""
    a, b, c = (ev(SYSTEM, {"A": str(i)}).encode() for i in range(3))
    data = a + b"\n \t\r\n" + b + b"\r\n\n\x0b\x0c\n" + c
    buf = bytearray(data + b"x")
    used, count, skipped, got = _decode.windows_block(buf, len(data), 100, False, True, True)
    assert (used, count, skipped) == (len(data) - len(c), 5, [1, 3, 4])  # c has no newline yet
    assert got == _decode.windows_lines([a, b + b"\r"], True, True)
    used, count, skipped, got = _decode.windows_block(buf, len(data), 100, True, True, True)
    assert (used, count, skipped) == (len(data), 6, [1, 3, 4])
    assert got == _decode.windows_lines([a, b, c], True, True)
    assert _decode.windows_block(buf, len(data), 2, True, False, False)[:3] == (len(a) + 5, 2, [1])
    assert buf == data + b"x"
    assert _decode.windows_block(buf, 0, 10, True, False, False) == (0, 0, None, None)
    blank = bytearray(b"\n\n ")
    assert _decode.windows_block(blank, 2, 10, True, False, False) == (2, 2, [0, 1], None)
    bad = bytearray(a + b"\nnot json\n" + c + b"\n.")
    assert _decode.windows_block(bad, len(bad) - 1, 10, False, False, False) == (len(bad) - 1, 3, None, None)
    for start, end in ((0, len(buf)), (3, 3), (len(a), len(a) + 9), (0, 0)):
        assert _decode.newlines(buf, start, end) == buf.count(b"\n", start, end)
    with pytest.raises(ValueError, match="within the buffer"):
        _decode.newlines(buf, 5, len(buf) + 1)
    with pytest.raises(ValueError, match="one byte after"):
        _decode.windows_block(bytearray(a), len(a), 10, True, False, False)
    with pytest.raises(TypeError):
        _decode.windows_block(a + b"\n", len(a), 10, True, False, False)  # bytes: not writable


# ---------------------------------------------------------------------------- fuzz

def test_fuzzed_lines() -> None:
    rng = random.Random(20240611)
    seeds = [
        ev(SYSTEM, {"Image": "C:\\Windows\\cmd.exe", "Threat Name": "é€", "N": 123, "Z": None, "T": True}),
        ev({"EventID": {"#attributes": {"Qualifiers": 0}, "#text": 4625}, "A": "\\u0000\n\"x\""}, {"Null": None},
           UserData={"X": {"Y": "z"}}),
        '{"Event":{"System":{"EventID":1,"S":"a\\u00e9\\ud83d\\ude00\\"\\\\\\/b"},"EventData":{"K":"-0"}}}',
    ]
    if SHARED.is_dir():
        seeds += [line.decode() for line in _regression_lines()[::12]]
    alphabet = [*'{}[]",:\\ 0123456789-.eEtrufalsn#u\x00\x1f\x7f', "é", "\ud83d", "😀"]
    accepted = refused = 0
    for _ in range(3000):
        line = rng.choice(seeds).encode()
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(line) + 1)
            kind = rng.randrange(4)
            if kind == 0:
                line = line[:at]
            elif kind == 1 and at < len(line):
                line = line[:at] + bytes([line[at] ^ (1 << rng.randrange(8))]) + line[at + 1:]
            elif kind == 2:
                line = line[:at] + rng.choice(alphabet).encode("utf-8", "surrogatepass") + line[at:]
            elif at < len(line):
                line = line[:at] + line[at + 1:]
        got = _decode.windows_lines([line], True, True)
        if got is None:
            refused += 1
            continue
        accepted += 1
        rows = _reference_rows([line])  # orjson reads it, the reference flattens it
        assert got == _columns.build(rows, True, columns._other_forms, True), line
    print(f"\nfuzz: {accepted} accepted, {refused} refused")
    assert accepted > 100 and refused > 100


def test_the_views_of_null_rows_are_zero() -> None:
    """Each column's views are written once, in row order: a null row's view is 16 zero bytes
    wherever it falls (before a column's first value, between values, after its last), long and
    short values around it, in both C builders; and the arrays read back as the rows were."""
    rng = random.Random(5)
    rows = [{k: rng.choice(["x", "a value longer than twelve bytes", ""]) for k in "ABCDE" if rng.random() < p}
            for p in (0.05, 0.5, 0.95) for _ in range(300)]
    rows[0], rows[-1] = {}, {"E": "last"}
    lines = [json.dumps({"Event": {"System": {"EventID": 1}, "EventData": row}}).encode() for row in rows]
    decoded_lines = _decode.windows_lines(lines, False, True)
    decoded_rows = _columns.build(rows, False, lambda value: None, True)
    for names, cols, *_ in (decoded_lines, decoded_rows):
        checked = compared = 0
        for name, (validity, views, data, nulls) in zip(names, cols, strict=True):
            n = len(views) // 16
            valid = [validity is None or bool(validity[i >> 3] >> (i & 7) & 1) for i in range(n)]
            assert nulls == valid.count(False)
            for i in range(n):
                if not valid[i]:
                    assert views[i * 16:(i + 1) * 16] == bytes(16), (name, i)
                    checked += 1
            array = _view_array(n, validity, views, data, nulls)
            array.validate(full=True)
            if name in set("ABCDE"):
                assert array.to_pylist() == [row.get(name) for row in rows]
                compared += 1
        assert checked > 500 and compared == 5
