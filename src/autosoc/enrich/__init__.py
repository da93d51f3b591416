"""Enrichment: context columns added to normalized batches (GeoIP, identities)."""

from autosoc.enrich.base import Enricher, EnricherConfig, enrichers
from autosoc.enrich.geoip import GeoIp2FastBackend, GeoIpEnricher, GeoIpEnricherConfig, GeoRecord, MmdbBackend
from autosoc.enrich.identities import Identity, IdentityEnricher, IdentityEnricherConfig, load_identities

__all__ = [
    "Enricher", "EnricherConfig", "GeoIp2FastBackend", "GeoIpEnricher", "GeoIpEnricherConfig", "GeoRecord",
    "Identity", "IdentityEnricher", "IdentityEnricherConfig", "MmdbBackend", "enrichers", "load_identities",
]
