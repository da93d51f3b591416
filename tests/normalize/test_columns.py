"""Flat rows -> the raw string frame: shapes stacked back in row order, values as Sigma compares them."""

from __future__ import annotations

import polars as pl

from autosoc.normalize.columns import build_raw_frame
from autosoc.normalize.flatten import flatten_windows


def test_mixed_shapes_keep_row_and_column_order() -> None:
    rows = [{"a": 1, "b": "x"}, {"c": True, "a": "2"}, {"a": 3.5, "b": None}, {"b": "y", "a": 4}, {"c": False}]
    frame, ids, _ = build_raw_frame(rows)
    assert frame.columns == ["a", "b", "c"]
    assert frame.schema == pl.Schema({"a": pl.String, "b": pl.String, "c": pl.String})
    assert frame.rows() == [("1", "x", None), ("2", None, "true"), ("3.5", None, None), ("4", "y", None),
                            (None, None, "false")]
    single, single_ids, _ = build_raw_frame([rows[0]])
    assert single.rows() == [("1", "x")] and single_ids == ids[:1]
    # the id is the content: the same row in another batch, in any key order, has the same id
    assert build_raw_frame([{"b": "y", "a": 4}])[1] == [ids[3]]
    assert build_raw_frame([{"a": 4, "b": "y"}])[1] == [ids[3]]
    assert len(set(ids)) == len(ids)


def test_windows_event_data_odd_keys_do_not_break_flattening() -> None:
    record = {"Event": {"System": {"EventID": 1, "Channel": "X", "Provider": {"#attributes": {"Name": "P"}},
                                   "TimeCreated": {"#attributes": {"SystemTime": "t"}, "#text": "v"}},
                        "EventData": {"": "empty name", "#attributes": {"x": 1}, "Threat Name": "T", "N": 5,
                                      "Data": "d", "Flag": True}}}
    flat = flatten_windows(record)
    assert flat == {"EventID": 1, "Channel": "X", "Provider_Name": "P", "TimeCreated_SystemTime": "t",
                    "TimeCreated": "v", "": "empty name", "Threat Name": "T", "ThreatName": "T", "N": 5,
                    "Data": "d", "Flag": True}


def test_the_json_kept_for_the_lake_is_what_the_id_hashes() -> None:
    from hashlib import blake2b

    rows = [{"b": "x", "a": 1}, {"c": None}]
    _, ids, texts = build_raw_frame(rows, keep_json=True)
    assert texts == ['{"a":1,"b":"x"}', '{"c":null}']
    assert ids == [blake2b(t.encode(), digest_size=16).hexdigest() for t in texts]


def _reference(rows: list[dict]) -> tuple[list[tuple], list[str], list[str]]:
    """What the frame, ids and JSON must be: every row dumped with orjson's own key sorting, and
    one Polars frame built from all rows at once."""
    from hashlib import blake2b

    import orjson

    texts = [orjson.dumps(row, option=orjson.OPT_SORT_KEYS) for row in rows]
    names = dict.fromkeys(name for row in rows for name in row)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), strict=False)
    return frame.rows(), [blake2b(t, digest_size=16).hexdigest() for t in texts], [t.decode() for t in texts]


def test_frame_ids_and_json_match_the_reference_on_random_rows() -> None:
    import random

    rng = random.Random(11)
    keys = ["EventID", "Image", "CommandLine", "é", "Z", "a", "a b", "ünï", "_x", "10", "B", "b"]
    leaves = [None, True, False, 0, -7, 2**40, 1.5, -0.0, "", "x", "C:\\Windows\\a.exe", "ü\n\"q\"", "1e5"]
    rows = []
    for _ in range(600):
        chosen = rng.sample(keys, rng.randint(0, len(keys)))  # random order: shapes differ by order too
        rows.append({k: rng.choice(leaves) for k in chosen})
    rows += [dict(rows[0]), dict(reversed(list(rows[1].items())))]  # same content, other key order
    frame, ids, texts = build_raw_frame(rows, keep_json=True)
    expected_rows, expected_ids, expected_texts = _reference(rows)
    assert frame.rows() == expected_rows
    assert ids == expected_ids and texts == expected_texts
    assert ids[-1] == ids[1] and ids[-2] == ids[0]
