"""The Python stand-in for Rust regexes (autosoc.detect.sigma.regex) against Polars' own engine.

Every ``re`` pattern of the SigmaHQ rules, and hand-written edge cases, on strings generated from
the pattern itself (matching ones, mutated ones, case-swapped, with non-ASCII look-alikes): where
the translation is taken, Python's answer on short ASCII values is Rust's; the necessary literals
are held by every string Rust matches, whatever its characters.
"""

from __future__ import annotations

import random
import re

import polars as pl
import pytest
import yaml

from autosoc.detect.sigma import regex as R
from autosoc.detect.sigma.exprs import rust_regex_ok
from tests.conftest import SIGMA

C = R.C
_FLAGS = frozenset("ims")  # the re modifiers that are inline flags
# characters that fold or lower-case across the ASCII line, separators, and Unicode word/space ones
_TRICKY = ["\u017f", "\u212a", "\u0130", "\u0131", "\u00e9", "\u00a0", "\u2003", "\x1c", "\n", "\r", "\u0660", "\u00b2",
           "\u0301", "\t", " ", "\x0b"]


def sigma_patterns() -> list[str]:
    """Every ``|re`` value of the SigmaHQ rules, with its flags inline (as the compiler builds them)."""
    out: dict[str, None] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                parts = str(key).split("|")
                if "re" in parts[1:]:
                    flags = "".join(sorted(p for p in parts[parts.index("re") + 1:] if p in _FLAGS))
                    for v in value if isinstance(value, list) else [value]:
                        if isinstance(v, str):
                            out[f"(?{flags}){v}" if flags else v] = None
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted((SIGMA / "rules").rglob("*.yml")):
        try:
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(doc, dict):
                    walk(doc.get("detection"))
        except yaml.YAMLError:
            continue
    return list(out)


EDGE_CASES = [
    r"a$", r"(?m)a$", r"^a", r"(?m)^b", r"\Aab\z", r"a\b", r"\bword\b", r"\Bx", r"x\s+y", r"\d{2,4}-\w+",
    r"(?i)kelvin", r"(?i)sss", r"(?i)ISTANBUL", r"[^a-z]+", r"(?s)a.b", r"a.b", r"(?i:ab)c", r"(?-i:a)b",
    r"(?i)a(?-i:b)", r"x{3}", r"x{2,}", r"a*?b", r"a+?b", r"a??b", r"(?P<n>ab)+c", r"[\w.-]+@[\w.-]+",
    r"[\s\S]", r"\x41\x2a", r"[\x41-\x43]", r"\.\*\+\?\(\)\[\]\{\}\|\^\$", r"\ ", r"\-\#\&\~", r"[]a]", r"[^]a]",
    r"\t\n\r\f\v\a", r"a|", r"|b", r"()", r"(a|b|)c",
]
REFUSED = [
    r"\p{L}", r"\pL", r"\x{41}", r"\<word\>", r"\b{start}x", r"[[:alpha:]]", r"[a-z&&[^x]]", r"[a--b]", r"[a~~b]",
    r"a{,3}", r"a{", r"a*+", r"a++", r"a?+", r"a{2}+", r"(?=a)", r"(?!a)", r"(?<=a)b", r"(?<n>a)", r"(a)\1", r"\0",
    r"(?x)a b", r"a(?i)b", r"(?U)a+", r"(?m:a$)", "\u00e9", r"\e", r"\h", r"\Z", r"(a+)+b", r"(a|aa)+b", r"(a?)+",
    r"\+.*\+.*\+.*\+.*\+.*\+",
]


def generate(pattern: str, rng: random.Random, count: int) -> list[str]:
    """Strings built from the pattern's parse tree (so many match), then mutated."""
    try:
        parsed = R._parser.parse(R._translate(pattern) or pattern, re.ASCII)
    except Exception:
        parsed = None
    out: list[str] = []
    for _ in range(count):
        s = "".join(_emit(parsed.data, rng, 0)) if parsed is not None else ""
        roll = rng.random()
        if roll < 0.25:
            s = s.swapcase()
        elif roll < 0.45 and s:
            i = rng.randrange(len(s) + 1)
            s = s[:i] + rng.choice(_TRICKY + list("sSkKiI-/\\ ")) + s[i:]
        elif roll < 0.55 and s:
            i = rng.randrange(len(s))
            s = s[:i] + s[i + 1:]
        elif roll < 0.65:
            s = rng.choice(["", "x", "pre "]) + s + rng.choice(["", "\n", " post", "\n\n"])
        elif roll < 0.7:
            s = s.replace("s", "\u017f").replace("k", "\u212a").replace("i", "\u0131")
        out.append(s)
    return out


def _emit(items: object, rng: random.Random, depth: int) -> list[str]:
    out: list[str] = []
    for op, av in items:  # type: ignore[attr-defined]
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in "xyz09 _-\n" if ord(c) != av]))
        elif op is C.ANY:
            out.append(rng.choice("ab9 _.-/\\\n\u00e9"))
        elif op is C.IN:
            out.append(_member(av, rng))
        elif op is C.CATEGORY:
            out.append(_category(av, rng))
        elif op is C.BRANCH:
            out += _emit(rng.choice(av[1]), rng, depth)
        elif op is C.SUBPATTERN:
            out += _emit(av[-1], rng, depth)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, high, body = av
            high = min(high, low + 4) if high is not C.MAXREPEAT else low + rng.randrange(5)
            for _ in range(rng.randint(low, max(low, high)) if depth < 4 else low):
                out += _emit(body, rng, depth + 1)
    return out


