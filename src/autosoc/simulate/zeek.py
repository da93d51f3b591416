"""Zeek ``conn.log`` records (JSON lines, as ``LogAscii::use_json=T`` writes them) from the perimeter sensor.

The sensor sees traffic between the internal networks and the Internet: office workstations
(not people at home or abroad), the servers' updates, backups and DNS forwarding, and Internet
clients reaching the web server.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, MINUTE, day_start, zeek_ts
from autosoc.simulate.ids import alnum
from autosoc.simulate.org import Organisation
from autosoc.simulate.presence import Segment, resolve

Emit = Callable[[int, dict[str, Any]], None]
SITES = [(n, port) for _, names, _, port in ipplan.SERVICES for n in names]
SERVER_SITES = {"web": ("api.github.com", "download.windowsupdate.com", "fe3cr.delivery.mp.microsoft.com"),
                "deploy": ("download.windowsupdate.com", "fe3cr.delivery.mp.microsoft.com"),
                "backup": ("s3.amazonaws.com",)}


def conn(rng: random.Random, us: int, orig: str, resp: str, port: int, *, proto: str = "tcp",
         service: str | None = "ssl", duration: float | None = None, orig_bytes: int | None = None,
         resp_bytes: int | None = None, state: str = "SF") -> dict[str, Any]:
    """One ``conn.log`` entry; unset optional fields are left out, as Zeek's JSON writer does."""
    if duration is None:
        duration = round(rng.expovariate(1 / 8.0), 6)
    if orig_bytes is None:
        orig_bytes = rng.randrange(300, 6_000)
    if resp_bytes is None:
        resp_bytes = rng.randrange(1_000, 400_000)
    orig_pkts = max(1, orig_bytes // 700 + rng.randrange(3, 9))
    resp_pkts = max(1, resp_bytes // 1400 + rng.randrange(2, 6))
    rec: dict[str, Any] = {
        "ts": zeek_ts(us),
        "uid": "C" + alnum(rng, 17),
        "id.orig_h": orig,
        "id.orig_p": rng.randrange(49152, 65535),
        "id.resp_h": resp,
        "id.resp_p": port,
        "proto": proto,
    }
    if service:
        rec["service"] = service
    rec.update({
        "duration": duration,
        "orig_bytes": orig_bytes,
        "resp_bytes": resp_bytes,
        "conn_state": state,
        "local_orig": orig.startswith("10."),
        "local_resp": resp.startswith("10."),
        "missed_bytes": 0,
        "history": ("ShADadFf" if proto == "tcp" else "Dd") if state == "SF" else "S",
        "orig_pkts": orig_pkts,
        "orig_ip_bytes": orig_bytes + 40 * orig_pkts,
        "resp_pkts": resp_pkts,
        "resp_ip_bytes": resp_bytes + 40 * resp_pkts,
    })
    return rec


def zeek_day(rng: random.Random, org: Organisation, day: date, segments: dict[str, tuple[Segment, ...]],
             emit: Emit) -> None:
    base = day_start(day)
    for user in org.users:
        ws = org.by_host[user.host]
        for seg in segments.get(user.sam, ()):
            if not seg.at_office:
                continue
            for _ in range(int((seg.end - seg.start) / HOUR * rng.uniform(9, 15))):
                us = rng.randrange(seg.start, seg.end)
                name, port = rng.choice(SITES)
                emit(us, conn(rng, us, ws.ip, resolve(name), port))
    dcs = org.servers("dc")
    for _ in range(rng.randrange(300, 600) if day.weekday() < 5 else rng.randrange(80, 150)):
        us = base + rng.randrange(0, 24 * HOUR)
        dc = rng.choice(dcs)
        emit(us, conn(rng, us, dc.ip, rng.choice(ipplan.DNS_FORWARDERS), 53, proto="udp", service="dns",
                      duration=round(rng.uniform(0.005, 0.08), 6), orig_bytes=rng.randrange(30, 80),
                      resp_bytes=rng.randrange(60, 400)))
    for host in org.servers():
        for name in SERVER_SITES.get(host.role, ()):
            for _ in range(rng.randrange(2, 12)):
                us = base + rng.randrange(0, 24 * HOUR)
                emit(us, conn(rng, us, host.ip, resolve(name), 443))
        if host.role == "backup":  # nightly off-site copy
            us = base + 2 * HOUR + rng.randrange(0, 30 * MINUTE)
            emit(us, conn(rng, us, host.ip, resolve("s3.amazonaws.com"), 443,
                          duration=round(rng.uniform(1800, 3600), 3),
                          orig_bytes=rng.randrange(2 * 10**9, 6 * 10**9), resp_bytes=rng.randrange(10**6, 5 * 10**6)))
        if host.role == "web":  # Internet customers
            pools = [p for group in ipplan.HOME_ISPS.values() for p in group]
            for _ in range(rng.randrange(400, 900)):
                us = base + rng.randrange(0, 24 * HOUR)
                emit(us, conn(rng, us, rng.choice(pools).pick(rng), host.ip, 443, orig_bytes=rng.randrange(500, 9_000),
                              resp_bytes=rng.randrange(5_000, 600_000)))
