"""pySigma's parsed detection -> the engine IR (:mod:`.ir`).

pySigma has already applied every value modifier (contains, windash, base64offset, wide ...),
so values arrive as SigmaString (with wildcard parts), SigmaExpansion, SigmaRegularExpression,
SigmaCIDRExpression, SigmaCompareExpression, SigmaFieldReference, SigmaNull, SigmaExists,
SigmaNumber or SigmaBool.  Strings are classified here into cheap string ops (eq / contains /
startswith / endswith) and only fall back to an anchored regex when a wildcard sits inside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaRule
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred
from autosoc.errors import RuleError

_MULTI = SpecialChars.WILDCARD_MULTI
_SINGLE = SpecialChars.WILDCARD_SINGLE
_FLAG = {SigmaRegularExpressionFlag.IGNORECASE: "i", SigmaRegularExpressionFlag.MULTILINE: "m",
         SigmaRegularExpressionFlag.DOTALL: "s"}
_CMP = {"LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte", "NEQ": "neq"}

# The specification names UTF-16LE ``utf16le`` with ``wide`` as its alias; pySigma 1.x knows only ``wide``.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)


def compile_detection(rule: SigmaRule, placeholders: Mapping[str, Sequence[str]] | None = None) -> Node:
    """The whole detection of ``rule`` (several conditions are OR-ed, as the spec says)."""
    compiler = _Compiler(placeholders or {})
    try:
        nodes = [compiler.node(condition.parsed) for condition in rule.detection.parsed_condition]
    except SigmaError as exc:  # conditions are parsed lazily: undefined identifiers, syntax errors
        raise RuleError(" ".join(str(exc).split()), code="invalid_condition") from exc
    return simplify(nodes[0] if len(nodes) == 1 else Or(tuple(nodes)))


class _Compiler:
    def __init__(self, placeholders: Mapping[str, Sequence[str]]) -> None:
        self.placeholders = placeholders

    def node(self, item: object) -> Node:
        if isinstance(item, ConditionAND):
            return And(tuple(self.node(a) for a in item.args))
        if isinstance(item, ConditionOR):
            return Or(tuple(self.node(a) for a in item.args))
        if isinstance(item, ConditionNOT):
            return Not(self.node(item.args[0]))
        if isinstance(item, ConditionFieldEqualsValueExpression):
            return self.value(item.field, item.value)
        if isinstance(item, ConditionValueExpression):
            return self.value(None, item.value)
        raise RuleError(f"unsupported condition element {type(item).__name__}", code="unsupported_condition")

    def value(self, field: str | None, value: object) -> Node:
        if isinstance(value, SigmaExpansion):
            return Or(tuple(self.value(field, v) for v in value.values))
        if isinstance(value, SigmaString):
            cased = isinstance(value, SigmaCasedString)
            if value.contains_placeholder():
                return Or(tuple(string_pred(field, s, cased) for s in value.replace_placeholders(self._expand)))
            return string_pred(field, value, cased)
        if isinstance(value, SigmaBool):
            return Pred(field, "eq", ("true" if value.boolean else "false",))
        if isinstance(value, SigmaNumber):
            return Pred(field, "eq", (str(value.number),))
        if isinstance(value, SigmaNull):
            return Pred(field, "null")
        if isinstance(value, SigmaExists):
            return Pred(field, "exists", (bool(value.exists),))
        if isinstance(value, SigmaRegularExpression):
            flags = "".join(sorted(_FLAG[f] for f in value.flags))
            return Pred(field, "re", (str(value.regexp), flags), cased=True)
        if isinstance(value, SigmaCIDRExpression):
            return Pred(field, "cidr", (str(value.network),), cased=True)
        if isinstance(value, SigmaCompareExpression):
            return Pred(field, "cmp", (_CMP[value.op.name], float(value.number.number)), cased=True)
        if isinstance(value, SigmaFieldReference):
            mode = "startswith" if value.starts_with else "endswith" if value.ends_with else "eq"
            if value.starts_with and value.ends_with:
                mode = "contains"
            return Pred(field, "fieldref", (value.field, mode))
        raise RuleError(f"unsupported value type {type(value).__name__}", code="unsupported_value")

    def _expand(self, placeholder: Placeholder) -> Iterator[SigmaString]:
        values = self.placeholders.get(placeholder.name)
        if not values:
            raise RuleError(f"placeholder %{placeholder.name}% has no values; give them with --placeholders FILE",
                            code="unresolved_placeholder")
        for value in values:  # placeholder values are Sigma strings: wildcards in them are wildcards
            yield SigmaString(value)


def string_pred(field: str | None, value: SigmaString, cased: bool = False) -> Pred:
    parts = list(value.s)
    fold = (lambda s: s) if cased else str.lower
    if field is None:  # keywords search inside the text of any field
        while parts and parts[0] is _MULTI:
            parts.pop(0)
        while parts and parts[-1] is _MULTI:
            parts.pop()
        if not parts:
            return Pred(None, "any")
        if all(isinstance(p, str) for p in parts):
            return Pred(None, "contains", (fold("".join(parts)),), cased)  # type: ignore[arg-type]
        return Pred(None, "glob", (_glob_regex(parts, cased, anchored=False),), cased)
    if not parts:
        return Pred(field, "eq", ("",), cased)
    if parts == [_MULTI]:
        return Pred(field, "any")
    if all(isinstance(p, str) for p in parts):
        return Pred(field, "eq", (fold("".join(parts)),), cased)  # type: ignore[arg-type]
    if (len(parts) == 3 and parts[0] is _MULTI and parts[2] is _MULTI and isinstance(parts[1], str)):
        return Pred(field, "contains", (fold(parts[1]),), cased)
    if len(parts) == 2 and parts[1] is _MULTI and isinstance(parts[0], str):
        return Pred(field, "startswith", (fold(parts[0]),), cased)
    if len(parts) == 2 and parts[0] is _MULTI and isinstance(parts[1], str):
        return Pred(field, "endswith", (fold(parts[1]),), cased)
    return Pred(field, "glob", (_glob_regex(parts, cased, anchored=True),), cased)


def _glob_regex(parts: list[object], cased: bool, anchored: bool) -> str:
    out = []
    for part in parts:
        if part is _MULTI:
            out.append(".*")
        elif part is _SINGLE:
            out.append(".")
        else:
            out.append(re.escape(part if cased else str(part).lower()))
    body = "".join(out)
    return f"(?s)^{body}$" if anchored else f"(?s){body}"


def simplify(node: Node) -> Node:
    """Flatten nested And/Or, drop single-child wrappers and fold constants."""
    if isinstance(node, And | Or):
        kind = type(node)
        items: list[Node] = []
        for item in (simplify(i) for i in node.items):
            if isinstance(item, kind):
                items.extend(item.items)
            elif isinstance(item, Const):
                if item.value == (kind is Or):
                    return Const(kind is Or)
            else:
                items.append(item)
        if not items:
            return Const(kind is And)
        return items[0] if len(items) == 1 else kind(tuple(items))
    if isinstance(node, Not):
        inner = simplify(node.item)
        if isinstance(inner, Const):
            return Const(not inner.value)
        if isinstance(inner, Not):
            return inner.item
        return Not(inner)
    return node
