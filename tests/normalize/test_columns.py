"""Flat rows -> the raw string frame, the rows' JSON and their ids: the C builder
(``autosoc.normalize._columns``) against the pure-Python reference, and both against orjson,
hashlib and a frame Polars builds from the rows itself."""

from __future__ import annotations

import gc
import random
import sys
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from autosoc.normalize import columns
from autosoc.normalize.columns import _py_build_raw_frame, build_raw_frame
from autosoc.normalize.fields import KEYWORD_TEXT
from autosoc.normalize.flatten import flatten_windows

native = columns._native
needs_native = pytest.mark.skipif(
    native is None,
    reason="the C extension autosoc.normalize._columns was not built (no C compiler at install time?): "
    "only the pure-Python frame building is in use",
)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "sigma" / "regression_data"


def _ids(result: tuple[pl.DataFrame, pl.Series, pl.Series | None]) -> list[str]:
    return result[1].to_list()


def _orjson_reference(rows: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], list[str], list[str]]:
    """What the frame, ids and JSON must be where orjson and Polars take the rows as they are:
    every row dumped with orjson's own key sorting, one Polars frame built from all rows at once."""
    texts = [orjson.dumps(row, option=orjson.OPT_SORT_KEYS) for row in rows]
    names = dict.fromkeys(name for row in rows for name in row)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), strict=False)
    return frame.rows(), [blake2b(t, digest_size=16).hexdigest() for t in texts], [t.decode() for t in texts]


def _both(rows: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], list[str], list[str]]:
    """The C builder's and the reference's output, checked equal (frame schema included)."""
    got = build_raw_frame(rows, keep_json=True)
    want = _py_build_raw_frame(rows, keep_json=True)
    assert got[0].columns == want[0].columns
    assert got[0].schema == want[0].schema
    assert got[0].rows() == want[0].rows()
    assert got[1].to_list() == want[1].to_list()
    assert got[2] is not None and want[2] is not None
    assert got[2].to_list() == want[2].to_list()
    assert got[1].dtype == pl.String and got[2].dtype == pl.String
    assert build_raw_frame(rows)[2] is None and _ids(build_raw_frame(rows)) == got[1].to_list()
    # the keyword text: every value of the row (as the frame reads it) joined by newlines
    texted, want_texted = build_raw_frame(rows, keep_text=True)[0], _py_build_raw_frame(rows, keep_text=True)[0]
    assert texted.columns == [*got[0].columns, KEYWORD_TEXT] and texted.rows() == want_texted.rows()
    frame = got[0]
    for index, row in enumerate(rows):
        values = [frame[index, name] for name in row if not name.startswith("__")]
        assert texted[index, KEYWORD_TEXT] == "\n".join(v for v in values if v is not None)
    return got[0].rows(), got[1].to_list(), got[2].to_list()


def test_mixed_shapes_keep_row_and_column_order() -> None:
    rows = [{"a": 1, "b": "x"}, {"c": True, "a": "2"}, {"a": 3.5, "b": None}, {"b": "y", "a": 4}, {"c": False}]
    frame, ids, _ = build_raw_frame(rows)
    assert frame.columns == ["a", "b", "c"]
    assert frame.schema == pl.Schema({"a": pl.String, "b": pl.String, "c": pl.String})
    assert frame.rows() == [("1", "x", None), ("2", None, "true"), ("3.5", None, None), ("4", "y", None),
                            (None, None, "false")]
    single, single_ids, _ = build_raw_frame([rows[0]])
    assert single.rows() == [("1", "x")] and single_ids.to_list() == ids.to_list()[:1]
    # the id is the content: the same row in another batch, in any key order, has the same id
    assert _ids(build_raw_frame([{"b": "y", "a": 4}])) == [ids[3]]
    assert _ids(build_raw_frame([{"a": 4, "b": "y"}])) == [ids[3]]
    assert ids.n_unique() == len(ids)


def test_windows_event_data_odd_keys_do_not_break_flattening() -> None:
    record = {"Event": {"System": {"EventID": 1, "Channel": "X", "Provider": {"#attributes": {"Name": "P"}},
                                   "TimeCreated": {"#attributes": {"SystemTime": "t"}, "#text": "v"}},
                        "EventData": {"": "empty name", "#attributes": {"x": 1}, "Threat Name": "T", "N": 5,
                                      "Data": "d", "Flag": True}}}
    flat = flatten_windows(record)
    assert flat == {"EventID": 1, "Channel": "X", "Provider_Name": "P", "TimeCreated_SystemTime": "t",
                    "TimeCreated": "v", "": "empty name", "Threat Name": "T", "ThreatName": "T", "N": 5,
                    "Data": "d", "Flag": True}
    assert flat is not None
    frame, _, texts = build_raw_frame([flat], keep_json=True)
    assert frame.row(0, named=True)[""] == "empty name" and frame.row(0, named=True)["Flag"] == "true"
    odd = build_raw_frame([flat, {"": "x"}, {"*": "y", "": None}])[0]
    assert odd.columns == [*flat, "*"] and odd.get_column("").to_list() == ["empty name", "x", None]
    _both([flat, {"": "x"}, {"*": "y", "": None}])
    assert texts is not None and orjson.loads(texts[0]) == flat


