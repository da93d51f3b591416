"""Checkpoints: restore mid-stream equals an uninterrupted run; dirty snapshots; batching does not matter."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from autosoc.correlate import CorrelateConfig, IncidentEngine
from autosoc.errors import StoreError
from autosoc.schema import Signal

from ._signals import at, sig

TACTICS = ("attack.execution", "attack.persistence", "attack.credential-access", "attack.discovery",
           "attack.lateral-movement", "attack.command-and-control", "attack.exfiltration")
LEVELS = ("informational", "low", "medium", "high", "critical")


def stream(n: int = 900, seed: int = 7) -> list[Signal]:
    """A deterministic mixed stream over a week: 40 users on their workstations with some lateral
    movement, servers, a DNS server everybody talks to, loopback, baselines, duplicates, late and
    time-less signals."""
    rng = random.Random(seed)
    out: list[Signal] = []
    hours = 0.0
    for _ in range(n):
        hours += rng.expovariate(1 / 0.2)
        if out and rng.random() < 0.03:
            out.append(rng.choice(out))  # a duplicate
            continue
        u = rng.randrange(40)
        host = f"ws-{u:03d}" if rng.random() < 0.8 else f"srv-{rng.randrange(5)}"
        ips = tuple(ip for ip, p in (("10.0.0.53", 0.3), ("127.0.0.1", 0.1), (f"198.51.100.{u}", 0.2))
                    if rng.random() < p)
        rule = rng.randrange(25)
        level = rng.choices(LEVELS, weights=(20, 40, 33, 6, 1))[0]
        out.append(sig(
            f"r{rule}", level, hours - rng.random() * 0.5, user=f"user{u}" if rng.random() < 0.9 else "SYSTEM",
            host=host, ips=ips, detector=rng.choice(("sigma", "sigma", "baseline", "sigma_correlation")),
            tags=tuple(rng.sample(TACTICS, rng.randrange(3))), no_time=rng.random() < 0.01,
        ))
    return out


CONFIG = {"hub_degree": 12, "join_window": timedelta(hours=12)}


def batches(signals: list[Signal], size: int) -> list[list[Signal]]:
    return [signals[i:i + size] for i in range(0, len(signals), size)]


def uninterrupted(signals: list[Signal], size: int = 30, config: dict | None = None
                  ) -> tuple[list[dict], IncidentEngine]:
    engine = IncidentEngine(CorrelateConfig(**(config or CONFIG)))
    out = [inc.as_dict() for batch in batches(signals, size) for inc in engine.process(batch)]
    return out, engine


def membership(signals: list[Signal], config: dict) -> list[str | None]:
    """``incident_of`` of each signal, asked right after the batch holding it (as the runtime does)."""
    engine = IncidentEngine(CorrelateConfig(**config))
    out: list[str | None] = []
    for batch in batches(signals, 30):
        engine.process(batch)
        out.extend(engine.incident_of(s.signal_id) for s in batch)
    return out


def test_the_stream_exercises_every_path() -> None:
    out, _ = uninterrupted(stream())
    statuses = {d["status"] for d in out}
    assert statuses == {"open", "merged"}
    assert len({d["incident_id"] for d in out}) >= 10
    assert any(d["reason"].startswith("risk of") for d in out)


@pytest.mark.parametrize("config", [CONFIG, {**CONFIG, "max_incident_signals": 5}], ids=["default", "capped"])
def test_restore_at_every_batch_equals_an_uninterrupted_run(config: dict) -> None:
    signals = stream()
    expected, reference = uninterrupted(signals, config=config)
    got: list[dict] = []
    members: list[str | None] = []
    engine = IncidentEngine(CorrelateConfig(**config))
    for batch in batches(signals, 30):
        got.extend(inc.as_dict() for inc in engine.process(batch))
        members.extend(engine.incident_of(s.signal_id) for s in batch)
        state = engine.snapshot()
        engine = IncidentEngine(CorrelateConfig(**config))  # a crash and a restart
        engine.restore(state)
    assert got == expected
    assert engine.snapshot() == reference.snapshot()
    assert members == membership(signals, config)
    assert sum(m is not None for m in members) > 100


def test_dirty_snapshots_reconstruct_the_full_state() -> None:
    signals = stream()
    expected, _ = uninterrupted(signals)
    engine = IncidentEngine(CorrelateConfig(**CONFIG))
    store: dict[str, bytes] = {}
    got: list[dict] = []
    sizes = []
    for i, batch in enumerate(batches(signals, 30)):
        got.extend(inc.as_dict() for inc in engine.process(batch))
        dirty = engine.snapshot(dirty_only=True)
        sizes.append(len(dirty))
        for key, value in dirty.items():
            if value:
                store[key] = value
            else:
                store.pop(key, None)
        engine.mark_clean()
        assert store == engine.snapshot()
        assert engine.snapshot(dirty_only=True) == {}
        if i == 12:  # restart from the store built from dirty snapshots only
            engine = IncidentEngine(CorrelateConfig(**CONFIG))
            engine.restore(dict(store))
    assert got == expected
    assert max(sizes) < len(store) + 200  # a dirty snapshot holds what changed, not everything


def test_a_dirty_snapshot_holds_only_what_changed() -> None:
    engine = IncidentEngine(CorrelateConfig())
    engine.process([sig("a", "high", 0, user="alice", host="ws-1"), sig("b", "low", 1, user="bob")])
    engine.mark_clean()
    later = sig("c", "low", 2, user="carol")
    engine.process([later])
    assert sorted(engine.snapshot(dirty_only=True)) == ["m/user:carol", "meta", "r/user:carol",
                                                        f"s/{later.signal_id}"]
    engine.mark_clean()
    joined = sig("d", "low", 3, user="alice")
    engine.process([joined])
    dirty = engine.snapshot(dirty_only=True)
    assert sorted(dirty) == ["i/" + engine.incident_of(joined.signal_id), "meta", "r/user:alice"]


def test_a_dirty_snapshot_marks_deleted_keys() -> None:
    engine = IncidentEngine(CorrelateConfig())
    engine.process([sig("a", "low", 0, user="alice")])
    engine.mark_clean()
    engine.process([sig("b", "low", 24 * 20, user="bob")])
    dirty = engine.snapshot(dirty_only=True)
    assert dirty["r/user:alice"] == b"" and dirty["m/user:alice"] == b""


def test_batching_does_not_change_the_result() -> None:
    signals = stream(600, seed=11)
    one_by_one = IncidentEngine(CorrelateConfig(**CONFIG))
    final_a = {}
    for s in signals:
        final_a.update({inc.incident_id: inc.as_dict() for inc in one_by_one.process([s])})
    all_at_once = IncidentEngine(CorrelateConfig(**CONFIG))
    final_b = {inc.incident_id: inc.as_dict() for inc in all_at_once.process(signals)}
    assert final_a == final_b
    assert one_by_one.snapshot() == all_at_once.snapshot()


def test_restore_rejects_corrupt_state() -> None:
    engine = IncidentEngine(CorrelateConfig())
    with pytest.raises(StoreError, match="not valid JSON") as info:
        engine.restore({"meta": b"{", "r/user:alice": b"[1.0"})
    assert info.value.code == "bad_state"
    with pytest.raises(StoreError, match="unexpected shape"):
        engine.restore({"meta": b"[]"})


def test_signals_arrive_out_of_order() -> None:
    """A story whose signals arrive shuffled by up to the lateness still lands in one incident."""
    story = [
        sig("new_asn", "medium", 0.5, user="alice", detector="baseline", risk=40),
        sig("encoded_ps", "medium", 0, user="alice", host="ws-1", tags=("attack.execution",)),
        sig("dump", "medium", 0.2, user="alice", host="ws-1", tags=("attack.credential-access",)),
    ]
    engine = IncidentEngine(CorrelateConfig())
    (inc,) = engine.process(story)
    assert inc.first_seen == at(0) and inc.last_seen == at(0.5)
    assert sorted(inc.signal_ids) == sorted(s.signal_id for s in story)
