"""pySigma correlation rules -> :class:`CorrelationRule`, references resolved over the whole rule set.

pySigma 1.5 resolves a correlation's ``rules`` only inside one collection, so a correlation
whose base rules live in other files would fail there.  The loader therefore parses
correlations unresolved and hands them here once every file is compiled: references are looked
up by id (UUIDs compared canonically) and then by ``name``, across all files.

A correlation is skipped, with a code and a reason, never silently, when:

- ``correlation_missing_rule``: a referenced rule is not in the loaded files;
- ``correlation_rule_skipped``: a referenced rule (or correlation) was itself skipped;
- ``correlation_cycle``: correlations reference each other in a loop;
- ``unsupported_correlation_type`` / ``unsupported_correlation_condition``: pySigma extensions
  beyond the specification's four types and single-operator conditions (``value_sum``,
  ``value_avg``, ``value_percentile``, ``value_median``, string conditions).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule

from autosoc.detect.correlation.rules import OPERATORS, TYPES, CorrelationRule, RuleRef
from autosoc.detect.sigma.rules import CompiledRule, SkippedRule


@dataclass(slots=True)
class _Draft:
    rule: CorrelationRule  # refs hold only the reference text until resolved
    references: list[str]
    aliases: dict[str, dict[str, str]]  # alias -> rule reference -> field


def parse_correlation(rule: SigmaCorrelationRule, path: str) -> _Draft | SkippedRule:
    """The parts of a pySigma correlation the engine needs, or why it cannot run."""
    rule_id = str(rule.id or rule.name or rule.title)
    kind = rule.type.name.lower() if rule.type is not None else ""
    if kind not in TYPES:
        return SkippedRule(path, "unsupported_correlation_type",
                           f"correlation type {kind!r} is not one of {', '.join(TYPES)}", rule_id, rule.title,
                           rule.name or "")
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        return SkippedRule(path, "unsupported_correlation_condition",
                           "expression conditions (a string over rule names) are not supported; use a "
                           "count condition such as {gte: 2}", rule_id, rule.title, rule.name or "")
    op = condition.op.name.lower()
    if op not in OPERATORS:  # pragma: no cover - pySigma's operator set is ours
        return SkippedRule(path, "unsupported_correlation_condition", f"operator {op!r}", rule_id, rule.title)
    fieldref = condition.fieldref
    value_fields = tuple([fieldref] if isinstance(fieldref, str) else list(fieldref or ()))
    references = [r.reference for r in rule.rules or ()]
    aliases = {a.alias: {ref.reference: str(f) for ref, f in a.mapping.items()} for a in rule.aliases}
    compiled = CorrelationRule(
        id=rule_id,
        title=rule.title,
        type=kind,
        refs=(),
        group_by=tuple(rule.group_by or ()),
        timespan_seconds=int(rule.timespan.seconds),
        timespan=str(rule.timespan.spec),
        op=op,
        count=int(condition.count),
        value_fields=value_fields if kind == "value_count" else (),
        generate=bool(rule.generate),
        name=rule.name or "",
        level=rule.level.name.lower() if rule.level else "medium",
        status=rule.status.name.lower() if rule.status else "experimental",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        path=path,
        description=(rule.description or "").strip(),
        author=rule.author or "",
    )
    return _Draft(compiled, references, aliases)


def resolve_correlations(
    drafts: Sequence[_Draft], rules: Sequence[CompiledRule], skipped: Sequence[SkippedRule],
) -> tuple[list[CorrelationRule], list[SkippedRule]]:
    """Resolve every draft's references; order the result so referenced correlations come first."""
    index = _Index()
    for rule in rules:
        index.add(rule.id, rule.name, ("sigma", rule.id, rule.title))
    for draft in drafts:
        index.add(draft.rule.id, draft.rule.name, ("correlation", draft.rule.id, draft.rule.title))
    gone = _Index()
    for skip in skipped:
        gone.add(skip.rule_id, skip.name, ("skipped", skip.code, skip.reason))

    out_skipped: list[SkippedRule] = []
    resolved: dict[str, tuple[_Draft, list[RuleRef]]] = {}
    for draft in drafts:
        refs: list[RuleRef] = []
        problem: SkippedRule | None = None
        for reference in draft.references:
            target = index.get(reference)
            if target is None:
                lost = gone.get(reference)
                problem = _skip(draft, "correlation_rule_skipped",
                                f"references rule {reference!r}, which was skipped ({lost[1]}: {lost[2]})") \
                    if lost else _skip(draft, "correlation_missing_rule",
                                       f"references rule {reference!r}, which is not among the loaded rules; "
                                       "load the files that define it with --rules")
                break
            kind, target_id, title = target
            group_fields = tuple(_alias(draft.aliases, f, reference, target_id) for f in draft.rule.group_by)
            value_fields = tuple(_alias(draft.aliases, f, reference, target_id) for f in draft.rule.value_fields)
            refs.append(RuleRef(reference, kind, target_id, title, group_fields, value_fields))
        if problem is not None:
            out_skipped.append(problem)
        elif draft.rule.id in resolved:
            out_skipped.append(_skip(draft, "duplicate_rule_id", f"another correlation has the id {draft.rule.id}"))
        else:
            resolved[draft.rule.id] = (draft, refs)

    # drop correlations that reference dropped ones, and cycles, until nothing changes
    order = _topological(resolved, out_skipped)
    carried = _carry(order, resolved)
    final: list[CorrelationRule] = []
    for rule_id in order:
        draft, refs = resolved[rule_id]
        refs = [replace(r, carry_fields=tuple(_alias(draft.aliases, f, r.reference, r.id)
                                              for f in carried.get(rule_id, ()))) for r in refs]
        final.append(replace(draft.rule, refs=tuple(refs), carry=carried.get(rule_id, ())))
    return final, out_skipped


