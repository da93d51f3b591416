"""GeoIP enrichment against MaxMind-format databases written here, and geoip2fast's bundled data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from autosoc.enrich import GeoIpEnricher, GeoIpEnricherConfig, MmdbBackend, enrichers
from autosoc.enrich.geoip import routable
from autosoc.errors import ConfigError
from autosoc.normalize import fields as F
from autosoc.normalize.parser import empty_events
from autosoc.schema import EventBatch

COLUMNS = [F.SRC_IP, F.SRC_COUNTRY, F.SRC_CITY, F.SRC_LAT, F.SRC_LONG, F.SRC_ASN, F.SRC_ASN_ORG]


def _city(country: str, city: str, lat: float, lon: float) -> dict:
    """The GeoLite2-City record layout (abridged to what autosoc reads, plus neighbours it must ignore)."""
    return {"city": {"geoname_id": 1, "names": {"en": city, "de": city + "-de"}},
            "continent": {"code": "EU", "names": {"en": "Europe"}},
            "country": {"iso_code": country, "geoname_id": 2, "names": {"en": country}},
            "registered_country": {"iso_code": country, "names": {"en": country}},
            "location": {"accuracy_radius": 20, "latitude": lat, "longitude": lon, "time_zone": "Europe/London"}}


@pytest.fixture(scope="module")
def mmdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("mmdb")
    city = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"],
                      description="test city")
    city.insert_network(IPSet(["81.2.69.0/24"]), _city("GB", "London", 51.5142, -0.0931))
    city.insert_network(IPSet(["2a02:c7f::/32"]), _city("GB", "Leeds", 53.7965, -1.5478))
    city.insert_network(IPSet(["89.160.20.0/24"]), {"country": {"iso_code": "SE"}})  # country only, no location
    city.insert_network(IPSet(["10.0.0.0/8"]), _city("ZZ", "Private", 1.0, 1.0))  # must never be read
    city.to_db_file(str(folder / "GeoLite2-City.mmdb"))
    asn = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN", description="test asn")
    asn.insert_network(IPSet(["81.2.64.0/18"]), {"autonomous_system_number": 20712,
                                                 "autonomous_system_organization": "Andrews & Arnold Ltd"})
    asn.insert_network(IPSet(["2a02:c7f::/32"]), {"autonomous_system_number": 5089,
                                                  "autonomous_system_organization": "Virgin Media Limited"})
    asn.to_db_file(str(folder / "GeoLite2-ASN.mmdb"))
    return folder / "GeoLite2-City.mmdb", folder / "GeoLite2-ASN.mmdb"


def _batch(rows: list[dict]) -> EventBatch:
    frame = pl.concat([empty_events(), pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String))],
                      how="diagonal_relaxed")
    return EventBatch(frame, pl.DataFrame({"_": [None] * frame.height}, schema={"_": pl.String}))


def _rows(batch: EventBatch) -> list[tuple]:
    return batch.events.select(COLUMNS).rows()


def test_mmdb_city_and_asn_ipv4_and_ipv6(mmdb: tuple[Path, Path]) -> None:
    enricher = GeoIpEnricherConfig(city_db=mmdb[0], asn_db=mmdb[1]).build()
    out = enricher.enrich(_batch([{F.SRC_IP: "81.2.69.142"}, {F.SRC_IP: "2a02:c7f:1234::1"},
                                  {F.SRC_IP: "::ffff:81.2.69.160"}, {F.SRC_IP: "89.160.20.112"},
                                  {F.SRC_IP: "8.8.8.8"}, {F.SRC_IP: None}, {F.SRC_IP: "not an ip"}]))
    assert _rows(out) == [
        ("81.2.69.142", "GB", "London", "51.5142", "-0.0931", "20712", "Andrews & Arnold Ltd"),
        ("2a02:c7f:1234::1", "GB", "Leeds", "53.7965", "-1.5478", "5089", "Virgin Media Limited"),
        ("::ffff:81.2.69.160", "GB", "London", "51.5142", "-0.0931", "20712", "Andrews & Arnold Ltd"),
        ("89.160.20.112", "SE", None, None, None, None, None),
        ("8.8.8.8", None, None, None, None, None, None),
        (None, None, None, None, None, None, None),
        ("not an ip", None, None, None, None, None, None),
    ]
    assert out.events.height == 7 and out.raw.height == 7


def test_private_and_special_addresses_are_not_looked_up(mmdb: tuple[Path, Path]) -> None:
    enricher = GeoIpEnricherConfig(city_db=mmdb[0]).build()
    ips = ["10.1.2.3", "127.0.0.1", "169.254.10.1", "fe80::1%eth0", "::1", "100.64.1.1", "192.0.2.1", "224.0.0.1"]
    out = enricher.enrich(_batch([{F.SRC_IP: ip} for ip in ips]))
    assert all(row[1:] == (None,) * 6 for row in _rows(out))
    assert enricher.lookups == 0
    assert routable("[2a02:c7f::1]") is not None and routable("10.0.0.1") is None


def test_values_from_the_log_are_kept(mmdb: tuple[Path, Path]) -> None:
    enricher = GeoIpEnricherConfig(city_db=mmdb[0], asn_db=mmdb[1]).build()
    out = enricher.enrich(_batch([
        # the sign-in log has its own location: nothing of it changes
        {F.SRC_IP: "81.2.69.142", F.SRC_COUNTRY: "RO", F.SRC_CITY: "Cluj", F.SRC_LAT: "46.77", F.SRC_LONG: "23.6"},
        # country only, and the database agrees: the coordinates are completed
        {F.SRC_IP: "81.2.69.142", F.SRC_COUNTRY: "gb"},
        # country only, and the database disagrees: no foreign coordinates are invented
        {F.SRC_IP: "81.2.69.142", F.SRC_COUNTRY: "FR"},
        # its own AS: kept, and the name is not taken from another AS
        {F.SRC_IP: "81.2.69.142", F.SRC_ASN: "64500"},
        # the same AS number: the name is completed
        {F.SRC_IP: "81.2.69.142", F.SRC_ASN: "AS20712"},
    ]))
    assert _rows(out) == [
        ("81.2.69.142", "RO", "Cluj", "46.77", "23.6", "20712", "Andrews & Arnold Ltd"),
        ("81.2.69.142", "gb", "London", "51.5142", "-0.0931", "20712", "Andrews & Arnold Ltd"),
        ("81.2.69.142", "FR", None, None, None, "20712", "Andrews & Arnold Ltd"),
        ("81.2.69.142", "GB", "London", "51.5142", "-0.0931", "64500", None),
        ("81.2.69.142", "GB", "London", "51.5142", "-0.0931", "AS20712", "Andrews & Arnold Ltd"),
    ]


def test_each_address_is_looked_up_once_and_cached(mmdb: tuple[Path, Path]) -> None:
    enricher = GeoIpEnricherConfig(city_db=mmdb[0], cache_size=2).build()
    enricher.enrich(_batch([{F.SRC_IP: "81.2.69.142"}] * 50 + [{F.SRC_IP: "81.2.69.1"}] * 50))
    assert enricher.lookups == 2
    enricher.enrich(_batch([{F.SRC_IP: "81.2.69.142"}]))
    assert enricher.lookups == 2  # from the LRU
    enricher.enrich(_batch([{F.SRC_IP: "81.2.69.2"}, {F.SRC_IP: "81.2.69.3"}]))
    assert enricher.lookups == 4
    enricher.enrich(_batch([{F.SRC_IP: "81.2.69.142"}]))
    assert enricher.lookups == 5  # 81.2.69.142 was evicted by the two newer addresses
    assert len(enricher._cache) == 2


def test_frames_without_the_location_columns(mmdb: tuple[Path, Path]) -> None:
    enricher = GeoIpEnricher(MmdbBackend(city=mmdb[0]))
    frame = pl.DataFrame({F.SRC_IP: ["81.2.69.142"]})
    out = enricher.enrich(EventBatch(frame, pl.DataFrame({"_": [None]}, schema={"_": pl.String})))
    assert out.events[F.SRC_CITY].to_list() == ["London"]


def test_bad_database_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GeoIP database not found") as info:
        GeoIpEnricherConfig(city_db=tmp_path / "missing.mmdb").build()
    assert info.value.code == "geoip_db_missing"
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"this is not a maxmind database" * 10)
    with pytest.raises(ConfigError, match="not a MaxMind database") as info:
        GeoIpEnricherConfig(asn_db=junk).build()
    assert info.value.code == "bad_geoip_db"
    with pytest.raises(ConfigError, match="at least one database"):
        GeoIpEnricherConfig(backend="mmdb").build()


def test_geoip2fast_default_gives_country_and_as_name() -> None:
    assert enrichers.get("geoip") is GeoIpEnricherConfig
    enricher = GeoIpEnricherConfig().build()
    out = enricher.enrich(_batch([{F.SRC_IP: "8.8.8.8"}, {F.SRC_IP: "2001:4860:4860::8888"},
                                  {F.SRC_IP: "10.0.0.1"}]))
    rows = _rows(out)
    assert rows[0][1] == "US" and rows[0][6] == "GOOGLE"
    assert rows[1][1] == "US" and rows[1][6] == "GOOGLE"  # IPv6 too
    assert rows[0][2:6] == (None, None, None, None)  # no city, coordinates or AS number in this data
    assert rows[2][1:] == (None,) * 6
