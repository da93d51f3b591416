"""Sigma rules and their correlations as one detector: what ``hunt`` (and a pipeline) runs per batch.

Two Sigma engines, so no rule is evaluated twice for nothing: ``emitting`` holds the rules that
emit their own signals (all but those the correlations suppress, see
:meth:`CorrelationEngine.suppressed_rule_ids`), ``referenced`` the base rules the correlations
read (usually a handful).  A rule in both (``generate: true``) is evaluated twice; that is the
price of leaving :class:`SigmaEngine` untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from autosoc.detect.correlation.engine import CorrelationEngine
from autosoc.detect.correlation.rules import CorrelationRule
from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.rules import CompiledRule
from autosoc.detect.sigma.signals import SignalBatch
from autosoc.schema import EventBatch, Signal


class SigmaCorrelationDetector:
    name = "sigma"

    def __init__(self, rules: Sequence[CompiledRule], correlations: Sequence[CorrelationRule], *,
                 lateness: timedelta | None = timedelta(minutes=5)) -> None:
        self.correlation = CorrelationEngine(correlations, lateness=lateness)
        suppressed = self.correlation.suppressed_rule_ids()
        referenced = {rule_id for c in self.correlation.rules for rule_id in c.base_rule_ids()}
        self.emitting = SigmaEngine([r for r in rules if r.id not in suppressed])
        self.referenced = SigmaEngine([r for r in rules if r.id in referenced]) if referenced else None
        self.suppressed = suppressed

    @property
    def rules(self) -> list[CompiledRule]:
        return self.emitting.rules

    def detect(self, batch: EventBatch) -> list[Signal]:
        """Single-event signals of this batch, then the correlation signals it decided."""
        signals = self.emitting.detect(batch)
        if self.referenced is not None:
            signals += self.correlation.process(batch, self.referenced.evaluate(batch))
        return signals

    def detect_batch(self, batch: EventBatch) -> SignalBatch:
        """:meth:`detect`, with the single-event signals kept as columns (see :class:`SignalBatch`)."""
        signals = self.emitting.detect_batch(batch)
        if self.referenced is not None:
            signals.extend(self.correlation.process(batch, self.referenced.evaluate(batch)))
        return signals

    def flush(self) -> list[Signal]:
        return self.correlation.flush()
