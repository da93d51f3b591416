"""The correlate stage: signals become entity risk and incidents.

:class:`IncidentEngine` is the one stateful component; :class:`CorrelateConfig` its settings.
:class:`RiskLedger` (decayed per-entity risk with diminishing repeats) and :class:`EntityGraph`
(links between entities, hub detection) are its parts, exported for tests and for the
investigate stage.
"""

from autosoc.correlate.config import DEFAULT_DENY, CorrelateConfig
from autosoc.correlate.graph import EntityGraph, entity_key
from autosoc.correlate.incidents import IncidentEngine
from autosoc.correlate.risk import RiskLedger, diversity_multiplier

__all__ = ["DEFAULT_DENY", "CorrelateConfig", "EntityGraph", "IncidentEngine", "RiskLedger", "diversity_multiplier",
           "entity_key"]
