"""A compiled rule and a skipped one: what the loader hands the engine and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

from autosoc.detect.sigma.ir import Node


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


@dataclass(frozen=True, slots=True)
class SkippedRule:
    path: str
    code: str
    reason: str
    rule_id: str = ""
    title: str = ""


@dataclass(slots=True)
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    skipped: list[SkippedRule] = field(default_factory=list)
    files: int = 0
    from_cache: bool = False
