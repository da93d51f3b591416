"""GeoIP: the country, city, coordinates and autonomous system of a source address.

Two backends:

- ``mmdb``: MaxMind-format databases read with ``maxminddb`` (GeoLite2-City / -Country / -ASN or
  the commercial GeoIP2 equivalents, and any database with the same record layout:
  ``country.iso_code``, ``city.names.en``, ``location.latitude/longitude``,
  ``autonomous_system_number``, ``autonomous_system_organization``).
- ``geoip2fast``: the offline data shipped inside the ``geoip2fast`` package (a GeoLite2 derived
  country + ASN table for IPv4 and IPv6).  It gives the country and the AS *name* only: no city,
  no coordinates (so impossible travel cannot use it) and no AS number.

``auto`` (the default) uses the mmdb files when any is configured, else geoip2fast.

What the event already carries is kept: its location is completed only when it has none, or when
its country agrees with the database (a sign-in log with country ``RO`` gains Romanian
coordinates, never German ones); its AS is completed only when it has none or the same number.
Addresses that are not globally routable (private, loopback, link-local, CGNAT, documentation,
multicast) are never looked up.  Each distinct address is looked up once per batch, and answers
stay in a bounded LRU across batches.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import maxminddb
import polars as pl
from pydantic import Field

from autosoc.enrich.base import EnricherConfig, enrichers, ensure_columns, is_blank
from autosoc.errors import ConfigError
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch

LOCATION = (F.SRC_COUNTRY, F.SRC_CITY, F.SRC_LAT, F.SRC_LONG)
NETWORK = (F.SRC_ASN, F.SRC_ASN_ORG)
TARGETS = LOCATION + NETWORK
#: the geoip2fast data file with country + ASN for IPv4 and IPv6
GEOIP2FAST_DEFAULT = "geoip2fast-asn-ipv6.dat.gz"


@dataclass(frozen=True, slots=True)
class GeoRecord:
    country: str | None = None  # ISO 3166 alpha-2
    city: str | None = None
    lat: str | None = None
    long: str | None = None
    asn: str | None = None  # digits, no "AS"
    asn_org: str | None = None

    def values(self) -> tuple[str | None, ...]:
        return (self.country, self.city, self.lat, self.long, self.asn, self.asn_org)


class GeoIpBackend(Protocol):
    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> GeoRecord | None: ...


def routable(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``text`` when it is globally routable unicast, else None (not an address,
    private, loopback, link-local, shared/CGNAT, documentation, multicast, ...)."""
    value = text.strip().strip("[]")
    value = value.split("%", 1)[0]  # IPv6 zone index
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if not addr.is_global or addr.is_multicast:
        return None
    return addr


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class MmdbBackend:
    """MaxMind-format databases: any of a City (or Country) and an ASN database."""

    def __init__(self, city: Path | None = None, country: Path | None = None, asn: Path | None = None) -> None:
        self._readers = [(kind, self._open(path)) for kind, path in (("city", city), ("country", country),
                                                                     ("asn", asn)) if path is not None]
        if not self._readers:
            raise ConfigError("the mmdb GeoIP backend needs at least one database file", code="geoip_no_database")

    @staticmethod
    def _open(path: Path) -> maxminddb.Reader:
        if not path.is_file():
            raise ConfigError(f"GeoIP database not found: {path}", code="geoip_db_missing")
        try:
            return maxminddb.open_database(str(path))
        except (maxminddb.InvalidDatabaseError, OSError, ValueError) as exc:
            raise ConfigError(f"not a MaxMind database: {path}: {exc}", code="bad_geoip_db") from exc

    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> GeoRecord | None:
        found: dict[str, str | None] = {}
        for _, reader in self._readers:
            try:
                record = reader.get(address)
            except (ValueError, maxminddb.InvalidDatabaseError):
                continue  # e.g. an IPv6 address in an IPv4-only database
            if not isinstance(record, dict):
                continue
            country = record.get("country") or record.get("registered_country") or {}
            location = record.get("location") or {}
            names = (record.get("city") or {}).get("names") or {}
            lat, lon = location.get("latitude"), location.get("longitude")
            for key, value in (
                ("country", _text(country.get("iso_code")) if isinstance(country, dict) else None),
                ("city", _text(names.get("en")) if isinstance(names, dict) else None),
                ("lat", None if lat is None or lon is None else _text(lat)),
                ("long", None if lat is None or lon is None else _text(lon)),
                ("asn", _text(record.get("autonomous_system_number"))),
                ("asn_org", _text(record.get("autonomous_system_organization"))),
            ):
                if value and not found.get(key):
                    found[key] = value
        return GeoRecord(**found) if found else None


_G2F_LOCK = threading.Lock()
_G2F: dict[str, Any] = {}


