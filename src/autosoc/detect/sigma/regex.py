"""Sigma ``re`` tests in Python's :mod:`re` where its answer is provably the Rust engine's.

The truth of a Sigma regex is the Rust ``regex`` crate's (Polars' ``str.contains``).  Polars keeps
32 compiled patterns per thread, and the SigmaHQ Windows rules hold hundreds, so each one used in a
batch is compiled anew for every batch (``-k\\s\\w{1,64}...``, Unicode ``\\w`` repeated 64 times:
25-45 ms a batch).  A Python pattern is compiled once.

Python's engine differs from Rust's in syntax (``$`` also matches before a final newline; ``\\<``,
``[[:alpha:]]``, ``&&`` in classes, ``{,n}`` mean other things), in Unicode classes and case
folding (``(?i)i`` matches ``ı`` in Python, not in Rust), and it backtracks where Rust runs in
linear time.  So :func:`python_regex` takes a pattern only when

* it is ASCII and every construct in it is one whose meaning on ASCII text is the same in both
  engines (the few that differ only in spelling are respelled: ``$`` -> ``\\Z``, ``\\z`` -> ``\\Z``);
  it is compiled with :data:`re.ASCII`, and
* it is used only on ASCII values no longer than :attr:`PythonRegex.max_len`: the longest value
  on which backtracking stays within :data:`STEP_BUDGET` steps, from a bound on the pattern's
  ambiguity (``n ** (k + 1) * b``: ``k`` unbounded repeats in sequence, ``b`` the product of the
  bounded choices; a pattern with nested or ambiguous unbounded repeats is refused).

Any other value is *undecided*: the caller (the C matcher, see :mod:`.native`) hands it to Rust.

:func:`regex_literals` gives a pattern's necessary literals for the prefilter (:mod:`.prefilter`):
strings one of which every match holds, lower-cased, sound under Rust's semantics on any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from string import hexdigits

try:  # the standard library's own parser (Python >= 3.11); without it nothing is translated
    from re import _constants as C
    from re import _parser
except ImportError:  # pragma: no cover - a Python without them
    _parser = None  # type: ignore[assignment]

__all__ = ["STEP_BUDGET", "PythonRegex", "python_regex", "regex_literals"]

#: backtracking steps allowed per value: the bound of a pattern's cost on a value of length n must
#: stay below it (about 10-40 ms of Python's engine in the worst case)
STEP_BUDGET = 2_000_000
#: a pattern whose budget allows only shorter values than this is left to Rust altogether
MIN_MAX_LEN = 64
_CAP = 1 << 62

_LEADING_FLAGS = re.compile(r"\(\?([a-zA-Z]*)\)")
# groups whose meaning is the same: non-capturing, named, scoped i/s flags (m would change $)
_GROUP = re.compile(r"\(\?(?::|P<[A-Za-z_][A-Za-z0-9_]*>|[is]*(?:-[is]*)?:)")
_COUNTED = re.compile(r"\{\d+(?:,\d*)?\}")
# escapes of a letter that mean the same in both (outside and inside a class)
_ESCAPES = frozenset("dDwWsSbBAtnrfva")
_CLASS_ESCAPES = frozenset("dDwWsStnrfva")


@dataclass(frozen=True, slots=True)
class PythonRegex:
    """A Rust pattern as a Python one: ``search`` gives Rust's answer on ASCII values of at most
    ``max_len`` characters."""

    pattern: str  # the Python spelling
    search: object  # the compiled pattern's bound ``search``
    max_len: int


@lru_cache(maxsize=4096)
def python_regex(pattern: str) -> PythonRegex | None:
    """``pattern`` (Rust syntax, flags inline) as a Python regex with the same truth on short ASCII
    values, or None when no such translation is certain."""
    translated = _translate(pattern)
    if translated is None or _parser is None:
        return None
    try:
        compiled = re.compile(translated, re.ASCII)
        parsed = _parser.parse(translated, re.ASCII)
    except (re.error, RecursionError, OverflowError):
        return None
    cost = _cost(parsed.data)
    if cost is None:
        return None
    k, b = cost
    max_len = int((STEP_BUDGET / b) ** (1 / (k + 1))) if b < STEP_BUDGET else 0
    if max_len < MIN_MAX_LEN:
        return None
    return PythonRegex(translated, compiled.search, max_len)


def _translate(pattern: str) -> str | None:
    if not pattern.isascii():
        return None
    flags: set[str] = set()
    i, n = 0, len(pattern)
    while m := _LEADING_FLAGS.match(pattern, i):
        if not set(m.group(1)) <= {"i", "m", "s"}:
            return None
        flags |= set(m.group(1))
        i = m.end()
    multiline = "m" in flags
    out: list[str] = ["(?" + "".join(sorted(flags)) + ")"] if flags else []
    in_class = class_first = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            d = pattern[i + 1]
            if d == "x":
                digits = pattern[i + 2:i + 4]
                if len(digits) != 2 or not all(h in hexdigits for h in digits):
                    return None  # \x{...}: Rust only
                out.append(pattern[i:i + 4])
                i += 4
                class_first = False
                continue
            if d == "z" and not in_class:
                out.append(r"\Z")
            elif d.isalnum():
                if d not in (_CLASS_ESCAPES if in_class else _ESCAPES):
                    return None  # \p, \u, \<digit> (backreference), \e, ...
                out.append(pattern[i:i + 2])
            elif d in "<>":
                return None  # word-start/-end in Rust, the character in Python
            else:
                out.append(pattern[i:i + 2])  # an escaped punctuation character is itself
            i += 2
            class_first = False
            continue
        if in_class:
            if c == "[" or (c in "&~-|" and pattern.startswith(c * 2, i)):
                return None  # nested classes, [:alpha:], set operations
            if c == "]" and not class_first:
                in_class = False
            class_first = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = class_first = True
            out.append(c)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            continue
        if c == "$":
            out.append("$" if multiline else r"\Z")
            i += 1
            continue
        if c == "(" and pattern.startswith("(?", i):
            m = _GROUP.match(pattern, i)
            if m is None:
                return None  # look-around, comments, (?<name>, flags in the middle
            out.append(m.group())
            i = m.end()
            continue
        if c == "{":
            m = _COUNTED.match(pattern, i)
            if m is None:
                return None  # {,n} and a literal brace differ
            out.append(m.group())
            i = m.end()
        elif c in "*+?":
            out.append(c)
            i += 1
        else:
            out.append(c)
            i += 1
            continue
        if pattern.startswith("?", i):  # lazy: the same truth
            out.append("?")
            i += 1
        if i < n and pattern[i] in "*+?{":
            return None  # possessive in Python, repeated repetition
    if in_class:
        return None
    return "".join(out)


def _cost(items: object) -> tuple[int, int] | None:
    """(unbounded repeats in sequence, product of bounded choices) of a parsed sequence; None for
    a construct whose backtracking is not bounded so (nested or ambiguous unbounded repeats)."""
    k, b = 0, 1
    for op, av in items:  # type: ignore[attr-defined]
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN, C.AT, C.CATEGORY):
            continue
        if op is C.SUBPATTERN:
            sub = _cost(av[-1])
        elif op is C.BRANCH:
            parts = [_cost(branch) for branch in av[1]]
            if any(p is None for p in parts):
                return None
            sub = (max(p[0] for p in parts), min(sum(p[1] for p in parts), _CAP))  # type: ignore[index]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, high, body = av
            inner = _cost(body)
            if inner is None:
                return None
            if high is C.MAXREPEAT:
                if inner != (0, 1):
                    return None
                sub = (1, 1)
            else:
                choices = high - low + 1
                sub = (inner[0] * high, min(choices * inner[1] ** min(high, 64), _CAP))
        else:
            return None
        if sub is None:
            return None
        k += sub[0]
        b = min(b * sub[1], _CAP)
    return k, b


def regex_literals(pattern: str, min_bytes: int = 2) -> frozenset[str] | None:
    """Lower-cased strings one of which every match of ``pattern`` (Rust semantics) holds, or None.

    Only where :func:`_translate` vouches for the pattern's structure.  In a case-insensitive part
    an ``s`` ends a literal: Rust folds ``ſ`` (U+017F) to ``s``, and ``ſ`` lower-cases to itself,
    so the lower-cased text need not hold the ``s``.  (``K``, U+212A, lower-cases to ``k``; no other
    ASCII letter folds to a non-ASCII character.)"""
    translated = _translate(pattern)
    if translated is None or _parser is None:
        return None
    try:
        parsed = _parser.parse(translated, re.ASCII)
    except (re.error, RecursionError, OverflowError):
        return None
    return _literals(parsed.data, bool(parsed.state.flags & re.IGNORECASE), min_bytes)


def _literals(items: object, icase: bool, min_bytes: int) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if len(run) >= min_bytes:
            options.append(frozenset({"".join(run)}))
        run.clear()

    for op, av in items:  # type: ignore[attr-defined]
        if op is C.LITERAL:
            ch = chr(av)
            if icase and ch in "sS":
                close()
            else:
                run.append(ch.lower())
            continue
        close()
        sub: frozenset[str] | None = None
        if op is C.SUBPATTERN:
            _, add, remove, body = av
            sub = _literals(body, (icase or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE, min_bytes)
        elif op is C.BRANCH:
            parts = [_literals(branch, icase, min_bytes) for branch in av[1]]
            if all(p is not None for p in parts):
                sub = frozenset().union(*parts)  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
            sub = _literals(av[2], icase, min_bytes)
        if sub:
            options.append(sub)
    close()
    if not options:
        return None
    return max(options, key=lambda s: (min(min(len(x) for x in s), 12), -len(s)))
