"""The value normalizers the baselines key on."""

from __future__ import annotations

import polars as pl

from autosoc.detect.baselines import _columns as C


def test_map_distinct_calls_the_function_once_per_distinct_value() -> None:
    calls: list[str] = []

    def shout(value: str) -> str | None:
        calls.append(value)
        return None if value == "skip" else value.upper()

    frame = pl.DataFrame({"c": ["a", None, "b", "a", "skip"]})
    out = frame.select(C.map_distinct("c", frame["c"], shout))
    assert out["c"].to_list() == ["A", None, "B", "A", None]
    assert sorted(calls) == ["a", "b", "skip"]


def test_network_of() -> None:
    assert C.network_of(" 198.51.100.7 ") == "198.51.100.0/24"
    assert C.network_of("2001:db8:1:2::1") == "2001:db8:1::/48"
    assert C.network_of("::ffff:10.1.2.3") == "10.1.2.0/24"
    assert C.network_of("not an address") is None
