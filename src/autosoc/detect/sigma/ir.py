"""The engine's own form of a rule's detection: a small boolean tree over field predicates.

pySigma parses a rule (modifiers applied, ``1 of``/``all of`` resolved); :mod:`.compiler` turns
the parse tree into this IR; :mod:`.exprs` turns the IR into Polars expressions.  The IR is
plain data, so compiled rules are cached with pickle and a second load skips pySigma entirely.

Predicate ops (``field`` None means a field-less keyword, searched in every field)::

    eq(value)  contains(value)  startswith(value)  endswith(value)  glob(regex)  any()
    re(pattern, flags)  cidr(network)  cmp(op, number)  null()  exists(flag)  fieldref(other, mode)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pred:
    field: str | None
    op: str
    args: tuple[object, ...] = ()
    cased: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


Node = Pred | And | Or | Not | Const


def preds(node: Node) -> Iterator[Pred]:
    """Every predicate of a node, depth first (negated ones too)."""
    if isinstance(node, Pred):
        yield node
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from preds(item)
    elif isinstance(node, Not):
        yield from preds(node.item)


def fields_of(node: Node, positive: bool = True) -> list[str]:
    """Fields a node tests; with ``positive`` only those outside a ``not`` (the ones that matched)."""
    out: list[str] = []

    def walk(n: Node, negated: bool) -> None:
        if isinstance(n, Pred):
            if n.field and not (positive and negated):
                out.append(n.field)
                if n.op == "fieldref" and isinstance(n.args[0], str):
                    out.append(n.args[0])
        elif isinstance(n, And | Or):
            for item in n.items:
                walk(item, negated)
        elif isinstance(n, Not):
            walk(n.item, not negated)

    walk(node, False)
    return list(dict.fromkeys(out))


def has_keywords(node: Node) -> bool:
    if isinstance(node, Pred):
        return node.field is None
    if isinstance(node, And | Or):
        return any(has_keywords(i) for i in node.items)
    if isinstance(node, Not):
        return has_keywords(node.item)
    return False
