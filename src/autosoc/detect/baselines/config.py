"""The baselines section of the configuration and :func:`build_baselines`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autosoc.detect.baselines.base import BaselineConfig, BaselineDetector, baselines
from autosoc.detect.baselines.first_seen import FirstSeenConfig
from autosoc.detect.baselines.peer_group import PeerGroupConfig
from autosoc.detect.baselines.rare_time import RareTimeConfig
from autosoc.detect.baselines.travel import ImpossibleTravelConfig
from autosoc.detect.baselines.volume import VolumeConfig
from autosoc.errors import ConfigError

AnyBaselineConfig = Annotated[
    FirstSeenConfig | RareTimeConfig | ImpossibleTravelConfig | VolumeConfig | PeerGroupConfig,
    Field(discriminator="type"),
]


def _defaults() -> list[AnyBaselineConfig]:
    return [FirstSeenConfig(), RareTimeConfig(), ImpossibleTravelConfig(), VolumeConfig(), PeerGroupConfig()]


class BaselinesConfig(BaseModel):
    """Which baseline detectors run, each with its settings (all five with defaults when omitted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detectors: list[AnyBaselineConfig] = Field(
        default_factory=_defaults, description="Baseline detectors, each selected by its `type`.")


def build_baselines(config: BaselinesConfig | Sequence[BaselineConfig | Mapping[str, Any]] | Mapping[str, Any]
                    | None = None) -> list[BaselineDetector]:
    """The enabled detectors of ``config`` (default: every baseline with default settings), in config order.

    Detector names are unique (``first_seen.user_asn``, ``volume.failed_logons``, ...); the runtime
    namespaces each one's snapshot keys by its name.
    """
    parsed = _parse(config)
    detectors: list[BaselineDetector] = []
    for item in parsed.detectors:
        if item.enabled:
            detectors.extend(item.build())
    names = [d.name for d in detectors]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"baseline detectors configured twice: {', '.join(duplicates)}", code="duplicate_detector")
    return detectors


def _parse(config: Any) -> BaselinesConfig:
    if config is None:
        return BaselinesConfig()
    if isinstance(config, BaselinesConfig):
        return config
    if isinstance(config, Mapping):
        raw: Any = config
    else:
        raw = {"detectors": [c.model_dump() if isinstance(c, BaseModel) else c for c in config]}
    for item in raw.get("detectors", []) if isinstance(raw, Mapping) else []:
        kind = item.get("type") if isinstance(item, Mapping) else None
        if isinstance(kind, str):
            baselines.get(kind)  # unknown types fail with the list of known ones
    try:
        return BaselinesConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid baselines configuration: {exc}", code="invalid_config") from exc