def test_the_json_kept_for_the_lake_is_what_the_id_hashes() -> None:
    rows = [{"b": "x", "a": 1}, {"c": None}]
    _, ids, texts = build_raw_frame(rows, keep_json=True)
    assert texts is not None and texts.to_list() == ['{"a":1,"b":"x"}', '{"c":null}']
    assert ids.to_list() == [blake2b(t.encode(), digest_size=16).hexdigest() for t in texts]


def test_frame_ids_and_json_match_orjson_and_polars_on_random_rows() -> None:
    rng = random.Random(11)
    keys = ["EventID", "Image", "CommandLine", "é", "Z", "a", "a b", "ünï", "_x", "10", "B", "b", "𝒳", "ﬀ",
            "twelve_bytes", "thirteen_byte", "", "*", "^a.*$", "column_0", "k\x00x", "__hidden"]
    leaves = [None, True, False, 0, -7, 2**40, -(2**63), 2**63 - 1, 1.5, -0.0, 1e20, 1e-7, 100.0, float("nan"),
              float("inf"), "", "x", "C:\\Windows\\a.exe", "ü\n\"q\"", "1e5", "exactly12byt", "exactly13byte",
              "\x00\x01\x08\x0b\x0c\x1f\x7f\u2028\ud7ff\ue000\U0010ffff/", "😀" * 7]
    rows = []
    for _ in range(800):
        chosen = rng.sample(keys, rng.randint(0, len(keys)))  # random order: shapes differ by order too
        rows.append({k: rng.choice(leaves) for k in chosen})
    rows += [dict(rows[0]), dict(reversed(list(rows[1].items())))]  # same content, other key order
    got_rows, ids, texts = _both(rows)
    assert (got_rows, ids, texts) == _orjson_reference(rows)
    assert ids[-1] == ids[1] and ids[-2] == ids[0]


@pytest.mark.parametrize("names", [["a", "", "column_0", "é😀"], ["a", "k\x00x"], ["a", KEYWORD_TEXT, "b"], []])
@pytest.mark.parametrize("with_text", [True, False])
def test_a_frame_of_view_columns_keeps_every_name_and_replaces_a_field_named_like_the_text(
        names: list[str], with_text: bool) -> None:
    """view_frame (one Arrow record batch) gives the frame a Series per column gives: names with a NUL
    (which Arrow schemas cut) or empty, and a field of the keyword text's name replaced by the text."""
    import pyarrow as pa

    from autosoc.normalize.columns import view_frame

    def column(values: list[str | None]) -> tuple[bytes | None, bytes, bytes, int]:
        array = pa.array(values, type=pa.string_view())
        validity, views, data = array.buffers()[:3]
        return (None if validity is None else validity.to_pybytes(), views.to_pybytes(),
                b"" if data is None else data.to_pybytes(), array.null_count)

    n = 3
    values = [[f"{name}-{i}-a value longer than twelve bytes" if i != 1 else None for i in range(n)] for name in names]
    text = ["t0", "a text longer than twelve bytes", ""]
    got = view_frame(n, names, [column(v) for v in values], column(text) if with_text else None)
    want = pl.DataFrame([pl.Series(str(i), v, dtype=pl.String) for i, v in enumerate(values)])
    want.columns = names
    if with_text:  # (a frame of no columns has no rows to add the text to: the text is the frame)
        text_column = pl.Series(KEYWORD_TEXT, text, dtype=pl.String)
        want = want.with_columns(text_column) if names else text_column.to_frame()
    assert got.columns == want.columns and got.schema == want.schema and got.rows() == want.rows()


def test_every_ascii_and_escape_against_orjson() -> None:
    rows = [{chr(c): chr(c), f"k{chr(c)}x": f"v{chr(c)}" * 3} for c in range(128)]
    rows += [{"s": "".join(chr(c) for c in range(128)) * 3}]
    assert _both(rows) == _orjson_reference(rows)


def test_equal_keys_that_are_different_objects_share_columns() -> None:
    # keys built at run time are new str objects: same columns, by value, whatever their identity
    rows = [{"".join(["Ima", "ge"]): f"C:\\{i}.exe", "".join(["Comm", "andLine"]): str(i)} for i in range(50)]
    rows += [{"CommandLine": "last", "Image": "x"}]
    got_rows, ids, texts = _both(rows)
    assert (got_rows, ids, texts) == _orjson_reference(rows)
    assert build_raw_frame(rows)[0].columns == ["Image", "CommandLine"]


