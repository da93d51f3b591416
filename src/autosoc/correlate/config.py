"""The settings of the correlate stage: entity risk, hub entities and incident grouping.

Every duration is event time (the ``time`` of the signals), never the wall clock.  Durations
accept seconds (``86400``) or ISO 8601 (``PT24H``, ``P1D``).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from autosoc.correlate.prevalence import PrevalenceConfig
from autosoc.schema import LEVELS

#: entities that appear in signals about unrelated activity and so must never tie incidents
#: together or collect risk: loopback/unspecified/link-local/multicast addresses, the Windows
#: service and anonymous accounts, placeholders that logs write for "no value", AWS service principals
DEFAULT_DENY = (
    "ip:127.*", "ip:::1", "ip:0.0.0.0", "ip:::", "ip:169.254.*", "ip:fe80:*", "ip:255.255.255.255",
    "ip:22[4-9].*", "ip:23[0-9].*", "ip:ff??:*", "ip:::ffff:127.*",
    "user:system", "user:localsystem", "user:local system", "user:local service", "user:localservice",
    "user:network service", "user:networkservice", "user:anonymous logon", "user:anonymous", "user:guest",
    "user:nobody", "user:dwm-*", "user:umfd-*", "user:trustedinstaller",
    "host:localhost", "cloud_principal:*.amazonaws.com", "cloud_principal:anonymous",
    "*:-", "*:n/a", "*:none", "*:null", "*:unknown", "*:undefined",
)


class CorrelateConfig(BaseModel):
    """How signals become entity risk and incidents (the defaults are explained in each description)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prevalence: PrevalenceConfig = Field(default_factory=PrevalenceConfig,
                                         description="Risk scaled down for behaviour common across the organisation.")
    threshold: float = Field(
        100.0, gt=0, description="An incident opens when the decayed, diversity-weighted risk around an entity "
        "reaches this. With the base risks (low 10, medium 25, high 50) it takes e.g. four different medium "
        "rules, or two medium signals plus a baseline anomaly across two tactics.")
    half_life: timedelta = Field(
        timedelta(hours=24), description="Risk halves after this much event time without new signals.")
    join_window: timedelta = Field(
        timedelta(hours=24), description="A signal joins an incident when it shares a (non-hub) entity the "
        "incident saw less than this long before; the same window bounds which weak signals an opening "
        "incident pulls in and how long a link between two entities counts.")
    lateness: timedelta = Field(
        timedelta(hours=1), description="Signals may arrive this much older than the newest one seen (event "
        "time) and still count; state older than the windows plus this is forgotten.")
    open_level: str = Field(
        "high", description="A single signal of this level or above opens an incident on its own.")
    min_rules: int = Field(
        2, ge=1, description="Risk alone opens an incident only when it comes from at least this many distinct "
        "rules or models, so one noisy rule cannot open incidents however often it fires.")
    repeat_factor: float = Field(
        0.5, ge=0, lt=1, description="Diminishing returns: the n-th recent hit of the same rule on the same "
        "entity adds risk * repeat_factor**(n-1), so a burst of one rule adds about 1/(1-repeat_factor) times its "
        "risk to one entity (the count of recent hits decays with half_life). 0: a rule counts once until "
        "its hit count fades (about four half-lives).")
    detector_bonus: float = Field(
        0.5, ge=0, description="Each distinct detector (sigma, baseline, sigma correlation, ...) beyond the "
        "first multiplies the risk by 1 + this: independent kinds of evidence agreeing is what makes a story.")
    tactic_bonus: float = Field(
        0.25, ge=0, description="Each distinct ATT&CK tactic beyond the first multiplies the risk by 1 + this.")
    max_multiplier: float = Field(
        2.5, ge=1, description="Upper bound of the detector and tactic multiplier.")
    hub_degree: int = Field(
        20, ge=2, description="An entity linked (through signals) to this many distinct entities within the "
        "join window is a hub (domain controller, DNS server, proxy, shared account): it neither links "
        "incidents nor collects risk while it stays that connected.")
    share_max_degree: int = Field(
        3, ge=1, description="Risk of a linked entity counts toward an entity's risk only when the link is "
        "near one-to-one: each side is linked to at most this many entities of the other's kind (alice and "
        "her workstation, not a file server and its hundred users).")
    deny: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DENY), description="Entities (kind:value globs on canonical, "
        "lower-case values; * ? [..]) that are always hubs. Add the org's own hubs here: domain controllers, "
        "DNS servers, proxies, the cloud account id, scanner hosts.")
    deny_extra: list[str] = Field(
        default_factory=list, description="More deny globs, added to `deny` (to extend the default list "
        "without repeating it).")
    raise_risk: float = Field(
        250.0, gt=0, description="Severity is raised one level (up to critical) when the incident's risk "
        "reaches this ...")
    raise_tactics: int = Field(
        3, ge=1, description="... or when it spans at least this many ATT&CK tactics.")
    max_signals_per_entity: int = Field(
        64, ge=1, description="Weak signals remembered per entity (the most recent) to pull into an "
        "incident that opens later.")
    remember_min_risk: float = Field(
        1.0, ge=0, description="A signal that is in no incident is remembered only when it adds at least this "
        "much risk to one of its entities (repeats of a noisy rule fade below it and cost no memory).")
    max_incident_signals: int = Field(
        10_000, ge=1, description="Signal ids listed per incident at most; later ones still update its risk, "
        "time span, tactics and entities.")

    @field_validator("open_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"unknown level {value!r}; one of {', '.join(LEVELS)}")
        return value

    @field_validator("half_life", "join_window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("lateness")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("deny", "deny_extra")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        for glob in value:
            if ":" not in glob:
                raise ValueError(f"deny entry {glob!r} is not kind:value (e.g. ip:10.0.0.53, host:dc*)")
        return [glob.strip().lower() for glob in value]
