"""Story b: impossible travel and MFA fatigue.

An hour after the victim signed in at home or in the office, someone with their password tries
from the other side of the world and keeps triggering push notifications; the victim declines
again and again (Entra ``500121``, "MFA denied; user declined the authentication"), then
approves one.  The attacker reads mail and registers their own authenticator.
"""

from __future__ import annotations

import random
from datetime import date

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, MINUTE, SECOND
from autosoc.simulate.entra import APPS, EXO, MFA_DENIED, App, Client, directory_audit, sign_in, target
from autosoc.simulate.org import Organisation, Place
from autosoc.simulate.presence import Segment
from autosoc.simulate.stories.base import Story

FAR = {"VN": Place("Hanoi", "Ha Noi", "VN", "Asia/Bangkok", 21.0278, 105.8342),
       "ID": Place("Jakarta", "Jakarta", "ID", "Asia/Jakarta", -6.2088, 106.8456),
       "BR": Place("Sao Paulo", "Sao Paulo", "BR", "America/Sao_Paulo", -23.5505, -46.6333)}
OWA = App("Office 365 Exchange Online", EXO[1], *EXO, "Browser")
UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
      "Safari/537.36")


def build(org: Organisation, day: date, rng: random.Random, segments: dict[str, tuple[Segment, ...]]) -> Story:
    candidates = [u for u in org.users if not u.is_admin and (u.trip is None)
                  and any(s.where in ("home", "office", "vpn") for s in segments[u.sam].get(day, ()))]
    victim = rng.choice(candidates or org.users)
    seg = next(s for s in segments[victim.sam].get(day, ()) if s.where in ("home", "office", "vpn"))
    pool = ipplan.MFA_FAR[victim.country]
    place = FAR[pool.country]
    ip = pool.pick(rng)
    story = Story("b-mfa-fatigue", "b", "Impossible travel and MFA fatigue, then a new authenticator",
                  [f"user:{victim.upn}", f"ip:{ip}"],
                  [f"impossible travel: {seg.place.city} ({seg.place.country}) then {place.city} ({place.country}) "
                   "about an hour later",
                   "burst of MFA push denials (500121) for one user, then a success",
                   "sign-in from a new country, ASN and unmanaged device",
                   "security info registered right after a risky sign-in"])
    client = Client("", "", "MacOs", "Chrome 131.0.0", False, UA)
    us = seg.start + int(rng.uniform(0.9, 1.3) * HOUR)
    emit = story.add(("entra_signin",), "MFA push bombing")
    for _ in range(rng.randrange(9, 18)):
        emit(us, sign_in(rng, us, victim, APPS["portal"], ip, place, client, interactive=True, status=MFA_DENIED,
                         mfa="denied"))
        us += rng.randrange(40, 150) * SECOND
    story.add(("entra_signin",), "push approved")(
        us, sign_in(rng, us, victim, APPS["portal"], ip, place, client, interactive=True, mfa="approved"))
    emit = story.add(("entra_signin",), "mailbox access")
    for _ in range(rng.randrange(3, 7)):
        us += rng.randrange(1, 8) * MINUTE
        emit(us, sign_in(rng, us, victim, OWA, ip, place, client, interactive=False, mfa="satisfied"))
    us += rng.randrange(2, 6) * MINUTE
    story.add(("entra_audit",), "attacker registers an authenticator")(
        us, directory_audit(rng, us, "User registered security info", "UserManagement", "Add",
                            initiator_upn=victim.upn, initiator_id=victim.object_id, ip=ip,
                            targets=[target("User", victim.object_id, victim.display, upn=victim.upn)],
                            details=[("User-Agent", UA)], service="Authentication Methods"))
    story.details = {"victim": victim.upn, "attacker_ip": ip, "home_sign_in_ip": seg.ip,
                     "home_place": f"{seg.place.city}, {seg.place.country}",
                     "far_place": f"{place.city}, {place.country}"}
    return story
