"""Building :class:`Signal` objects for the correlate tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autosoc.schema import Entity, Signal

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
_counter = iter(range(1, 10**9))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def sig(rule: str, level: str = "medium", hours: float = 0.0, *, user: str | None = None, host: str | None = None,
        ips: tuple[str, ...] = (), principal: str | None = None, detector: str = "sigma",
        tags: tuple[str, ...] = (), risk: int | None = None, event: str | None = None,
        no_time: bool = False) -> Signal:
    """One signal; each call gets a fresh event id (so a fresh signal id) unless ``event`` is given."""
    entities = [Entity("ip", ip) for ip in ips]
    if principal:
        entities.append(Entity("cloud_principal", principal))
    return Signal(
        rule_id=rule, title=f"Rule {rule}", level=level, status="test", tags=list(tags),
        event_ids=[event or f"ev-{next(_counter)}"], origins=[], time=None if no_time else at(hours),
        host=host, user=user, detector=detector, entities=entities, risk=risk,
    )
