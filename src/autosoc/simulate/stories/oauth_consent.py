"""Story a: password spray, a successful sign-in from a new country and ISP, then an illicit OAuth grant.

The attacker sprays one password over many accounts from a Nigerian mobile ISP, gets in as an
IT administrator through a legacy client that the MFA policy does not cover, and within minutes
registers an application, gives it a secret, grants it tenant-wide delegated and application
permissions on Microsoft Graph (mail and files) and consents for all users.
"""

from __future__ import annotations

import random
from datetime import date

from autosoc.simulate import ipplan
from autosoc.simulate.clock import MINUTE, SECOND, local_us
from autosoc.simulate.entra import (
    APPS,
    BAD_PASSWORD,
    GRAPH_RESOURCE,
    App,
    Client,
    consent,
    directory_audit,
    sign_in,
    target,
)
from autosoc.simulate.ids import guid, stable_guid
from autosoc.simulate.org import OFFICES, Organisation, Place
from autosoc.simulate.stories.base import Story

LAGOS = Place("Lagos", "Lagos", "NG", "Africa/Lagos", 6.5244, 3.3792)
AZ_POWERSHELL = App("Microsoft Azure PowerShell", "1950a258-227b-4e31-a9cf-717495945fc2",
                    "Windows Azure Active Directory", "00000002-0000-0000-c000-000000000000",
                    "Mobile Apps and Desktop clients")
ATTACKER_UA = "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.6"
APP_NAME = "Mail Sync Pro"
SCOPE = "Mail.Read Mail.Send Files.ReadWrite.All offline_access User.Read"
APP_ROLES = (("Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9"),
             ("Files.ReadWrite.All", "75359482-378d-4052-8f01-80520e7db3cd"))


def build(org: Organisation, day: date, rng: random.Random) -> Story:
    admins = [u for u in org.admins() if u.trip is None] or org.admins()
    victim = rng.choice(admins)
    ip = ipplan.SPRAY_NG.pick(rng)
    app_id = guid(rng)
    sp_id = stable_guid("sp", APP_NAME)
    story = Story("a-oauth-consent", "a", "Password spray, sign-in from a new country, illicit OAuth consent",
                  [f"user:{victim.upn}", f"ip:{ip}", f"oauth_app:{APP_NAME}", f"oauth_app:{app_id}"],
                  ["sign-in from a country and ASN never seen for the user (NG, MTN Nigeria)",
                   "password-spray burst: one IP failing (50126) against many accounts",
                   "high-privilege OAuth grant within minutes of a risky sign-in",
                   "single-factor sign-in of an administrator"])
    client = Client("", "", "Windows10", "", False, ATTACKER_UA)
    # the night in the victim's office: 03:00-05:00 local
    us = local_us(day, rng.uniform(3.0, 5.0), OFFICES[victim.office].tz)
    sprayed = rng.sample([u for u in org.users if u is not victim], min(len(org.users) - 1, rng.randrange(12, 25)))
    emit = story.add(("entra_signin",), "password spray")
    for user in sprayed:
        us += rng.randrange(15, 70) * SECOND
        emit(us, sign_in(rng, us, user, APPS["office"], ip, LAGOS, client, interactive=True, status=BAD_PASSWORD,
                         mfa=None, mfa_required=False, ca_applied=False))
    us += rng.randrange(20, 90) * SECOND
    story.add(("entra_signin",), "valid credentials: single-factor sign-in")(
        us, sign_in(rng, us, victim, AZ_POWERSHELL, ip, LAGOS, client, interactive=True, mfa=None,
                    mfa_required=False, ca_applied=False))
    audit = story.add(("entra_audit",), "OAuth application and grants")
    who = {"initiator_upn": victim.upn, "initiator_id": victim.object_id, "ip": ip}
    details = [("User-Agent", ATTACKER_UA)]
    us += rng.randrange(2, 6) * MINUTE
    audit(us, directory_audit(rng, us, "Add application", "ApplicationManagement", "Add", **who,
                              targets=[target("Application", stable_guid("app-object", APP_NAME), APP_NAME, [
                                  ("AppId", None, f'"{app_id}"'), ("DisplayName", None, f'"{APP_NAME}"'),
                                  ("AvailableToOtherTenants", None, "[true]")])], details=details))
    us += rng.randrange(2, 10) * SECOND
    audit(us, directory_audit(rng, us, "Add service principal", "ApplicationManagement", "Add", **who,
                              targets=[target("ServicePrincipal", sp_id, APP_NAME, [
                                  ("AppPrincipalId", None, f'"{app_id}"'),
                                  ("DisplayName", None, f'"{APP_NAME}"')])], details=details))
    us += rng.randrange(20, 60) * SECOND
    audit(us, directory_audit(rng, us, "Update application – Certificates and secrets management ",
                              "ApplicationManagement", "Update", **who,
                              targets=[target("Application", stable_guid("app-object", APP_NAME), APP_NAME, [
                                  ("KeyDescription", "[]", f'["[KeyIdentifier={guid(rng)},KeyType=Password,'
                                                           'KeyUsage=Verify,DisplayName=sync]"]'),
                                  ("Included Updated Properties", None, '"KeyDescription"')])],
                              details=[*details, ("AppId", app_id)]))
    us += rng.randrange(20, 60) * SECOND
    audit(us, directory_audit(rng, us, "Add delegated permission grant", "ApplicationManagement", "Assign", **who,
                              targets=[target("ServicePrincipal", stable_guid("sp", "graph"), GRAPH_RESOURCE[0], [
                                  ("DelegatedPermissionGrant.Scope", None, f'" {SCOPE}"'),
                                  ("DelegatedPermissionGrant.ConsentType", None, '"AllPrincipals"'),
                                  ("ServicePrincipal.ObjectID", None, f'"{stable_guid("sp", "graph")}"')]),
                                  target("ServicePrincipal", sp_id, APP_NAME)], details=details))
    us += rng.randrange(2, 10) * SECOND
    audit(us, consent(rng, us, victim.upn, victim.object_id, ip, APP_NAME, app_id, SCOPE, admin_consent=True,
                      user_agent=ATTACKER_UA))
    for role, role_id in APP_ROLES:
        us += rng.randrange(10, 40) * SECOND
        audit(us, directory_audit(rng, us, "Add app role assignment to service principal", "ApplicationManagement",
                                  "Assign", **who,
                                  targets=[target("ServicePrincipal", stable_guid("sp", "graph"), GRAPH_RESOURCE[0], [
                                      ("AppRole.Id", None, f'"{role_id}"'), ("AppRole.Value", None, f'"{role}"'),
                                      ("AppRole.DisplayName", None, f'"{role}"'),
                                      ("ServicePrincipal.DisplayName", None, f'"{APP_NAME}"'),
                                      ("ServicePrincipal.ObjectID", None, f'"{sp_id}"'),
                                      ("ServicePrincipal.AppId", None, f'"{app_id}"')]),
                                      target("ServicePrincipal", sp_id, APP_NAME)], details=details))
    story.details = {"victim": victim.upn, "attacker_ip": ip, "sprayed_users": sorted(u.upn for u in sprayed),
                     "app": APP_NAME, "app_id": app_id}
    return story
