"""The entity graph: which entities appeared together in signals, and which of them are hubs.

Every signal links its entities to each other (alice ↔ WS-042 ↔ 10.0.0.42 ↔ her cloud principal),
with the event time of the last signal that did.  A link counts for ``window`` of event time.

A *hub* is an entity that would glue unrelated stories together: a domain controller every logon
touches, the DNS server, a proxy, ``127.0.0.1``, the ``SYSTEM`` account, the org's cloud account.
Hubs are found two ways:

- a deny list of ``kind:value`` globs (the defaults in :data:`.config.DEFAULT_DENY` cover loopback,
  link-local and multicast addresses, Windows service and anonymous accounts, placeholders like
  ``-`` and AWS service principals); denied entities are not even linked;
- degree: an entity linked to ``hub_degree`` distinct entities within the window is a hub for as
  long as it stays that connected.

Private addresses are *not* denied: an org's server at 10.0.0.5 identifies that server.  A host
entity whose value is an IP address is the same thing as that IP, so it is keyed ``ip:`` (see
:func:`entity_key`).

Each entity keeps at most ``hub_degree`` neighbours (the most recent): enough to tell that it is
a hub, and memory stays bounded however connected it is.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable

from autosoc.correlate._state import KeyedState
from autosoc.schema import Entity

_DENY_CACHE_LIMIT = 100_000


def entity_key(entity: Entity) -> str:
    """``kind:value`` of a canonical entity; a host named by an IP address becomes that ``ip:``."""
    if entity.kind == "host" and _is_ip(entity.value):
        return f"ip:{entity.value}"
    return f"{entity.kind}:{entity.value}"


def _is_ip(value: str) -> bool:
    if not value or not (value[0].isdigit() or ":" in value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def kind_of(key: str) -> str:
    return key.partition(":")[0]


class EntityGraph:
    """Links between entity keys with their last event time; hub detection by deny list and degree.

    State per key: ``{neighbour_key: last_link_us}``.
    """

    __slots__ = ("_deny", "_deny_cache", "hub_degree", "state", "window")

    def __init__(self, *, deny: Iterable[str], hub_degree: int, window_us: int) -> None:
        globs = [fnmatch.translate(glob) for glob in deny]
        self._deny = re.compile("|".join(f"(?:{g})" for g in globs)) if globs else None
        self._deny_cache: dict[str, bool] = {}
        self.hub_degree = hub_degree
        self.window = window_us
        self.state = KeyedState("g/")

    def denied(self, key: str) -> bool:
        """On the deny list (always a hub, never linked, never collects risk)."""
        if self._deny is None:
            return False
        hit = self._deny_cache.get(key)
        if hit is None:
            if len(self._deny_cache) >= _DENY_CACHE_LIMIT:
                self._deny_cache.clear()
            hit = self._deny_cache[key] = self._deny.match(key) is not None
        return hit

    def observe(self, keys: list[str], t: int) -> None:
        """Link every pair of ``keys`` (the non-denied entities of one signal) at ``t``."""
        for a in keys:
            for b in keys:
                if a != b:
                    self._link(a, b, t)

    def neighbours(self, key: str, t: int) -> list[str]:
        """Entities linked to ``key`` within the window around ``t``, in link order."""
        links = self.state.get(key)
        if not links:
            return []
        since = t - self.window
        return [other for other, at in links.items() if at >= since]

    def degree(self, key: str, t: int, kind: str | None = None) -> int:
        """Distinct entities (of ``kind``, if given) linked to ``key`` within the window around ``t``."""
        links = self.state.get(key)
        if not links:
            return 0
        since = t - self.window
        return sum(1 for other, at in links.items() if at >= since and (kind is None or kind_of(other) == kind))

    def is_hub(self, key: str, t: int) -> bool:
        if self.denied(key):
            return True
        links = self.state.get(key)
        return bool(links) and len(links) >= self.hub_degree and self.degree(key, t) >= self.hub_degree

    def expire(self, cutoff: int) -> None:
        """Forget links last seen before ``cutoff``."""
        for key in list(self.state.data):
            links = self.state.data[key]
            stale = [other for other, at in links.items() if at < cutoff]
            if not stale:
                continue
            for other in stale:
                del links[other]
            if links:
                self.state.touch(key)
            else:
                self.state.delete(key)

    def _link(self, a: str, b: str, t: int) -> None:
        links = self.state.get(a)
        if links is None:
            links = {}
        at = links.get(b)
        if at is not None:
            if t <= at:
                return
            links[b] = t
        else:
            if len(links) >= self.hub_degree:
                oldest = min(links, key=lambda k: (links[k], k))
                if links[oldest] > t:
                    return  # every neighbour kept is newer than this late link
                del links[oldest]
            links[b] = t
        self.state.put(a, links)