class _Index:
    """Rules by id (UUIDs canonical) and by name."""

    def __init__(self) -> None:
        self.ids: dict[str, tuple[str, str, str]] = {}
        self.names: dict[str, tuple[str, str, str]] = {}

    def add(self, rule_id: str, name: str, target: tuple[str, str, str]) -> None:
        if rule_id:
            self.ids.setdefault(_canonical_id(rule_id), target)
        if name:
            self.names.setdefault(name, target)

    def get(self, reference: str) -> tuple[str, str, str] | None:
        return self.ids.get(_canonical_id(reference)) or self.names.get(reference)


def _canonical_id(text: str) -> str:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        return str(text)


def _alias(aliases: Mapping[str, Mapping[str, str]], field: str, reference: str, target_id: str) -> str:
    """The field an alias names in one referenced rule's events (the field itself if no alias)."""
    mapping = aliases.get(field)
    if not mapping:
        return field
    for key, value in mapping.items():
        if key == reference or _canonical_id(key) == _canonical_id(target_id):
            return value
    return field


def _skip(draft: _Draft, code: str, reason: str) -> SkippedRule:
    return SkippedRule(draft.rule.path, code, reason, draft.rule.id, draft.rule.title, draft.rule.name)


def _topological(resolved: dict[str, tuple[_Draft, list[RuleRef]]], skipped: list[SkippedRule]) -> list[str]:
    """Correlation ids, children before parents; drops cycles and what depends on dropped rules."""
    done: dict[str, bool] = {}  # id -> kept
    order: list[str] = []
    for rule_id in resolved:
        if _cyclic(rule_id, resolved):
            done[rule_id] = False
            skipped.append(_skip(resolved[rule_id][0], "correlation_cycle",
                                 "correlations reference each other in a loop through this one"))

    def visit(rule_id: str) -> bool:
        if rule_id in done:
            return done[rule_id]
        draft, refs = resolved[rule_id]
        for ref in refs:
            if ref.kind == "correlation" and not (ref.id in resolved and visit(ref.id)):
                done[rule_id] = False
                skipped.append(_skip(draft, "correlation_rule_skipped",
                                     f"references correlation {ref.reference!r}, which was skipped"))
                return False
        done[rule_id] = True
        order.append(rule_id)
        return True

    for rule_id in resolved:
        visit(rule_id)
    return order


def _cyclic(start: str, resolved: dict[str, tuple[_Draft, list[RuleRef]]]) -> bool:
    """Whether ``start`` reaches itself through correlation references."""
    seen: set[str] = set()
    stack = [r.id for r in resolved[start][1] if r.kind == "correlation"]
    while stack:
        current = stack.pop()
        if current == start:
            return True
        if current in seen or current not in resolved:
            continue
        seen.add(current)
        stack += [r.id for r in resolved[current][1] if r.kind == "correlation"]
    return False


def _carry(order: list[str], resolved: dict[str, tuple[_Draft, list[RuleRef]]]) -> dict[str, tuple[str, ...]]:
    """Per correlation, the fields beyond its group-by that the correlations above it read from its results."""
    needed: dict[str, set[str]] = {}
    carried: dict[str, tuple[str, ...]] = {}
    for rule_id in reversed(order):  # parents before children
        draft, refs = resolved[rule_id]
        carry = tuple(sorted(needed.get(rule_id, set()) - set(draft.rule.group_by)))
        carried[rule_id] = carry
        for ref in refs:
            if ref.kind == "correlation":
                want = needed.setdefault(ref.id, set())
                want.update(ref.group_fields, ref.value_fields)
                want.update(_alias(draft.aliases, f, ref.reference, ref.id) for f in carry)
    return carried
