"""The organisation: offices, people, their machines, servers, cloud accounts and trips.

Built once from the seed; every generator reads it.  Nothing here depends on the wall clock or
on hash order, so the same seed and size always give the same organisation.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from autosoc.simulate import ipplan
from autosoc.simulate.ids import alnum, hex_id, stable_guid

DOMAIN = "corp.example"
NETBIOS = "CORP"
TENANT_ID = "6f1c2a9e-3b47-4d21-9a0e-5c8b7d2e4f10"


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    state: str
    country: str
    tz: str
    lat: float
    lon: float


OFFICES = {
    "NYC": Place("New York", "New York", "US", "America/New_York", 40.7128, -74.0060),
    "LON": Place("London", "England", "GB", "Europe/London", 51.5074, -0.1278),
    "BER": Place("Berlin", "Berlin", "DE", "Europe/Berlin", 52.5200, 13.4050),
}
#: where people live, near their office (the city their home ISP geolocates to)
HOME_CITIES = {
    "NYC": (("Brooklyn", 40.6782, -73.9442), ("Jersey City", 40.7178, -74.0431), ("Yonkers", 40.9312, -73.8988)),
    "LON": (("London", 51.5074, -0.1278), ("Croydon", 51.3762, -0.0982), ("Watford", 51.6565, -0.3903)),
    "BER": (("Berlin", 52.5200, 13.4050), ("Potsdam", 52.3906, 13.0645)),
}
TRAVEL_DESTINATIONS = (
    Place("Paris", "Ile-de-France", "FR", "Europe/Paris", 48.8566, 2.3522),
    Place("Madrid", "Madrid", "ES", "Europe/Madrid", 40.4168, -3.7038),
    Place("Tokyo", "Tokyo", "JP", "Asia/Tokyo", 35.6762, 139.6503),
    OFFICES["LON"], OFFICES["NYC"], OFFICES["BER"],
)

FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Oliver", "Amelia", "Harry",
    "Isla", "George", "Ava", "Noah", "Mia", "Jack", "Emily", "Lukas", "Hannah", "Felix", "Lea", "Jonas", "Anna",
    "Leon", "Sophie", "Paul", "Marie", "Ben", "Emma", "Finn", "Lina", "Priya", "Arjun", "Wei", "Mei", "Carlos",
    "Lucia", "Ahmed", "Fatima", "Kenji", "Yuki", "Olga", "Ivan",
)
LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips",
    "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Mueller",
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz", "Patel",
    "Khan", "Chen", "Wang", "Kim", "Nakamura", "Silva", "Costa", "Novak",
)
DEPARTMENTS = (  # (department, weight, titles)
    ("Sales", 18, ("Account Executive", "Sales Manager", "Sales Development Rep")),
    ("Engineering", 22, ("Software Engineer", "Senior Software Engineer", "Engineering Manager", "SRE")),
    ("Finance", 10, ("Accountant", "Financial Analyst", "Controller")),
    ("Marketing", 10, ("Marketing Manager", "Content Strategist", "Designer")),
    ("Operations", 12, ("Operations Analyst", "Project Manager", "Office Manager")),
    ("HR", 6, ("HR Business Partner", "Recruiter")),
    ("Legal", 4, ("Counsel", "Paralegal")),
    ("Support", 12, ("Support Engineer", "Support Lead")),
)
IT_TITLES = ("Systems Administrator", "Cloud Engineer", "IT Manager", "Security Engineer")


@dataclass(slots=True)
class Trip:
    """A business trip: out on ``depart`` (local morning), back on ``back``."""

    dest: Place
    depart: date
    back: date
    flight_hours: float
    hotel_ip: str


@dataclass(slots=True)
class User:
    sam: str
    upn: str
    display: str
    department: str
    title: str
    is_admin: bool
    is_dev: bool
    manager: str
    office: str
    country: str
    tz: str
    object_id: str
    sid: str
    host: str
    home_ip: str
    home_city: tuple[str, float, float]
    device_id: str
    start_hour: float
    hours: float
    remote_weekdays: tuple[int, ...]
    browser: str
    trip: Trip | None = None

    @property
    def domain_user(self) -> str:
        return f"{NETBIOS}\\{self.sam}"


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # WS-017
    ip: str
    role: str  # workstation | dc | file | web | sql | app | deploy | backup
    office: str
    machine_prefix: str  # first group of Sysmon ProcessGuids on this host
    os: str = "Windows 11 Enterprise"
    owner: str | None = None  # sam of the user of a workstation

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"


@dataclass(frozen=True, slots=True)
class AwsAccount:
    id: str
    alias: str
    regions: tuple[str, ...]


@dataclass(slots=True)
class Organisation:
    seed: int
    start: date
    days: int
    users: list[User]
    hosts: list[Host]
    domain_sid: str
    aws: tuple[AwsAccount, ...]
    ci_key: str
    ci_principal: str
    by_sam: dict[str, User] = field(default_factory=dict)
    by_host: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_sam = {u.sam: u for u in self.users}
        self.by_host = {h.name: h for h in self.hosts}

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def servers(self, role: str | None = None) -> list[Host]:
        return [h for h in self.hosts if h.role != "workstation" and (role is None or h.role == role)]

    def admins(self) -> list[User]:
        return [u for u in self.users if u.is_admin]


SERVERS = (("DC-01", "dc"), ("DC-02", "dc"), ("FS-01", "file"), ("WEB-01", "web"), ("SQL-01", "sql"),
           ("APP-01", "app"), ("SCCM-01", "deploy"), ("BKP-01", "backup"))


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def build_org(seed: int, n_users: int, start: date, days: int) -> Organisation:
    rng = random.Random(f"{seed}/org")
    domain_sid = f"S-1-5-21-{rng.randrange(10**9, 4 * 10**9)}-{rng.randrange(10**9, 4 * 10**9)}-" \
                 f"{rng.randrange(10**9, 4 * 10**9)}"
    weights = [w for _, w, _ in DEPARTMENTS]
    n_admins = max(2, round(n_users * 0.04))
    offices = list(OFFICES)
    users: list[User] = []
    taken: set[str] = set()
    lan_counter = {o: 0 for o in offices}
    hosts: list[Host] = []
    for i in range(n_users):
        while True:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            sam = f"{first}.{last}".lower()[:20]
            if sam not in taken:
                taken.add(sam)
                break
        office = rng.choices(offices, weights=(50, 30, 20))[0]
        place = OFFICES[office]
        if i < n_admins:
            department, title, is_admin = "IT", IT_TITLES[i % len(IT_TITLES)], True
        else:
            dept = rng.choices(DEPARTMENTS, weights=weights)[0]
            department, title, is_admin = dept[0], rng.choice(dept[2]), False
        is_dev = department == "Engineering" or (is_admin and rng.random() < 0.5)
        host_name = f"WS-{i + 1:03d}"
        lan_counter[office] += 1
        n = lan_counter[office]
        host_ip = f"{ipplan.OFFICE_LAN[office]}.{1 + n // 250}.{10 + n % 240}"
        hosts.append(Host(host_name, host_ip, "workstation", office, hex_id(rng, 8).upper(), owner=sam))
        home_pool = rng.choice(ipplan.HOME_ISPS[place.country])
        remote = tuple(sorted(rng.sample(range(5), rng.choice((0, 1, 1, 2, 2, 3)))))
        users.append(User(
            sam=sam, upn=f"{sam}@{DOMAIN}", display=f"{first} {last}", department=department, title=title,
            is_admin=is_admin, is_dev=is_dev, manager="", office=office, country=place.country, tz=place.tz,
            object_id=stable_guid(str(seed), "user", sam), sid=f"{domain_sid}-{1104 + i}", host=host_name,
            home_ip=home_pool.pick(rng), home_city=rng.choice(HOME_CITIES[office]),
            device_id=stable_guid(str(seed), "device", host_name),
            start_hour=round(rng.uniform(7.25, 9.75) * 4) / 4, hours=rng.uniform(8.0, 9.5),
            remote_weekdays=remote, browser=rng.choices(("Edge", "Chrome"), weights=(55, 45))[0]))
    _assign_managers(rng, users)
    for j, (name, role) in enumerate(SERVERS):
        hosts.append(Host(name, f"{ipplan.SERVER_NET}.{10 + j}", role, "NYC", hex_id(rng, 8).upper(),
                          os="Windows Server 2022 Datacenter"))
    _plan_trips(rng, users, start, days)
    aws = (AwsAccount("410972331905", "corp-prod", ("us-east-1", "eu-west-1")),
           AwsAccount("735219864201", "corp-dev", ("us-east-1",)))
    ci_key = "AKIA" + alnum(rng, 16)
    ci_principal = "AIDA" + alnum(rng, 17)
    return Organisation(seed, start, days, users, hosts, domain_sid, aws, ci_key, ci_principal)


def _assign_managers(rng: random.Random, users: list[User]) -> None:
    by_dept: dict[str, list[User]] = {}
    for u in users:
        by_dept.setdefault(u.department, []).append(u)
    for members in by_dept.values():
        boss = next((u for u in members if "Manager" in u.title), members[0])
        for u in members:
            u.manager = "" if u is boss else boss.upn


def _plan_trips(rng: random.Random, users: list[User], start: date, days: int) -> None:
    """About 6 % of the staff travel once, on weekdays after the first few days."""
    if days < 5:
        return
    for u in users:
        if rng.random() >= 0.06:
            continue
        dest = rng.choice([p for p in TRAVEL_DESTINATIONS if p.country != u.country])
        first = rng.randrange(3, max(4, days - 2))
        depart = start + timedelta(days=first)
        if depart.weekday() >= 5:
            depart += timedelta(days=7 - depart.weekday())
        back = depart + timedelta(days=rng.randrange(2, 5))
        home = OFFICES[u.office]
        hours = distance_km((home.lat, home.lon), (dest.lat, dest.lon)) / 800 + 1.0
        hotel = rng.choice(ipplan.HOME_ISPS[dest.country]).pick(rng)
        u.trip = Trip(dest, depart, back, round(hours, 2), hotel)
