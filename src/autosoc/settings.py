"""The settings of ``autosoc run``: one YAML file, overridable by ``AUTOSOC_*`` environment variables.

The pipeline's shape (sources, rules, stores, detector and correlation tuning) lives in the file;
runtime knobs (``--once``, log level) are CLI flags.  Settings are read once at start and passed
down; no module reads the environment on its own.

Environment overrides use ``AUTOSOC_`` and ``__`` between levels, e.g.
``AUTOSOC_STATE_URL=postgresql+psycopg://autosoc@db/autosoc`` or
``AUTOSOC_PIPELINE__CHECKPOINT_SECONDS=2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from autosoc.correlate.config import CorrelateConfig
from autosoc.detect.baselines.config import BaselinesConfig
from autosoc.enrich.geoip import GeoIpEnricherConfig
from autosoc.enrich.identities import IdentityEnricherConfig
from autosoc.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TailSourceSettings(_Strict):
    paths: list[Path] = Field(description="Files or folders to tail (folders recursively).")
    include: list[str] = Field(default_factory=list, description="Only files matching one of these globs.")
    exclude: list[str] = Field(default_factory=list, description="Skip files matching one of these globs.")
    input_format: str | None = Field(None, description="Force a reader (evtx, jsonl, cloudtrail, syslog, csv, ...).")
    settle_seconds: float = Field(2.0, ge=0, description="Whole-document files (EVTX, CloudTrail, .gz) are read "
                                  "once their size and mtime have not changed for this long.")
    watch: Literal["auto", "inotify", "poll"] = Field("auto", description="How a poll finds what changed: inotify "
                                                      "(Linux) looks only at folders and files it heard of, with a "
                                                      "full walk every 30 s; poll walks every folder on every poll; "
                                                      "auto is inotify where there is one.")


class LakeSettings(_Strict):
    enabled: bool = Field(True, description="Keep every normalized event in the Parquet event lake.")
    retention_days: int | None = Field(90, ge=1, description="Delete lake partitions older than this (event time).")


class EnrichSettings(_Strict):
    geoip: GeoIpEnricherConfig = Field(default_factory=GeoIpEnricherConfig, description="GeoIP/ASN lookups: "
                                       "MaxMind .mmdb files, or the offline data shipped with geoip2fast.")
    identities: IdentityEnricherConfig | None = Field(None, description="Identity inventory CSV (user, department).")


class PipelineSettings(_Strict):
    batch_size: int = Field(20000, ge=1, le=1_000_000, description="Records per detection batch.")
    checkpoint_seconds: float = Field(2.0, ge=0, description="Commit state at least this often (0: every batch); "
                                      "incident changes commit at once (checkpoint_on_incident).")
    checkpoint_on_incident: bool = Field(True, description="Commit at once, whatever checkpoint_seconds says, "
                                         "when a batch opened or changed an incident (it shows sooner).")
    poll_seconds: float = Field(0.25, gt=0, description="Wait between polls when nothing new arrived.")
    lateness_seconds: float = Field(300, ge=0, description="Events up to this much older than the newest one "
                                    "seen still count in correlation windows.")
    min_level: str = Field("informational", description="Lowest Sigma level that feeds entity risk.")
    front_process: bool = Field(False, description="Read, normalize and enrich in a second process, one poll "
                                "ahead of detection (uses a second core).")


class Settings(BaseSettings):
    """Everything ``autosoc run`` needs; see ``autosoc config example``."""

    model_config = SettingsConfigDict(env_prefix="AUTOSOC_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(Path(".autosoc"), description="Where the state DB, the lake and dead letters live.")
    state_url: SecretStr | None = Field(None, description="SQLAlchemy URL of the state DB; default a SQLite file "
                                        "in data_dir. PostgreSQL: postgresql+psycopg://user:pass@host/db.")
    sources: list[TailSourceSettings] = Field(default_factory=list, description="What to read.")
    rules: list[Path] = Field(default_factory=list, description="Sigma rule files or folders.")
    placeholders: dict[str, list[str]] = Field(default_factory=dict, description="Values for |expand rules.")
    lake: LakeSettings = Field(default_factory=LakeSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    baselines: BaselinesConfig = Field(default_factory=BaselinesConfig, description="Behavioural baselines.")
    correlate: CorrelateConfig = Field(default_factory=CorrelateConfig, description="Entity risk and incidents.")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment overrides the file (passed as init values)
        return env_settings, init_settings

    @property
    def state_database(self) -> str:
        if self.state_url is not None:
            return self.state_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'state.db').resolve()}"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from a YAML file (optional), the environment and explicit overrides (CLI flags)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}", code="bad_config_file") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the config file must be a YAML mapping", code="bad_config_file")
        data = loaded or {}
        base = path.parent
        # relative paths in the file are relative to the file
        data = _resolve_paths(data, base)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid settings{where}: {problems}", code="bad_config") from None


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    def fix(value: Any) -> Any:
        return str((base / value).resolve()) if isinstance(value, str) and not Path(value).is_absolute() else value

    out = dict(data)
    if "data_dir" in out:
        out["data_dir"] = fix(out["data_dir"])
    if isinstance(out.get("rules"), list):
        out["rules"] = [fix(v) for v in out["rules"]]
    if isinstance(out.get("sources"), list):
        out["sources"] = [{**s, "paths": [fix(p) for p in s.get("paths", [])]} if isinstance(s, dict) else s
                          for s in out["sources"]]
    enrich = out.get("enrich")
    if isinstance(enrich, dict):
        enrich = {name: ({k: fix(v) if k in _PATH_KEYS else v for k, v in section.items()}
                         if isinstance(section, dict) else section) for name, section in enrich.items()}
        out["enrich"] = enrich
    return out


_PATH_KEYS = frozenset({"path", "city_db", "country_db", "asn_db", "geoip2fast_data"})
