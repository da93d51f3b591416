"""A :class:`Firing` -> the :class:`Signal` a person reads: entities, evidence, one explanation sentence."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta

from autosoc.detect.correlation.hits import MAX_LISTED
from autosoc.detect.correlation.rules import CorrelationRule, format_span
from autosoc.detect.correlation.windows import Firing
from autosoc.errors import Origin
from autosoc.schema import Entity, Signal

DETECTOR = "sigma_correlation"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_A_NAME = re.compile(r"(sid|guid|uuid|domain|type|id)$", re.I)
_HOST_FIELD = re.compile(r"computer|host|workstation|machine|device|dvc", re.I)
_USER_FIELD = re.compile(r"user|account|principal|logon_?name|samaccount", re.I)
_EMPTY = ("", "-", "n/a", "null", "none")
_MAX_VALUES = 10  # distinct values quoted in a value_count explanation


def to_datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def group_entities(rule: CorrelationRule, group: tuple[str, ...]) -> list[Entity]:
    """Users, hosts and IPs named by the group-by values (field name and value decide the kind)."""
    out: list[Entity] = []
    for name, value in zip(rule.group_by, group, strict=True):
        fields = {name, *(ref.group_fields[rule.group_by.index(name)] for ref in rule.refs)}
        kind = entity_kind(fields, value)
        if kind and Entity(kind, value) not in out:
            out.append(Entity(kind, value))
    return out


def entity_kind(fields: set[str], value: str) -> str | None:
    text = value.strip()
    if text.lower() in _EMPTY:
        return None
    try:
        ipaddress.ip_address(text)
        return "ip"
    except ValueError:
        pass
    names = [f.rsplit(".", 1)[-1] if "." in f else f for f in fields]
    if any(_HOST_FIELD.search(n) and not _NOT_A_NAME.search(n) for n in names):
        return "host"
    if any(_USER_FIELD.search(n) and not _NOT_A_NAME.search(n) for n in names):
        return "user"
    return None


def uniform(values: list[str | None]) -> str | None:
    """The one value all contributing events agree on, else None."""
    first = values[0] if values else None
    return first if first is not None and all(v == first for v in values) else None


def build_signal(rule: CorrelationRule, firing: Firing) -> Signal:
    hits = firing.hits
    event_ids: dict[str, None] = {}
    origins: dict[tuple[str, str, int | None], None] = {}
    for hit in hits:
        for event_id in hit.event_ids:
            event_ids.setdefault(event_id, None)
        for origin in hit.origins:
            origins.setdefault(origin, None)
    total = sum(h.events for h in hits)
    entities = group_entities(rule, firing.group)
    host = next((e.value for e in entities if e.kind == "host"), None) or uniform([h.host for h in hits])
    user = next((e.value for e in entities if e.kind == "user"), None) or uniform([h.user for h in hits])
    extra = [e for e in entities if not (e.kind == "host" and e.value == host) and not (
        e.kind == "user" and e.value == user)]
    return Signal(
        rule_id=rule.id,
        title=rule.title,
        level=rule.level,
        status=rule.status,
        tags=list(rule.tags),
        event_ids=list(event_ids)[:MAX_LISTED],
        origins=[Origin(s, p, r) for s, p, r in list(origins)[:MAX_LISTED]],
        time=to_datetime(firing.time),
        host=host,
        user=user,
        matched=dict(zip(rule.group_by, firing.group, strict=True)),
        detector=DETECTOR,
        rule_path=rule.path,
        description=rule.description,
        entities=extra,
        explanation=explain(rule, firing, total, len(event_ids)),
    )


def explain(rule: CorrelationRule, firing: Firing, total: int, distinct: int) -> str:
    hits = firing.hits
    names = _titles(rule, sorted({h.ref for h in hits}))
    scope = (" for " + ", ".join(f"{k}={v}" for k, v in zip(rule.group_by, firing.group, strict=True))
             if rule.group_by else "")
    span = format_span(rule.timespan_seconds)
    within = (f"in the {span} window from {to_datetime(firing.start):%Y-%m-%d %H:%M:%S} UTC" if firing.at_close
              else f"within {span}")
    condition = f"condition {rule.op} {rule.count}"
    if rule.type == "event_count":
        text = f"{firing.measure} events ({names}){scope} {within}, {condition}"
    elif rule.type == "value_count":
        values = sorted({", ".join(h.value) for h in hits if h.value is not None})
        shown = ", ".join(values[:_MAX_VALUES]) + (f", ... ({len(values) - _MAX_VALUES} more)"
                                                   if len(values) > _MAX_VALUES else "")
        field = "+".join(rule.value_fields)
        text = (f"{firing.measure} distinct {field} values [{shown}] in {len(hits)} events ({names}){scope} "
                f"{within}, {condition}")
    elif rule.type == "temporal":
        text = (f"{firing.measure} of {len(rule.refs)} rules matched ({names}){scope} {within}, {condition}")
    else:
        ordered = " then ".join(f"'{r.title}'" for r in rule.refs[:firing.measure]) or "no rule"
        text = f"{ordered} matched in order{scope} {within} ({firing.measure} of {len(rule.refs)}), {condition}"
    if distinct > MAX_LISTED:
        text += f"; {distinct} events contributed, the first {MAX_LISTED} are listed"
    elif total > distinct:
        text += f"; {total} events contributed, {distinct} are listed"
    return text


def _titles(rule: CorrelationRule, refs: list[int]) -> str:
    titles = [f"'{rule.refs[i].title}'" for i in refs]
    return ("rule " if len(titles) == 1 else "rules ") + ", ".join(titles)
