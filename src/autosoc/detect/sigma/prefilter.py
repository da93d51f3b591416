"""Necessary literals: which rows a rule could possibly match, found in one pass per field.

For a rule to be true, some (field, literal) pair from a small set must occur: its equality,
prefix, suffix and substring tests all imply "the lower-cased field contains this literal" (for a
keyword, field-less, test: the keyword text, ``KEYWORD_COLUMN``, which is lower-cased already).
:func:`required_literals` derives that set from the IR (None where no finite set exists, e.g. a
rule that is only a ``not`` or a numeric test; a wildcard glob has its literal runs, a regex the
ones :func:`.regex.regex_literals` finds).  Per batch, one Aho-Corasick pass per field finds every
literal of every rule; a rule is then evaluated only on rows that hold one of
its literals.  The prefilter is sound by construction: it can only skip rows the rule cannot match.
"""

from __future__ import annotations

from autosoc.detect.sigma.exprs import KEYWORD_COLUMN, regex_pattern, rust_regex_ok
from autosoc.detect.sigma.ir import And, Const, Node, Not, Or, Pred
from autosoc.detect.sigma.native import glob_segments
from autosoc.detect.sigma.regex import regex_literals

Literal = tuple[str, str]  # (field, lower-cased literal)
_LITERAL_OPS = {"eq", "contains", "startswith", "endswith"}
#: literals shorter than this many UTF-8 bytes select nearly everything; a rule resting on them is
#: evaluated fully.  Bytes, not characters: an emoji or a right-to-left override is one character
#: and as rare in a command line as a long word
MIN_LITERAL = 2


def required_literals(node: Node, min_literal: int = MIN_LITERAL) -> frozenset[Literal] | None:
    """Literals one of which every row the rule holds true on holds (None: no such finite set); each
    at least ``min_literal`` bytes long (see :func:`weak_literals` for one)."""
    if isinstance(node, Pred):
        if node.op in _LITERAL_OPS and node.field is None:  # a keyword: in the keyword text
            literal = str(node.args[0]).lower()
            return frozenset({(KEYWORD_COLUMN, literal)}) if _size(literal) >= min_literal else None
        if node.op in _LITERAL_OPS:
            literal = str(node.args[0]).lower()
            return frozenset({(node.field, literal)}) if _size(literal) >= min_literal else None
        if node.op == "glob" and node.field is not None:
            # its longest literal run (lower-cased already unless the glob is cased; a cased one's
            # ASCII runs lower-case as the text around them does)
            runs = [run if not node.cased else run.lower() for run in glob_segments(str(node.args[0])) or ()
                    if not node.cased or run.isascii()]
            best = max(runs, key=_size, default="")
            return frozenset({(node.field, best)}) if _size(best) >= min_literal else None
        if node.op == "re" and node.field is not None:
            # a Rust pattern's literals (one Rust lacks runs in Python: its semantics differ)
            pattern = regex_pattern(node)
            found = regex_literals(pattern, min_literal) if rust_regex_ok(pattern) else None
            return None if found is None else frozenset((node.field, literal) for literal in found)
        return None
    if isinstance(node, Or):
        out: set[Literal] = set()
        for item in node.items:
            sub = required_literals(item, min_literal)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    if isinstance(node, And):
        options = [s for s in (required_literals(i, min_literal) for i in node.items) if s is not None]
        if not options:
            return None
        return max(options, key=_selectivity)
    if isinstance(node, Const):
        return frozenset() if not node.value else None
    if isinstance(node, Not):
        return None
    return None


def weak_literals(node: Node) -> frozenset[Literal] | None:
    """:func:`required_literals` down to single bytes, for a rule that has no set of longer ones (a
    backtick, a brace, a percent sign): too common a byte to send every row holding it through the
    prefilter, but rare enough in most fields that testing for it first spares a costly test (a
    regex that Python cannot take) on the rows without it."""
    return required_literals(node, 1)


def second_literals(node: Node, first: frozenset[Literal]) -> frozenset[Literal] | None:
    """Another set of necessary literals beside ``first`` (what :func:`required_literals` gives):
    the most selective of the sets the conjuncts of ``node`` need each on its own, other than
    ``first`` (None when there is none).  A rule is then a candidate only on rows holding a literal
    of each set: ``selection`` tests of two fields (an image and a command line) are mostly
    conjunctions, and either literal alone is common where the pair is rare (on the benchmark's
    corpus: half the candidate pairs in process creation, 189k -> 91k a batch of 20k events)."""
    options = [s for s in _necessary_sets(node) if s != first]
    return max(options, key=_selectivity) if options else None


def literal_sets(node: Node) -> tuple[frozenset[Literal] | None, frozenset[Literal] | None]:
    """``(required_literals(node), second_literals(node, that))`` in one walk of ``node`` (the
    engine's build: the second walk had cost ~70 ms over the SigmaHQ Windows rules).  The most
    selective of the conjuncts' sets is :func:`required_literals`' choice: it picks the first of
    the most selective along the same order."""
    sets = _necessary_sets(node)
    if not sets:
        return None, None
    first = max(sets, key=_selectivity)
    options = [s for s in sets if s != first]
    return first, max(options, key=_selectivity) if options else None


def _necessary_sets(node: Node) -> list[frozenset[Literal]]:
    """Sets of literals each of which ``node`` needs on its own (those of every conjunct of an AND)."""
    if isinstance(node, And):
        return [s for item in node.items for s in _necessary_sets(item)]
    found = required_literals(node)
    return [] if found is None else [found]


def _selectivity(literals: frozenset[Literal]) -> tuple[int, int]:
    """Prefer sets whose shortest literal is long (rare), then smaller sets."""
    shortest = min((_size(lit) for _, lit in literals), default=0)
    return (min(shortest, 12), -len(literals))


def _size(literal: str) -> int:
    return len(literal) if literal.isascii() else len(literal.encode("utf-8", "surrogatepass"))