def _member(av: list, rng: random.Random) -> str:
    options: list[str] = []
    negate = False
    for op, value in av:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            options.append(chr(value))
        elif op is C.RANGE:
            options.append(chr(rng.randint(value[0], value[1])))
        elif op is C.CATEGORY:
            options.append(_category(value, rng))
    if negate or not options:
        return rng.choice([c for c in "xQ7 _-\u00e9\n" if c not in options] or ["\u00e9"])
    return rng.choice(options)


def _category(value: object, rng: random.Random) -> str:
    name = str(value)
    if "NOT" in name:
        return rng.choice("-. \u00e9" if "WORD" in name else "x_-" if "SPACE" in name else "x -")
    if "DIGIT" in name:
        return rng.choice("0123456789\u0660")
    if "SPACE" in name:
        return rng.choice(" \t\n\r\x0b\x0c\u00a0\x1c")
    return rng.choice("azAZ09_\u00e9\u0301")


def rust(pattern: str, values: list[str]) -> list[bool]:
    return pl.Series(values, dtype=pl.String).str.contains(pattern).to_list()


def _check(pattern: str, rng: random.Random, count: int = 60) -> tuple[bool, bool, bool]:
    """Asserts the translation's and the literals' claims on generated strings; (taken, has literals,
    some string matched)."""
    values = generate(pattern, rng, count)
    truth = rust(pattern, values)
    translated = R.python_regex(pattern)
    if translated is not None:
        for value, expected in zip(values, truth, strict=True):
            if value.isascii() and len(value) <= translated.max_len:
                got = translated.search(value) is not None  # type: ignore[operator]
                assert got == expected, (pattern, translated.pattern, value)
    literals = R.regex_literals(pattern)
    if literals is not None:
        lowered = pl.Series(values, dtype=pl.String).str.to_lowercase().to_list()
        for value, low, expected in zip(values, lowered, truth, strict=True):
            if expected:
                assert any(lit in low for lit in literals), (pattern, literals, value)
    return translated is not None, literals is not None, any(truth)


@pytest.mark.parametrize("pattern", EDGE_CASES)
def test_edge_cases_are_translated_with_rust_truth(pattern: str) -> None:
    assert rust_regex_ok(pattern), pattern
    assert R.python_regex(pattern) is not None, pattern
    _check(pattern, random.Random(pattern), count=200)


@pytest.mark.parametrize("pattern", REFUSED)
def test_constructs_that_differ_or_backtrack_are_refused(pattern: str) -> None:
    assert R.python_regex(pattern) is None


def test_dollar_is_the_end_of_the_text_as_in_rust() -> None:
    translated = R.python_regex("a$")
    assert translated is not None and translated.search("a\n") is None  # type: ignore[operator]
    assert rust("a$", ["a\n", "a"]) == [False, True]


def test_the_length_bound_follows_the_ambiguity() -> None:
    one, two = R.python_regex(r"a.*b"), R.python_regex(r"a.*b.*c")
    assert one and two and one.max_len > two.max_len >= R.MIN_MAX_LEN
    assert R.python_regex(r"a.*b.*c.*d") is None  # its bound allows too short values
    assert R.python_regex(r"\s-c\s").max_len >= 1_000_000  # type: ignore[union-attr]


def test_literals_stop_at_s_when_case_is_ignored() -> None:
    # Rust folds U+017F (long s) into s; it lower-cases to itself, so 'powershell' is not necessary
    assert R.regex_literals("(?i)powershell") == frozenset({"power"})
    assert rust("(?i)powershell", ["power\u017fhell"]) == [True]
    assert R.regex_literals("powershell") == frozenset({"powershell"})
    assert R.regex_literals(r"(?:cmd|pwsh)\.exe") == frozenset({".exe"})
    assert R.regex_literals(r"a.*b") is None


def test_every_sigmahq_pattern() -> None:
    if not (SIGMA / "rules").exists():
        pytest.skip(f"third-party data missing: {SIGMA} (clone with ../shared/data beside the repo "
                    "or set AUTOSOC_SHARED_DATA)")
    patterns = [p for p in sigma_patterns() if rust_regex_ok(p)]
    assert len(patterns) > 100
    rng = random.Random(7)
    taken = with_literals = matched = 0
    for pattern in patterns:
        a, b, c = _check(pattern, rng)
        taken += a
        with_literals += b
        matched += c
    print(f"\n{taken} of {len(patterns)} SigmaHQ regexes run in Python; {with_literals} have necessary literals")
    assert taken >= len(patterns) * 0.7 and with_literals >= len(patterns) * 0.6
    assert matched >= len(patterns) * 0.9  # the generated strings reach the patterns' matches


def test_a_python_only_path_is_never_taken_without_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "_parser", None)
    R.python_regex.cache_clear()
    try:
        assert R.python_regex("abc") is None and R.regex_literals("abc") is None
    finally:
        R.python_regex.cache_clear()
