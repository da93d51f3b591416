"""The correlate stage: signals become entity risk and incidents.

:class:`Prevalence` weighs signals by how common their behaviour is across the organisation;
:class:`IncidentEngine` turns them into incidents; :class:`CorrelateConfig` holds both's settings.
:class:`RiskLedger` (decayed per-entity risk with diminishing repeats) and :class:`EntityGraph`
(links between entities, hub detection) are its parts, exported for tests and for the
investigate stage.
"""

from autosoc.correlate.config import DEFAULT_DENY, CorrelateConfig
from autosoc.correlate.graph import EntityGraph, entity_key
from autosoc.correlate.incidents import IncidentEngine
from autosoc.correlate.prevalence import Prevalence, PrevalenceConfig
from autosoc.correlate.risk import RiskLedger, diversity_multiplier

__all__ = ["DEFAULT_DENY", "CorrelateConfig", "EntityGraph", "IncidentEngine", "Prevalence", "PrevalenceConfig",
           "RiskLedger", "diversity_multiplier", "entity_key"]
