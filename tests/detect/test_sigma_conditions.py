"""Specification-level tests of Sigma condition expressions.

Written against the "Sigma Rules Specification" v2 (SigmaHQ/sigma-specification,
specification/sigma-rules-specification.md), section "Condition", not against the engine.
Value and modifier semantics are in ``test_sigma_semantics.py``.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from autosoc.errors import RuleError

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

RULE_ID = "0c6f9a42-8e1d-4b7a-b3c5-7d2e9f1a6c30"

Event = dict[str, Any]


def match(rule_yaml: str, events: list[Event], placeholders: dict[str, list[str]] | None = None) -> list:
    """The API under test, imported lazily so that this module collects before the engine exists."""
    from autosoc.detect.sigma.testing import match as engine_match

    return engine_match(rule_yaml, events, placeholders=placeholders)


def rule(detection: str) -> str:
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "    ")
    return (
        "title: autosoc condition test\n"
        f"id: {RULE_ID}\n"
        "status: test\n"
        "logsource:\n"
        "    product: windows\n"
        "detection:\n"
        f"{body}\n"
        "level: medium\n"
    )


def run(detection: str, events: list[Event]) -> list:
    flags = match(rule(detection), events)
    assert len(flags) == len(events), "match() must return one flag per event"
    return list(flags)


# Three independent selections a, b, c over fields A, B, C.
ABC_DETECTION = """
a:
    A: 'yes'
b:
    B: 'yes'
c:
    C: 'yes'
condition: {condition}
"""

# All eight combinations of (a, b, c) and one event per combination.
COMBINATIONS = list(itertools.product([False, True], repeat=3))
ABC_EVENTS = [
    {"A": "yes" if a else "no", "B": "yes" if b else "no", "C": "yes" if c else "no"}
    for a, b, c in COMBINATIONS
]


# --------------------------------------------------------------------------------------------
# Boolean operators and precedence
# --------------------------------------------------------------------------------------------

Truth = Callable[[bool, bool, bool], bool]

TRUTH_TABLE_CASES: list[tuple[str, Truth]] = [
    ("a", lambda a, b, c: a),
    ("a and b", lambda a, b, c: a and b),
    ("a or b", lambda a, b, c: a or b),
    ("not a", lambda a, b, c: not a),
    ("a and not b", lambda a, b, c: a and not b),
    # Rules spec, "Condition", operator precedence (least to most binding): or, and, not,
    # x of search-identifier, ( expression ).
    ("not a and b", lambda a, b, c: (not a) and b),
    ("not a or b", lambda a, b, c: (not a) or b),
    ("a or b and c", lambda a, b, c: a or (b and c)),
    ("a and b or c", lambda a, b, c: (a and b) or c),
    ("a or not b and c", lambda a, b, c: a or ((not b) and c)),
    ("not a and not b or c", lambda a, b, c: ((not a) and (not b)) or c),
    # Brackets override precedence.
    ("(a or b) and c", lambda a, b, c: (a or b) and c),
    ("a and (b or c)", lambda a, b, c: a and (b or c)),
    ("not (a or b)", lambda a, b, c: not (a or b)),
    ("not (a and b) and c", lambda a, b, c: (not (a and b)) and c),
    ("a and (b or not c)", lambda a, b, c: a and (b or not c)),
    ("((a))", lambda a, b, c: a),
]


@pytest.mark.parametrize(("condition", "truth"), TRUTH_TABLE_CASES, ids=[c for c, _ in TRUTH_TABLE_CASES])
def test_boolean_operators_and_precedence(condition: str, truth: Truth):
    expected = [truth(a, b, c) for a, b, c in COMBINATIONS]
    assert run(ABC_DETECTION.format(condition=condition), ABC_EVENTS) == expected


def test_condition_list_is_or_linked():
    # Rules spec, "Condition": "The condition can be a list ... They are logically linked with OR."
    detection = """
    a:
        A: 'yes'
    b:
        B: 'yes'
    condition:
        - a
        - b
    """
    events = [{"A": "yes"}, {"B": "yes"}, {"A": "no", "B": "no"}]
    assert run(detection, events) == [True, True, False]


# --------------------------------------------------------------------------------------------
# "1 of" / "all of" patterns and "them"
# --------------------------------------------------------------------------------------------

PATTERN_DETECTION = r"""
selection_img:
    Image|endswith: '\evil.exe'
