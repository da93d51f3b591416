"""Where each person is, hour by hour: the one schedule every telemetry source follows.

A day is a list of :class:`Segment` (office, home, home over VPN, hotel abroad, or in flight),
in UTC microseconds, each with the public address and place the identity provider would see.
Work follows the user's local office hours (their own start time, a lunch gap), weekends are
mostly quiet, and a trip moves the person at airliner speed, never faster.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, MINUTE, local_us
from autosoc.simulate.org import OFFICES, Place, User

VPN_PLACE = Place("Ashburn", "Virginia", "US", "America/New_York", 39.0438, -77.4874)


@dataclass(frozen=True, slots=True)
class Segment:
    start: int
    end: int
    where: str  # office | home | vpn | hotel | flight
    ip: str
    place: Place
    tz: str  # the user's local time zone during the segment

    @property
    def at_office(self) -> bool:
        return self.where == "office"


def _place_home(user: User) -> Place:
    office = OFFICES[user.office]
    city, lat, lon = user.home_city
    return Place(city, office.state, office.country, office.tz, lat, lon)


def day_segments(seed: int, user: User, day: date) -> tuple[Segment, ...]:
    rng = random.Random(f"{seed}/presence/{user.sam}/{day.isoformat()}")
    office = OFFICES[user.office]
    trip = user.trip
    if trip is not None and trip.depart <= day <= trip.back:
        return _trip_day(rng, user, day)
    weekday = day.weekday()
    if weekday >= 5:
        if rng.random() < 0.10:  # checks mail at home on the weekend
            start = local_us(day, rng.uniform(9.0, 20.0), office.tz)
            return (Segment(start, start + int(rng.uniform(0.3, 1.2) * HOUR), "home", user.home_ip,
                            _place_home(user), office.tz),)
        return ()
    if rng.random() < 0.03:  # sick or on leave
        return ()
    start = user.start_hour + rng.uniform(-0.4, 0.5)
    length = user.hours + rng.uniform(-0.75, 0.75)
    where = "home" if weekday in user.remote_weekdays else "office"
    if where == "home" and rng.random() < 0.55:
        where = "vpn"
    lunch = start + rng.uniform(3.5, 4.5)
    t0, t1 = local_us(day, start, office.tz), local_us(day, lunch, office.tz)
    t2, t3 = t1 + int(rng.uniform(25, 60) * MINUTE), local_us(day, start + length, office.tz)
    return tuple(_segment(user, a, b, where, rng) for a, b in ((t0, t1), (t2, t3)))


def _segment(user: User, start: int, end: int, where: str, rng: random.Random) -> Segment:
    office = OFFICES[user.office]
    if where == "office":
        return Segment(start, end, where, egress_ip(user.office, user.sam), office, office.tz)
    if where == "vpn":
        return Segment(start, end, where, ipplan.VPN_EGRESS.pick(rng), VPN_PLACE, office.tz)
    return Segment(start, end, where, user.home_ip, _place_home(user), office.tz)


def _trip_day(rng: random.Random, user: User, day: date) -> tuple[Segment, ...]:
    trip = user.trip
    assert trip is not None
    home = OFFICES[user.office]
    dest = trip.dest
    hotel = Segment(0, 0, "hotel", trip.hotel_ip, dest, dest.tz)
    if day == trip.depart or day == trip.back:
        origin, target = (home, dest) if day == trip.depart else (dest, home)
        morning = local_us(day, rng.uniform(7.5, 8.5), origin.tz)
        takeoff = local_us(day, rng.uniform(11.0, 13.0), origin.tz)
        land = takeoff + int(trip.flight_hours * HOUR)
        first_ip = user.home_ip if day == trip.depart else trip.hotel_ip
        first = Segment(morning, takeoff - int(2.5 * HOUR), "home" if day == trip.depart else "hotel", first_ip,
                        _place_home(user) if day == trip.depart else dest, origin.tz)
        flight = Segment(takeoff, land, "flight", "", origin, origin.tz)
        after_ip = trip.hotel_ip if day == trip.depart else user.home_ip
        after_place = dest if day == trip.depart else _place_home(user)
        after = Segment(land + int(rng.uniform(1.0, 2.0) * HOUR), land + int(rng.uniform(2.5, 4.0) * HOUR),
                        "hotel" if day == trip.depart else "home", after_ip, after_place, target.tz)
        return (first, flight, after)
    if day.weekday() >= 5:
        return ()
    start = user.start_hour + rng.uniform(-0.5, 0.5)
    a = local_us(day, start, dest.tz)
    b = local_us(day, start + rng.uniform(6.0, 9.0), dest.tz)
    ip = trip.hotel_ip if rng.random() < 0.5 else ipplan.VPN_EGRESS.pick(rng)
    return (Segment(a, b, "hotel" if ip == trip.hotel_ip else "vpn", ip,
                    dest if ip == trip.hotel_ip else VPN_PLACE, hotel.tz),)


def schedule(seed: int, users: list[User], days: list[date]) -> dict[str, dict[date, tuple[Segment, ...]]]:
    """Everyone's segments for every day of the scenario."""
    return {u.sam: {d: day_segments(seed, u, d) for d in days} for u in users}


def egress_ip(office: str, key: str) -> str:
    """The office NAT address a flow leaves by (a stable hash of ``key`` over the block)."""
    net = ipaddress.IPv4Network(ipplan.OFFICE_EGRESS[office].cidrs[0])
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")
    return str(net.network_address + 1 + h % (net.num_addresses - 2))


@lru_cache(maxsize=4096)
def resolve(name: str) -> str:
    """The address an Internet name resolves to (stable per name, inside its service's range)."""
    for _, names, nets, _ in ipplan.SERVICES:
        if name in names:
            h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big")
            net = ipaddress.IPv4Network(nets[h % len(nets)])
            return str(net.network_address + 16 + h % max(1, net.num_addresses - 32))
    h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big")
    return f"104.{16 + h % 4}.{h >> 8 & 255}.{h >> 16 & 255}"
