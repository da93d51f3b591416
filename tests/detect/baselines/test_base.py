"""The entity store the baselines keep their state in: idle expiry and eviction."""

from __future__ import annotations

import orjson
import polars as pl

from autosoc.detect.baselines import EntityStore
from autosoc.detect.baselines.base import MAX_EVIDENCE, Drafts, evidence, group_rows
from autosoc.normalize import fields as F


def test_expire_drops_idle_keys_whatever_order_they_came_in() -> None:
    store = EntityStore(max_keys=10)
    store.put("a", {"t": 100})
    store.expire(50)
    assert sorted(store.data) == ["a"]
    store.put("late", {"t": 10})  # a new key idler than every key before it
    store.expire(50)
    assert sorted(store.data) == ["a"]
    store.data["a"]["t"] = 300  # values are updated in place, their time only moves forward
    store.put("b", {"t": 200})
    store.expire(150)
    assert sorted(store.data) == ["a", "b"]
    store.expire(250)
    assert sorted(store.data) == ["a"]
    assert store.snapshot(dirty_only=True) == {"a": orjson.dumps({"t": 300}), "b": b"", "late": b""}


def test_expire_after_restore_reads_the_restored_keys() -> None:
    store = EntityStore(max_keys=10)
    store.put("a", {"t": 500})
    store.expire(400)
    store.restore({"old": orjson.dumps({"t": 100}), "a": orjson.dumps({"t": 500})})
    store.expire(400)
    assert sorted(store.data) == ["a"]


def test_evict_drops_the_idlest_ties_by_key() -> None:
    store = EntityStore(max_keys=2)
    for key, t in (("c", 5), ("a", 5), ("b", 9)):
        store.put(key, {"t": t})
    store.evict()
    assert sorted(store.data) == ["b", "c"]


def test_group_rows_read_each_groups_first_row_and_cite_its_first_events() -> None:
    n = MAX_EVIDENCE + 5
    frame = pl.DataFrame({
        F.EVENT_ID: [f"e{i}" for i in range(2 * n)], F.ORIGIN_SOURCE: ["jsonl"] * 2 * n,
        F.ORIGIN_PATH: ["a.jsonl"] * 2 * n, F.ORIGIN_RECORD: list(range(1, 2 * n + 1)),
        "user": ["Bob", "alice"] * n, "ip": [f"10.0.0.{i}" for i in range(2 * n)]})
    key = pl.col("user").str.to_lowercase().alias("_user")
    alice, bob = group_rows(frame, (key,), [("alice",), ("bob",)], (pl.col("_user"), pl.col("ip").alias("_ip")))
    # in the order asked for; the columns of the group's first event, in frame order
    assert (alice["_user"], alice["_ip"], bob["_user"], bob["_ip"]) == ("alice", "10.0.0.1", "bob", "10.0.0.0")
    ids, origins = evidence(alice)
    assert ids == [f"e{i}" for i in range(1, 2 * MAX_EVIDENCE, 2)]
    assert [o.record for o in origins] == list(range(2, 2 * MAX_EVIDENCE + 1, 2))


def test_drafts_make_their_signals_in_order_from_one_read() -> None:
    frame = pl.DataFrame({F.EVENT_ID: ["a", "b", "c"], F.ORIGIN_SOURCE: ["s"] * 3, F.ORIGIN_PATH: ["p"] * 3,
                          F.ORIGIN_RECORD: [1, 2, 3], "k": [2, 1, 2]})
    drafts = Drafts((pl.col("k"),), ())
    assert drafts.signals(frame) == []
    drafts.add((2,), lambda row: evidence(row)[0])
    drafts.add((1,), lambda row: evidence(row)[0])
    assert drafts.signals(frame) == [["a", "c"], ["b"]]