class GeoIp2FastBackend:
    """The country + ASN data inside the geoip2fast package.

    geoip2fast keeps its tables in module globals, so one process can hold one data file: the
    first one loaded is shared by every enricher, and asking for another is a configuration error.
    """

    #: geoip2fast's country codes that are not countries
    _NOT_COUNTRIES = frozenset({"", "--", "XX"})

    def __init__(self, data_file: str = GEOIP2FAST_DEFAULT) -> None:
        with _G2F_LOCK:
            loaded = _G2F.get("file")
            if loaded is None:
                try:
                    from geoip2fast import GeoIP2Fast

                    _G2F["db"] = GeoIP2Fast(geoip2fast_data_file=data_file)
                except Exception as exc:  # geoip2fast raises its own GeoIPError or OSError/pickle errors
                    raise ConfigError(f"cannot load geoip2fast data {data_file!r}: {exc}",
                                      code="bad_geoip_db") from exc
                _G2F["file"] = loaded = data_file
            elif loaded != data_file:
                raise ConfigError(f"geoip2fast already holds {loaded!r} in this process; it cannot also load "
                                  f"{data_file!r}", code="geoip_conflict")
            self._db = _G2F["db"]

    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> GeoRecord | None:
        result = self._db.lookup(str(address))
        if getattr(result, "is_private", False):
            return None
        country = _text(getattr(result, "country_code", None))
        org = _text(getattr(result, "asn_name", None))
        if country in self._NOT_COUNTRIES or country is None or len(country) != 2:
            country = None
        if country is None and org is None:
            return None
        return GeoRecord(country=country, asn_org=org)


@enrichers.register("geoip")
class GeoIpEnricherConfig(EnricherConfig):
    """Location and autonomous system of ``src_endpoint.ip`` from MaxMind databases or geoip2fast's data."""

    type: Literal["geoip"] = "geoip"
    backend: Literal["auto", "mmdb", "geoip2fast"] = Field(
        "auto", description="mmdb files, geoip2fast's bundled data, or auto (mmdb when a file is set).")
    city_db: Path | None = Field(None, description="GeoLite2-City / GeoIP2-City .mmdb file.")
    country_db: Path | None = Field(None, description="GeoLite2-Country .mmdb file (when there is no City file).")
    asn_db: Path | None = Field(None, description="GeoLite2-ASN .mmdb file.")
    geoip2fast_data: str = Field(
        GEOIP2FAST_DEFAULT, description="geoip2fast data file name (from the package) or path.")
    cache_size: int = Field(100_000, ge=0, description="Addresses whose answers are kept across batches (LRU).")

    def build(self) -> GeoIpEnricher:
        mmdb = any(p is not None for p in (self.city_db, self.country_db, self.asn_db))
        if self.backend == "mmdb" or (self.backend == "auto" and mmdb):
            backend: GeoIpBackend = MmdbBackend(self.city_db, self.country_db, self.asn_db)
        else:
            backend = GeoIp2FastBackend(self.geoip2fast_data)
        return GeoIpEnricher(backend, cache_size=self.cache_size)


class GeoIpEnricher:
    name = "geoip"

    def __init__(self, backend: GeoIpBackend, *, cache_size: int = 100_000) -> None:
        self.backend = backend
        self.cache_size = cache_size
        self._cache: OrderedDict[str, GeoRecord | None] = OrderedDict()
        self.lookups = 0  # backend lookups done (distinct addresses not in the cache)

    def lookup(self, ip: str) -> GeoRecord | None:
        """The record for one address text (None: not routable, or not in the database)."""
        cached = self._cache.get(ip, _MISS)
        if cached is not _MISS:
            self._cache.move_to_end(ip)
            return cached  # type: ignore[return-value]
        addr = routable(ip)
        record = None
        if addr is not None:
            self.lookups += 1
            record = self.backend.lookup(addr)
        if self.cache_size:
            self._cache[ip] = record
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return record

    def enrich(self, batch: EventBatch) -> EventBatch:
        events = batch.events
        if events.height == 0 or F.SRC_IP not in events.columns:
            return batch
        events = ensure_columns(events, TARGETS)
        wanted = events.filter(pl.col(F.SRC_IP).is_not_null()
                               & pl.any_horizontal([is_blank(c) for c in TARGETS]))[F.SRC_IP]
        ips = sorted(wanted.unique().to_list())
        if not ips:
            return EventBatch(events, batch.raw, batch.dead_letters)
        records = {ip: self.lookup(ip) for ip in ips}
        found = {ip: r.values() for ip, r in records.items() if r is not None}
        if not found:
            return EventBatch(events, batch.raw, batch.dead_letters)
        keys = list(found)
        geo = [f"_geo{i}" for i in range(len(TARGETS))]
        events = events.with_columns(
            pl.col(F.SRC_IP).replace_strict(keys, [found[k][i] for k in keys], default=None,
                                            return_dtype=pl.String).alias(geo[i])
            for i in range(len(TARGETS)))
        g_country, g_asn = pl.col(geo[0]), pl.col(geo[4])
        has_location = ~pl.all_horizontal([is_blank(c) for c in LOCATION])
        same_country = ~is_blank(F.SRC_COUNTRY) & (pl.col(F.SRC_COUNTRY).str.strip_chars().str.to_uppercase()
                                                    == g_country)
        may_locate = ~has_location | same_country.fill_null(False)
        has_asn = ~is_blank(F.SRC_ASN)
        same_asn = has_asn & (pl.col(F.SRC_ASN).str.strip_chars().str.to_uppercase().str.replace("^AS", "")
                              == g_asn)
        may_network = (~has_asn & is_blank(F.SRC_ASN_ORG)) | same_asn.fill_null(False)
        fills = [
            pl.when(is_blank(col) & (may_locate if col in LOCATION else may_network)).then(pl.col(g))
            .otherwise(pl.col(col)).alias(col)
            for col, g in zip(TARGETS, geo, strict=True)
        ]
        events = events.with_columns(fills).drop(geo)
        return EventBatch(events, batch.raw, batch.dead_letters)


_MISS = object()
