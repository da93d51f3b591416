"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) over event time."""

from autosoc.detect.correlation.detector import SigmaCorrelationDetector
from autosoc.detect.correlation.engine import CorrelationEngine
from autosoc.detect.correlation.rules import CorrelationRule, RuleRef

__all__ = ["CorrelationEngine", "CorrelationRule", "RuleRef", "SigmaCorrelationDetector"]
