"""Entity keys, deny list and degree-based hubs."""

from __future__ import annotations

from autosoc.correlate import DEFAULT_DENY, EntityGraph, entity_key
from autosoc.schema import Entity

H = 3_600 * 1_000_000


def graph(hub_degree: int = 3, deny: tuple[str, ...] = DEFAULT_DENY) -> EntityGraph:
    return EntityGraph(deny=deny, hub_degree=hub_degree, window_us=24 * H)


def test_a_host_named_by_its_address_is_that_ip() -> None:
    assert entity_key(Entity("host", "10.0.0.5")) == "ip:10.0.0.5"
    assert entity_key(Entity("host", "ws-042")) == "host:ws-042"
    assert entity_key(Entity("host", "2001:db8::1")) == "ip:2001:db8::1"
    assert entity_key(Entity("user", "10.0.0.5")) == "user:10.0.0.5"


def test_default_deny_list() -> None:
    g = graph()
    for key in ("ip:127.0.0.1", "ip:::1", "ip:0.0.0.0", "ip:169.254.10.1", "ip:fe80::1", "ip:239.255.255.250",
                "user:system", "user:local service", "user:network service", "user:anonymous logon",
                "user:dwm-1", "user:-", "host:-", "cloud_principal:cloudtrail.amazonaws.com"):
        assert g.denied(key), key
        assert g.is_hub(key, 0), key
    for key in ("ip:10.0.0.5", "ip:192.168.1.20", "ip:203.0.113.7", "user:alice", "user:administrator",
                "host:ws-042", "cloud_principal:arn:aws:iam::123456789012:user/alice"):
        assert not g.denied(key), key


def test_links_are_symmetric_and_timed() -> None:
    g = graph()
    g.observe(["user:alice", "host:ws-1", "ip:10.0.0.42"], 0)
    assert g.neighbours("user:alice", 0) == ["host:ws-1", "ip:10.0.0.42"]
    assert g.neighbours("host:ws-1", 0) == ["user:alice", "ip:10.0.0.42"]
    assert g.degree("host:ws-1", 0, "user") == 1
    assert g.neighbours("user:alice", 25 * H) == []  # the window has passed


def test_degree_makes_a_hub_while_it_lasts() -> None:
    g = graph(hub_degree=3)
    for i, host in enumerate(("host:a", "host:b")):
        g.observe(["ip:10.0.0.53", host], i * H)
    assert not g.is_hub("ip:10.0.0.53", 2 * H)
    g.observe(["ip:10.0.0.53", "host:c"], 2 * H)
    assert g.is_hub("ip:10.0.0.53", 2 * H)
    assert not g.is_hub("host:a", 2 * H)
    assert not g.is_hub("ip:10.0.0.53", 25 * H)  # host:a's link is out of the window


def test_neighbours_are_bounded_and_expire() -> None:
    g = graph(hub_degree=5)
    for i in range(50):
        g.observe(["ip:10.0.0.53", f"host:h{i}"], i)
    assert len(g.state.get("ip:10.0.0.53")) == 5
    assert g.neighbours("ip:10.0.0.53", 50) == [f"host:h{i}" for i in range(45, 50)]
    g.expire(100)
    assert len(g.state) == 0


def test_deny_extra_globs() -> None:
    g = graph(deny=("host:dc*", "ip:10.0.0.53"))
    assert g.denied("host:dc01") and g.denied("ip:10.0.0.53")
    assert not g.denied("host:ws-dc") and not g.denied("ip:10.0.0.530")