selection_cli:
    CommandLine|contains: ' -steal'
filter_main:
    User: 'SYSTEM'
condition: {condition}
"""

IMG = {"Image": r"C:\tmp\evil.exe"}
CLI = {"CommandLine": "x.exe -steal all"}
SYSTEM = {"User": "SYSTEM"}
NOTHING = {"Image": r"C:\tmp\good.exe", "CommandLine": "x.exe -help", "User": "bob"}


def merge(*parts: Event) -> Event:
    event: Event = dict(NOTHING)
    for part in parts:
        event.update(part)
    return event


@pytest.mark.parametrize(
    ("condition", "cases"),
    [
        (
            "1 of selection_*",
            [(merge(IMG), True), (merge(CLI), True), (merge(SYSTEM), False), (merge(), False)],
        ),
        (
            # the pattern does not pull in filter_main
            "all of selection_*",
            [
                (merge(IMG), False),
                (merge(CLI), False),
                (merge(IMG, CLI), True),
                (merge(IMG, CLI, SYSTEM), True),
            ],
        ),
        (
            "all of selection_* and not 1 of filter_*",
            [(merge(IMG, CLI), True), (merge(IMG, CLI, SYSTEM), False), (merge(IMG), False)],
        ),
        (
            # Rules spec: "Matching is done with * wildcards ... at arbitrary positions in the pattern."
            "1 of *_cli",
            [(merge(CLI), True), (merge(IMG), False)],
        ),
        (
            "1 of them",
            [(merge(SYSTEM), True), (merge(IMG), True), (merge(), False)],
        ),
        (
            "all of them",
            [(merge(IMG, CLI), False), (merge(IMG, CLI, SYSTEM), True)],
        ),
        (
            # `x of` binds tighter than `not`: not (1 of selection_*).
            "not 1 of selection_*",
            [(merge(), True), (merge(IMG), False), (merge(CLI), False)],
        ),
    ],
)
def test_quantified_patterns(condition: str, cases: list[tuple[Event, bool]]):
    events = [event for event, _ in cases]
    expected = [flag for _, flag in cases]
    assert run(PATTERN_DETECTION.format(condition=condition), events) == expected


def test_pattern_star_also_matches_the_bare_prefix():
    # `selection*` matches the identifiers `selection` and `selection2` alike.
    detection = """
    selection:
        A: 'yes'
    selection2:
        B: 'yes'
    condition: all of selection*
    """
    events = [{"A": "yes", "B": "yes"}, {"A": "yes", "B": "no"}, {"A": "no", "B": "yes"}]
    assert run(detection, events) == [True, False, False]


UNDERSCORE_DETECTION = """
selection:
    A: 'yes'
_helper:
    B: 'yes'
