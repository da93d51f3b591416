"""A compiled rule and a skipped one: what the loader hands the engines and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autosoc.detect.sigma.ir import Node

if TYPE_CHECKING:  # the correlation package imports this module
    from autosoc.detect.correlation.rules import CorrelationRule
    from autosoc.detect.sigma.native import Program


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    title: str
    level: str
    status: str
    tags: tuple[str, ...]
    path: str
    selector: Node  # which events the logsource admits
    detection: Node  # the detection proper
    fields: tuple[str, ...]  # fields outside any `not`: reported as the matched fields
    description: str = ""
    author: str = ""
    name: str = ""  # the rule's ``name`` (correlations may reference rules by it)
    # the detection compiled for the C matcher (native.compile_program), or why it cannot be; None:
    # not compiled yet (the engine compiles it when its group first runs)
    program: Program | str | None = None


@dataclass(frozen=True, slots=True)
class SkippedRule:
    path: str
    code: str
    reason: str
    rule_id: str = ""
    title: str = ""
    name: str = ""


@dataclass(slots=True)
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    skipped: list[SkippedRule] = field(default_factory=list)
    #: correlation rules, references resolved, referenced correlations before those referencing them
    correlations: list[CorrelationRule] = field(default_factory=list)
    files: int = 0
    from_cache: bool = False