def test_values_the_frame_builder_used_to_refuse() -> None:
    # ints beyond 64 bits (a JSON number orjson reads as an int up to 2**64 - 1) made Polars' dict
    # import fail for the whole batch; they are text like any other int now
    rows = [{"n": 2**64 - 1}, {"n": 2**70, "m": -(2**70)}, {"n": "x"}]
    got_rows, _, texts = _both(rows)
    assert got_rows == [("18446744073709551615", None), ("1180591620717411303424", None),
                        ("x", None)] or got_rows[1] == ("1180591620717411303424", "-1180591620717411303424")
    assert texts[1] == '{"m":-1180591620717411303424,"n":1180591620717411303424}'
    # odd values (flattening never makes these, but a parser might): the same text on both paths
    odd = [{"a": [1, "x"], "b": {"z": 1, "a": 2}}, {"a": (1,)}]
    assert _both(odd)[2][0] == '{"a":[1,"x"],"b":{"a":2,"z":1}}'


def test_refusals_fall_back_to_the_reference() -> None:
    with pytest.raises(orjson.JSONEncodeError):  # a lone surrogate is not UTF-8: as before
        build_raw_frame([{"a": "ok"}, {"a": "\ud800"}])
    with pytest.raises(orjson.JSONEncodeError):  # so is a non-str key
        build_raw_frame([{1: "x"}])  # type: ignore[dict-item]


def test_empty_input() -> None:
    frame, ids, texts = build_raw_frame([], keep_json=True)
    assert frame.height == 0 and ids.len() == 0 and texts is not None and texts.len() == 0


@needs_native
def test_blake2b_against_hashlib_on_every_length_around_the_block_size() -> None:
    assert native is not None
    data = bytes(random.Random(3).randrange(256) for _ in range(1100))
    for length in [*range(0, 300), 383, 384, 385, 511, 512, 513, 1024, 1100]:
        assert native.blake2b_hex(data[:length]) == blake2b(data[:length], digest_size=16).hexdigest()


@needs_native
def test_the_c_builder_leaves_no_references_behind() -> None:
    rows = [{f"k{i % 7}": f"value number {i}" * (i % 3), "n": i, "f": i / 3, "z": None} for i in range(200)]
    for _ in range(3):
        build_raw_frame(rows, keep_json=True)
    gc.collect()
    before = sys.gettotalrefcount() if hasattr(sys, "gettotalrefcount") else None
    held = [k for row in rows[:7] for k in row] + [v for row in rows[:7] for v in row.values() if type(v) is str]
    counts = [sys.getrefcount(x) for x in held]
    for _ in range(50):
        build_raw_frame(rows, keep_json=True)
    gc.collect()
    assert counts == [sys.getrefcount(x) for x in held]
    if before is not None:
        assert abs(sys.gettotalrefcount() - before) < 100


def test_every_regression_sample_against_orjson_and_polars() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"the SigmaHQ regression data is not at {SHARED} (see ../shared/data/README)")
    import io

    from autosoc.ingest.jsonl import split_json

    rows = []
    for path in sorted(SHARED.rglob("*.json")):
        for piece in split_json(io.BytesIO(path.read_bytes())):
            record = orjson.loads(piece.data) if piece.error is None else None
            flat = flatten_windows(record) if isinstance(record, dict) else None
            if flat:
                rows.append(flat)
    assert len(rows) > 200
    for chunk in (rows, rows[:1], rows[::7]):
        assert _both(chunk) == _orjson_reference(chunk)


def test_floats_read_as_polars_writes_them() -> None:
    # Polars' own text for floats in a String column (shortest digits, plain notation), on floats of
    # every magnitude: the C code and the reference write it themselves, per value
    rng = random.Random(5)
    floats = [0.0, -0.0, 1.0, 100.0, 1e15, 1e16, 1e17, 1e20, 1e22, 1e-4, 1e-5, 1e-7, 5e-324, 2.2250738585072014e-308,
              1.7976931348623157e308, 0.1 + 0.2, 123456789.0, 47.6062, -122.3321, float("nan"), float("inf"),
              float("-inf")]
    floats += [rng.uniform(-1, 1) * 10.0 ** rng.randint(-330, 308) for _ in range(3000)]
    floats += [float(rng.randint(-(10**18), 10**18)) for _ in range(500)]
    floats += [round(rng.uniform(-180, 180), rng.randint(0, 8)) for _ in range(500)]
    rows = [{"f": value, "g": str(i)} for i, value in enumerate(floats)]
    got, ids, texts = _both(rows)
    want, want_ids, want_texts = _orjson_reference(rows)
    assert texts == want_texts and ids == want_ids
    for value, (ours, _), (polars, _) in zip(floats, got, want, strict=True):
        # Polars breaks a tie between two equally short spellings upwards (-871155287434590.25 ->
        # ...590.3), Python's repr to even (...590.2): both read back as the same float
        assert ours == polars or (float(ours) == float(polars) == value and len(ours) == len(polars)), value