condition: {condition}
"""


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # Rules spec, "Condition": `them` covers "all defined search identifiers not starting with
        # an underscore `_`".  Events: A only, B only, both, neither.
        ("all of them", [True, False, True, False]),
        ("1 of them", [True, False, True, False]),
        # ... but an underscore identifier can still be named explicitly.
        ("selection or _helper", [True, True, True, False]),
        ("selection and _helper", [False, False, True, False]),
    ],
)
def test_them_excludes_identifiers_starting_with_underscore(condition: str, expected: list[bool]):
    events = [
        {"A": "yes", "B": "no"},
        {"A": "no", "B": "yes"},
        {"A": "yes", "B": "yes"},
        {"A": "no", "B": "no"},
    ]
    assert run(UNDERSCORE_DETECTION.format(condition=condition), events) == expected


# --------------------------------------------------------------------------------------------
# Negation and missing fields
# --------------------------------------------------------------------------------------------


def test_filter_on_a_missing_field_does_not_suppress_the_match():
    # `not filter` where the filter's field is absent: the filter does not match, so its
    # negation does, and the selection fires.
    detection = r"""
    selection:
        Image|endswith: '\msbuild.exe'
    filter:
        ParentImage|endswith: '\devenv.exe'
    condition: selection and not filter
    """
    events = [
        {"Image": r"C:\x\MSBuild.exe"},
        {"Image": r"C:\x\MSBuild.exe", "ParentImage": r"C:\VS\devenv.exe"},
        {"Image": r"C:\x\MSBuild.exe", "ParentImage": r"C:\Windows\explorer.exe"},
        {"ParentImage": r"C:\Windows\explorer.exe"},
    ]
    assert run(detection, events) == [True, False, True, False]


@pytest.mark.parametrize(
    ("item", "present_value"),
    [
        ("F: 'x'", "x"),
        ("F: '*'", "anything"),
        ("F|contains: 'x'", "axb"),
        ("F|re: '^x$'", "x"),
        ("F|cidr: '10.0.0.0/8'", "10.1.1.1"),
        ("F|lt: 10", 5),
    ],
)
def test_negated_selection_matches_a_missing_field(item: str, present_value: Any):
    detection = f"selection:\n    {item}\ncondition: not selection"
    events = [{"F": present_value}, {"G": present_value}]
    assert run(detection, events) == [False, True]


def test_negated_multi_field_selection_is_not_of_the_and():
    # not (A and B): an event with only one of the two still satisfies the negation.
    detection = """
    filter:
        A: 'yes'
        B: 'yes'
    condition: not filter
    """
    events = [{"A": "yes", "B": "yes"}, {"A": "yes", "B": "no"}, {"A": "yes"}, {"Other": "x"}]
    assert run(detection, events) == [False, True, True, True]


# --------------------------------------------------------------------------------------------
# `|all` on a list versus a plain list
# --------------------------------------------------------------------------------------------

ALL_VS_ANY_DETECTION = r"""
sel_all:
    CommandLine|contains|all:
        - 'vssadmin'
        - 'delete'
sel_any:
    CommandLine|contains:
        - 'vssadmin'
        - 'delete'
condition: {condition}
"""


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("sel_all", [True, False, False, False]),
        ("sel_any", [True, True, True, False]),
        ("sel_any and not sel_all", [False, True, True, False]),
    ],
)
def test_all_modifier_versus_plain_list(condition: str, expected: list[bool]):
    events = [
        {"CommandLine": "vssadmin.exe Delete Shadows /all"},
        {"CommandLine": "vssadmin.exe list shadows"},
        {"CommandLine": "del /q delete.txt"},
        {"CommandLine": "wbadmin get versions"},
    ]
    assert run(ALL_VS_ANY_DETECTION.format(condition=condition), events) == expected


# --------------------------------------------------------------------------------------------
# Conditions that must not compile
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "reason_fragment"),
    [
        ("a and missing_identifier", "missing_identifier"),
        ("a and", ""),
        ("(a or b", ""),
        ("a b", ""),
        # The pipe aggregation syntax was removed from the spec in favour of correlation rules.
        ("a | count() > 5", ""),
    ],
    ids=["undefined_identifier", "dangling_operator", "unbalanced_bracket", "missing_operator", "pipe"],
)
def test_invalid_conditions_raise_rule_error(condition: str, reason_fragment: str):
    with pytest.raises(RuleError) as excinfo:
        match(rule(ABC_DETECTION.format(condition=condition)), [{"A": "yes"}])
    assert isinstance(excinfo.value.code, str) and excinfo.value.code
    assert reason_fragment in str(excinfo.value)
