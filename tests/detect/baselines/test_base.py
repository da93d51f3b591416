"""The entity store the baselines keep their state in: idle expiry and eviction."""

from __future__ import annotations

import orjson

from autosoc.detect.baselines import EntityStore


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
