"""Time for the simulator: integer microseconds since the Unix epoch, and the formats each log writes.

Every timestamp inside the generator is an ``int`` of microseconds (exact, cheap to sort and
add); the helpers here render it the way each vendor does.  Nothing reads the wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def to_dt(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def from_dt(value: datetime) -> int:
    delta = value.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def local_us(day: date, hour: float, tz: str) -> int:
    """Wall-clock ``hour`` (fractional, 0-24) on ``day`` in time zone ``tz``, as UTC microseconds."""
    seconds = round(hour * 3600)
    extra_days, seconds = divmod(seconds, 86_400)
    day = day + timedelta(days=extra_days)
    local = datetime(day.year, day.month, day.day, seconds // 3600, seconds // 60 % 60, seconds % 60,
                     tzinfo=_zone(tz))
    return from_dt(local)


_ZONES: dict[str, ZoneInfo] = {}


def _zone(tz: str) -> ZoneInfo:
    zone = _ZONES.get(tz)
    if zone is None:
        zone = _ZONES[tz] = ZoneInfo(tz)
    return zone


def local_hour(us: int, tz: str) -> float:
    value = to_dt(us).astimezone(_zone(tz))
    return value.hour + value.minute / 60 + value.second / 3600


def day_start(day: date) -> int:
    return from_dt(datetime(day.year, day.month, day.day, tzinfo=UTC))


def windows_system_time(us: int) -> str:
    """``TimeCreated/@SystemTime`` as evtx renders it: ``2026-11-03T14:00:01.123456Z``."""
    return to_dt(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sysmon_utc(us: int) -> str:
    """Sysmon's ``UtcTime``: ``2026-11-03 14:00:01.123`` (milliseconds)."""
    return to_dt(us).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def iso_seconds(us: int) -> str:
    """CloudTrail ``eventTime`` and Graph ``createdDateTime``: ``2026-11-03T14:00:01Z``."""
    return to_dt(us).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(us: int) -> str:
    """Graph ``activityDateTime`` (7 digits in Graph; 6 here): ``2026-11-03T14:00:01.123456Z``."""
    return to_dt(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def zeek_ts(us: int) -> float:
    return us / SECOND
