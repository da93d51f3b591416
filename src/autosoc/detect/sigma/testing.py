"""``match(rule_yaml, events)``: run one rule over event dicts through the real engine.

The rule's logsource is ignored (every event is looked at); everything else, including the
literal prefilter, is the path ``hunt`` takes.  For tests and for rule authors.  The rule runs
through each of the engine's evaluation paths (one Polars select over the candidates, gathered
per-rule rows, the generated Python test, the C matcher; the prefilter in Polars and in Python)
and they must agree: a disagreement is an engine bug and raises ``AssertionError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from autosoc.detect.sigma.compiler import compile_detection
from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.ir import Const, fields_of
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.errors import RuleError
from autosoc.normalize import fields as F
from autosoc.normalize import normalize
from autosoc.schema import EventBatch, RawBatch


def compile_yaml(rule_yaml: str, placeholders: Mapping[str, Sequence[str]] | None = None) -> CompiledRule:
    """One rule's YAML compiled, selecting every event (no logsource selector)."""
    try:
        rule = SigmaRule.from_yaml(rule_yaml)
    except SigmaError as exc:
        raise RuleError(str(exc), code="invalid_rule") from exc
    except Exception as exc:  # YAML syntax errors surface from the YAML parser
        raise RuleError(f"rule is not valid YAML: {exc}", code="invalid_yaml") from exc
    detection = compile_detection(rule, placeholders)
    return CompiledRule(id=str(rule.id), title=rule.title, level="medium", status="test", tags=(),
                        path="<memory>", selector=Const(True), detection=detection,
                        fields=tuple(fields_of(detection)))


def match(rule_yaml: str, events: Sequence[dict[str, Any]],
          placeholders: Mapping[str, Sequence[str]] | None = None) -> list[bool]:
    compiled = compile_yaml(rule_yaml, placeholders)
    batches = normalize(RawBatch("test", "<memory>", "json", list(events), list(range(1, len(events) + 1))))
    # the keyword search reads normalization's keyword text; without it, every column (the same truth)
    columns_only = [EventBatch(b.events, b.raw.drop(F.KEYWORD_TEXT, strict=False)) for b in batches]
    results: dict[str, list[bool]] = {}
    for path, (options, inputs) in {**{p: (o, batches) for p, o in _PATHS.items()},
                                    "all columns": (_PATHS["shared"], columns_only)}.items():
        engine = SigmaEngine([compiled], **options)
        flags = [False] * len(events)
        for batch in inputs:
            for signal in engine.detect(batch):
                flags[int(signal.origins[0].record or 0) - 1] = True
        results[path] = flags
    first = results["shared"]
    for path, flags in results.items():
        assert flags == first, f"evaluation paths disagree: shared {first}, {path} {flags}"
    return first


_PATHS: dict[str, dict[str, int | bool]] = {
    "shared": {"python_max_rows": 0, "gather_min_skipped": 10**9, "prefilter_python_max_rows": 0,
               "use_native": False},
    "gathered": {"python_max_rows": 0, "gather_min_skipped": 0, "prefilter_python_max_rows": 0, "use_native": False},
    "python": {"python_max_rows": 10**9, "prefilter_python_max_rows": 10**9, "use_native": False},
    # the C matcher where it is built (else the same as "shared"), with both prefilters
    "native": {"prefilter_python_max_rows": 0},
    "native, Python prefilter": {"prefilter_python_max_rows": 10**9},
}
