"""Behavioural baselines (UEBA): stateful detectors that learn what is normal per entity.

``first_seen`` (new country, ASN, device, user agent, process, parent-child pair, destination
network or port), ``rare_time`` (hour-of-week profile), ``impossible_travel``, ``volume``
(robust z-score of hourly counts) and ``peer_group`` (rare in the user's department).  Build
them with :func:`build_baselines`; each follows the stateful contract of
:class:`BaselineDetector` (snapshot / restore / mark_clean).
"""

from autosoc.detect.baselines.base import BaselineConfig, BaselineDetector, EntityStore, baselines
from autosoc.detect.baselines.config import BaselinesConfig, build_baselines
from autosoc.detect.baselines.first_seen import FEATURES, FirstSeenConfig, FirstSeenDetector
from autosoc.detect.baselines.peer_group import PEER_FEATURES, PeerGroupConfig, PeerGroupDetector
from autosoc.detect.baselines.rare_time import RareTimeConfig, RareTimeDetector
from autosoc.detect.baselines.travel import ImpossibleTravelConfig, ImpossibleTravelDetector, great_circle_km
from autosoc.detect.baselines.volume import METRICS, VolumeConfig, VolumeDetector

__all__ = [
    "FEATURES", "METRICS", "PEER_FEATURES", "BaselineConfig", "BaselineDetector", "BaselinesConfig", "EntityStore",
    "FirstSeenConfig", "FirstSeenDetector", "ImpossibleTravelConfig", "ImpossibleTravelDetector", "PeerGroupConfig",
    "PeerGroupDetector", "RareTimeConfig", "RareTimeDetector", "VolumeConfig", "VolumeDetector", "baselines",
    "build_baselines", "great_circle_km",
]
