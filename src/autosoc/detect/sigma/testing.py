"""``match(rule_yaml, events)``: run one rule's detection over event dicts (logsource ignored).

For tests and for rule authors checking a rule against hand-made events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from autosoc.detect.sigma.compiler import compile_detection
from autosoc.detect.sigma.engine import _fields, _with_columns
from autosoc.detect.sigma.exprs import lowered_fields, to_expr
from autosoc.detect.sigma.ir import has_keywords
from autosoc.errors import RuleError
from autosoc.normalize import normalize
from autosoc.schema import RawBatch


def match(rule_yaml: str, events: Sequence[dict[str, Any]],
          placeholders: Mapping[str, Sequence[str]] | None = None) -> list[bool]:
    try:
        rule = SigmaRule.from_yaml(rule_yaml)
    except SigmaError as exc:
        raise RuleError(str(exc), code="invalid_rule") from exc
    except Exception as exc:  # YAML syntax errors surface from the YAML parser
        raise RuleError(f"rule is not valid YAML: {exc}", code="invalid_yaml") from exc
    detection = compile_detection(rule, placeholders)
    batches = normalize(RawBatch("test", "<memory>", "json", list(events), list(range(1, len(events) + 1))))
    flags = [False] * len(events)
    for batch in batches:
        frame = _with_columns(batch.raw, _fields(detection), lowered_fields(detection),
                              keywords=has_keywords(detection), keyword_source=batch.raw.columns)
        result = frame.select(to_expr(detection).alias("hit")).get_column("hit")
        for position, hit in zip(batch.events.get_column("origin.record").to_list(), result.to_list(), strict=True):
            flags[position - 1] = bool(hit)
    return flags