def test_ids_of_rows_of_every_length_hashed_together() -> None:
    # the C code hashes rows a batch at a time, two at once: rows of every block count around the
    # 128-byte block, next to each other in every order, in batches and across their ends
    rng = random.Random(7)
    lengths = [*range(0, 300), *range(370, 400), *range(500, 530), 1100, 3000]
    rows = [{"v": "x" * n} for n in lengths]
    rows += rng.sample(rows, len(rows)) + [{"v": "y" * rng.randrange(2000), "w": i} for i in range(67)]
    want = [blake2b(orjson.dumps(row, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest() for row in rows]
    for count in (1, 2, 3, 31, 32, 33, 65, len(rows)):
        assert _ids(build_raw_frame(rows[:count])) == want[:count]
        assert _ids(build_raw_frame(rows[-count:], keep_json=True)) == want[-count:]


def test_arrow_series_takes_every_array_kind_as_polars_pyarrow_path_does() -> None:
    import pyarrow as pa

    from autosoc.normalize.columns import arrow_series, view_array

    values = ["short", None, "a value longer than twelve bytes", "", "é"]
    strings = pa.array(values, type=pa.string_view())
    sliced = pa.array(["x", *values], type=pa.string_view()).slice(1)
    uint32 = pa.Array.from_buffers(pa.uint32(), 3, [None, pa.py_buffer(b"\x01\0\0\0\x02\0\0\0\xff\xff\xff\xff")])
    flags = pa.Array.from_buffers(pa.bool_(), 4, [pa.py_buffer(b"\x0d"), pa.py_buffer(b"\x06")])
    times = pa.array([0, None, 1_700_000_000_123_456], type=pa.timestamp("us", "UTC"))
    for array in (strings, sliced, uint32, flags, times, pa.array([], type=pa.string_view())):
        got = arrow_series("name", array)
        want = pl.Series("name", array)
        assert got.name == "name" and got.dtype == want.dtype and got.to_list() == want.to_list()
    # the C code's views, as the decoder hands them over: no copy (the buffers are Polars' own now)
    frame, _, _ = build_raw_frame([{"a": "x" * 40, "b": None}, {"a": None, "b": "y"}])
    assert frame.get_column("a").to_list() == ["x" * 40, None] and frame.get_column("b").to_list() == [None, "y"]
    assert view_array(1, None, bytes(16), b"", 0).to_pylist() == [""]


def test_a_hunt_does_not_import_pyarrow_compute(tmp_path: Path) -> None:
    # Polars' pyarrow path imports pyarrow.compute on first use (~75 ms of a hunt's first batch);
    # arrow_series goes round it: a hunt through the decoder, the C prefilter and matcher, the C
    # lower case and the C time parse never needs it
    import subprocess

    from autosoc.normalize import decode

    if not decode.NATIVE:
        pytest.skip("the C decoder is not built")
    rule = tmp_path / "rules" / "whoami.yml"
    rule.parent.mkdir()
    rule.write_text(
        "title: Whoami\nid: 2f1b5c3e-1d7a-4b9e-9c55-0c3f2a7e8b11\nstatus: test\nlevel: low\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  sel:\n    CommandLine|contains: whoami\n    Image|endswith: '\\\\cmd.exe'\n"
        "  condition: sel\n")
    events = tmp_path / "events.jsonl"
    with events.open("wb") as out:
        for i in range(3000):
            out.write(orjson.dumps({"Event": {
                "System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
                           "Computer": f"HOST-{i % 7}", "TimeCreated": {"#attributes": {
                               "SystemTime": f"2025-01-01T00:00:{i % 60:02d}.000000Z"}}},
                "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe",
                              "CommandLine": f"cmd.exe /c {'whoami' if i % 3 == 0 else 'dir'} {i}"}}}) + b"\n")
    script = (
        "import sys\n"
        "from autosoc.runtime.hunt import HuntOptions, hunt\n"
        "got = []\n"
        f"options = HuntOptions(rules=[{str(rule.parent)!r}], use_cache=False)\n"
        f"stats = hunt([{str(events)!r}], options, on_signals=lambda s: got.extend(s))\n"
        "print(stats.events, len(got), 'pyarrow.compute' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["3000", "1000", "False"], done.stderr
