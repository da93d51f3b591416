"""Entra ID (Azure AD) logs as Microsoft Graph returns them: ``signIn`` and ``directoryAudit`` resources.

One resource per line, the property names and value shapes of the Graph ``/auditLogs/signIns``
(beta: ``authenticationDetails``, ``authenticationRequirement``, ``mfaDetail``, ``userAgent``) and
``/auditLogs/directoryAudits`` endpoints.  The benign generator follows each person's presence:
an interactive sign-in when the day starts (MFA off the corporate network), token refreshes by
the desktop apps, single sign-on to SaaS, the odd mistyped password or declined push, and
admins' directory changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from autosoc.simulate.clock import HOUR, MINUTE, SECOND, day_start, iso_micro, iso_seconds
from autosoc.simulate.ids import alnum, guid, stable_guid
from autosoc.simulate.org import TENANT_ID, Organisation, Place, User
from autosoc.simulate.presence import Segment

Emit = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class App:
    name: str
    app_id: str
    resource: str
    resource_id: str
    client: str  # clientAppUsed


GRAPH_RESOURCE = ("Microsoft Graph", "00000003-0000-0000-c000-000000000000")
EXO = ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000")
APPS = {
    "windows": App("Windows Sign In", "38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Azure Active Directory",
                   "00000002-0000-0000-c000-000000000000", "Mobile Apps and Desktop clients"),
    "office": App("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c", *EXO, "Mobile Apps and Desktop clients"),
    "teams": App("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams Services",
                 "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Mobile Apps and Desktop clients"),
    "onedrive": App("OneDrive SyncEngine", "ab9b8c07-8f02-4f72-87fa-80105867a763", "Office 365 SharePoint Online",
                    "00000003-0000-0ff1-ce00-000000000000", "Mobile Apps and Desktop clients"),
    "portal": App("Office365 Shell WCSS-Client", "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7",
                  "Office365 Shell WCSS-Server", "5f09333a-842c-47da-a157-57da27fcbca5", "Browser"),
    "azure": App("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Windows Azure Service Management API",
                 "797f4846-ba00-4fd7-ba43-dac1f8f63013", "Browser"),
    "salesforce": App("Salesforce", stable_guid("app", "salesforce"), "Salesforce", stable_guid("sp", "salesforce"),
                      "Browser"),
    "slack": App("Slack", stable_guid("app", "slack"), "Slack", stable_guid("sp", "slack"), "Browser"),
    "github": App("GitHub Enterprise Cloud - Organization", stable_guid("app", "github"),
                  "GitHub Enterprise Cloud - Organization", stable_guid("sp", "github"), "Browser"),
    "aws": App("AWS IAM Identity Center", stable_guid("app", "aws-sso"), "AWS IAM Identity Center",
               stable_guid("sp", "aws-sso"), "Browser"),
}
CA_POLICY = {"id": stable_guid("ca", "mfa"), "displayName": "CA001: Require MFA outside trusted locations",
             "enforcedGrantControls": ["Mfa"], "enforcedSessionControls": [], "result": "success"}
TRUSTED_WHERE = ("office", "vpn")

BROWSER_UA = {
    "Edge": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
             "Safari/537.36 Edg/130.0.0.0", "Edge 130.0.0"),
    "Chrome": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
               "Safari/537.36", "Chrome 130.0.0"),
}
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; WebView/3.0) AppleWebKit/537.36 (KHTML, like Gecko) " \
             "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"

SUCCESS = (0, "Other.", None)
BAD_PASSWORD = (50126, "Error validating credentials due to invalid username or password.", None)
MFA_DENIED = (500121, "Authentication failed during strong authentication request.",
              "MFA denied; user declined the authentication")
MFA_REQUIRED = (50074, "Strong Authentication is required.", "MFA required in Azure AD")


@dataclass(frozen=True, slots=True)
class Client:
    """What the identity provider sees of the device a sign-in comes from."""

    device_id: str
    display_name: str
    os: str
    browser: str
    managed: bool
    user_agent: str


def corp_client(user: User, *, desktop: bool = False) -> Client:
    ua, browser = BROWSER_UA[user.browser]
    return Client(user.device_id, user.host, "Windows10", "Rich Client 4.61.0.0" if desktop else browser, True,
                  DESKTOP_UA if desktop else ua)


def sign_in(rng: random.Random, us: int, user: User, app: App, ip: str, place: Place, client: Client, *,
            interactive: bool, status: tuple[int, str, str | None] = SUCCESS, mfa: str | None = None,
            mfa_required: bool = True, ca_applied: bool = True) -> dict[str, Any]:
    """A Graph ``signIn`` resource.  ``mfa`` is the second factor's outcome: ``approved``,
    ``denied``, ``satisfied`` (claim in the token) or ``None`` (no second step)."""
    code, reason, details = status
    steps: list[dict[str, Any]] = [{
        "authenticationStepDateTime": iso_seconds(us),
        "authenticationMethod": "Password" if interactive else "Previously satisfied",
        "authenticationMethodDetail": "Password in the cloud" if interactive else None,
        "succeeded": code != BAD_PASSWORD[0],
        "authenticationStepResultDetail": "Correct password" if code != BAD_PASSWORD[0] and interactive
        else ("Invalid username or password or Invalid on-premise username or password." if interactive
              else "First factor requirement satisfied by claim in the token"),
        "authenticationStepRequirement": "Primary authentication",
    }]
    mfa_detail = None
    if mfa in ("approved", "denied"):
        steps.append({
            "authenticationStepDateTime": iso_seconds(us + rng.randrange(5, 40) * SECOND),
            "authenticationMethod": "Mobile app notification",
            "authenticationMethodDetail": None,
            "succeeded": mfa == "approved",
            "authenticationStepResultDetail": "MFA successfully completed" if mfa == "approved"
            else "MFA denied; user declined the authentication",
            "authenticationStepRequirement": "Multifactor authentication",
        })
        mfa_detail = {"authMethod": "PhoneAppNotification", "authDetail": None}
    elif mfa == "satisfied":
        steps.append({
            "authenticationStepDateTime": iso_seconds(us),
            "authenticationMethod": "Previously satisfied",
            "authenticationMethodDetail": None,
            "succeeded": True,
            "authenticationStepResultDetail": "MFA requirement satisfied by claim in the token",
            "authenticationStepRequirement": "Multifactor authentication",
        })
    if code == 0 and details is None:
        details = {"approved": "MFA completed in Azure AD",
                   "satisfied": "MFA requirement satisfied by claim in the token"
                   }.get(mfa or "")
    ok = code == 0
    return {
        "id": guid(rng),
        "createdDateTime": iso_seconds(us),
        "userDisplayName": user.display,
        "userPrincipalName": user.upn,
        "userId": user.object_id,
        "appId": app.app_id,
        "appDisplayName": app.name,
        "ipAddress": ip,
        "clientAppUsed": app.client,
        "userAgent": client.user_agent,
        "correlationId": guid(rng),
        "conditionalAccessStatus": ("success" if ok else "failure") if ca_applied else "notApplied",
        "originalRequestId": guid(rng),
        "isInteractive": interactive,
        "tokenIssuerName": "",
        "tokenIssuerType": "AzureAD",
        "processingTimeInMilliseconds": rng.randrange(40, 400),
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": app.resource,
        "resourceId": app.resource_id,
        "resourceTenantId": TENANT_ID,
        "homeTenantId": TENANT_ID,
        "userType": "member",
        "authenticationRequirement": "multiFactorAuthentication" if mfa_required else "singleFactorAuthentication",
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "authenticationDetails": steps,
        "mfaDetail": mfa_detail,
        "status": {"errorCode": code, "failureReason": reason, "additionalDetails": details},
        "deviceDetail": {
            "deviceId": client.device_id,
            "displayName": client.display_name,
            "operatingSystem": client.os,
            "browser": client.browser,
            "isCompliant": client.managed,
            "isManaged": client.managed,
            "trustType": "Hybrid Azure AD joined" if client.managed else "",
        },
        "location": {
            "city": place.city,
            "state": place.state,
            "countryOrRegion": place.country,
            "geoCoordinates": {"altitude": None, "latitude": place.lat, "longitude": place.lon},
        },
        "appliedConditionalAccessPolicies": [CA_POLICY] if ca_applied else [],
        "networkLocationDetails": [{"networkType": "trustedNamedLocation", "networkNames": ["Corp egress"]}]
        if ca_applied and mfa == "satisfied" else [],
    }


def directory_audit(rng: random.Random, us: int, activity: str, category: str, operation: str, *,
                    initiator_upn: str | None, initiator_id: str | None, ip: str | None,
                    targets: list[dict[str, Any]], details: list[tuple[str, str]],
                    app_initiator: tuple[str, str] | None = None, result: str = "success",
                    service: str = "Core Directory") -> dict[str, Any]:
    """A Graph ``directoryAudit`` resource."""
    user = None
    if initiator_upn is not None:
        user = {"id": initiator_id, "displayName": None, "userPrincipalName": initiator_upn, "ipAddress": ip,
                "userType": None, "homeTenantId": None, "homeTenantName": None}
    app = None
    if app_initiator is not None:
        app = {"appId": app_initiator[1], "displayName": app_initiator[0], "servicePrincipalId": stable_guid(
            "sp", app_initiator[0]), "servicePrincipalName": None}
    return {
        "id": f"Directory_{guid(rng).upper()}_{alnum(rng, 5)}_{rng.randrange(10**7, 10**8)}",
        "category": category,
        "correlationId": guid(rng),
        "result": result,
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": iso_micro(us),
        "loggedByService": service,
        "operationType": operation,
        "initiatedBy": {"app": app, "user": user},
        "targetResources": targets,
        "additionalDetails": [{"key": k, "value": v} for k, v in details],
    }


def target(kind: str, id_: str, name: str | None, props: list[tuple[str, str | None, str]] = (),  # type: ignore[assignment]
           upn: str | None = None) -> dict[str, Any]:
    return {"id": id_, "displayName": name, "type": kind, "userPrincipalName": upn, "groupType": None,
            "modifiedProperties": [{"displayName": n, "oldValue": o, "newValue": v} for n, o, v in props]}


def _user_apps(user: User) -> list[str]:
    apps = ["slack"]
    if user.department == "Sales":
        apps.append("salesforce")
    if user.is_dev:
        apps += ["github", "aws"]
    if user.is_admin:
        apps += ["azure", "aws"]
    return apps


def signins_day(rng: random.Random, org: Organisation, day: date, segments: dict[str, tuple[Segment, ...]],
                emit: Emit) -> None:
    for user in org.users:
        for seg in segments.get(user.sam, ()):
            if seg.where == "flight":
                continue
            _segment_signins(rng, user, seg, emit)


def _segment_signins(rng: random.Random, user: User, seg: Segment, emit: Emit) -> None:
    trusted = seg.where in TRUSTED_WHERE
    web, desktop = corp_client(user), corp_client(user, desktop=True)
    us = seg.start + rng.randrange(0, 3 * MINUTE)
    first = APPS["windows"] if seg.where != "hotel" else APPS["portal"]
    if rng.random() < 0.04:  # mistyped password first
        emit(us - 40 * SECOND, sign_in(rng, us - 40 * SECOND, user, first, seg.ip, seg.place, web, interactive=True,
                                       status=BAD_PASSWORD, mfa=None))
    if not trusted and rng.random() < 0.01:  # an accidental "deny" on the phone, then approve
        emit(us - 20 * SECOND, sign_in(rng, us - 20 * SECOND, user, first, seg.ip, seg.place, web, interactive=True,
                                       status=MFA_DENIED, mfa="denied"))
    emit(us, sign_in(rng, us, user, first, seg.ip, seg.place, web if first is APPS["portal"] else desktop,
                     interactive=True, mfa="satisfied" if trusted else "approved"))
    # desktop apps refresh their tokens (non-interactive) through the segment
    for key in ("office", "teams", "onedrive"):
        t = us + rng.randrange(1, 10) * MINUTE
        while t < seg.end:
            emit(t, sign_in(rng, t, user, APPS[key], seg.ip, seg.place, desktop, interactive=False, mfa="satisfied"))
            t += int(rng.uniform(1.2, 2.5) * HOUR)
    for key in _user_apps(user):
        if rng.random() < 0.5:
            t = rng.randrange(us, max(us + 1, seg.end))
            emit(t, sign_in(rng, t, user, APPS[key], seg.ip, seg.place, web, interactive=True, mfa="satisfied"))


GROUPS = ("Sales EMEA", "Engineering", "VPN Users", "Finance Reports", "All Staff", "GitHub Users")
BENIGN_CONSENT_APPS = (("Zoom for Outlook", "User.Read offline_access openid profile"),
                       ("Miro", "User.Read email openid profile"),
                       ("Adobe Acrobat", "User.Read Files.Read offline_access"))


def audit_day(rng: random.Random, org: Organisation, day: date, segments: dict[str, tuple[Segment, ...]],
              emit: Emit) -> None:
    admins = [a for a in org.admins() if segments.get(a.sam)]
    for admin in admins:
        seg = next(s for s in segments[admin.sam] if s.where != "flight")
        for _ in range(rng.randrange(1, 5)):
            us = rng.randrange(seg.start, max(seg.start + 1, seg.end))
            subject = rng.choice(org.users)
            what = rng.randrange(10)
            initiator = {"initiator_upn": admin.upn, "initiator_id": admin.object_id, "ip": seg.ip}
            ua = BROWSER_UA[admin.browser][0]
            if what < 5:
                group = rng.choice(GROUPS)
                emit(us, directory_audit(rng, us, "Add member to group", "GroupManagement", "Assign", **initiator,
                                         targets=[target("User", subject.object_id, None, upn=subject.upn),
                                                  target("Group", stable_guid("group", group), group)],
                                         details=[("User-Agent", ua)]))
            elif what < 8:
                emit(us, directory_audit(rng, us, "Update user", "UserManagement", "Update", **initiator,
                                         targets=[target("User", subject.object_id, None, [
                                             ("JobTitle", f'["{subject.title}"]', f'["{subject.title}"]'),
                                             ("Included Updated Properties", None, '"JobTitle"')], upn=subject.upn)],
                                         details=[("UserType", "Member")]))
            elif what == 8:
                emit(us, directory_audit(rng, us, "Reset user password", "UserManagement", "Update", **initiator,
                                         targets=[target("User", subject.object_id, None, upn=subject.upn)],
                                         details=[], service="Self-service Password Management"))
            elif rng.random() < 0.3:
                name, scope = rng.choice(BENIGN_CONSENT_APPS)
                emit(us, consent(rng, us, admin.upn, admin.object_id, seg.ip, name, stable_guid("app", name), scope,
                                 admin_consent=True, user_agent=ua))
    # directory sync and Exchange keep updating users
    for _ in range(rng.randrange(len(org.users) // 20 + 1, len(org.users) // 8 + 3)):
        subject = rng.choice(org.users)
        us = day_start(day) + rng.randrange(0, 24 * HOUR)
        emit(us, directory_audit(rng, us, "Update user", "UserManagement", "Update", initiator_upn=None,
                                 initiator_id=None, ip=None, app_initiator=("Microsoft Substrate Management",
                                                                            "98db8bd6-0cc0-4e67-9de5-f187f1cd1b41"),
                                 targets=[target("User", subject.object_id, None, [
                                     ("Included Updated Properties", None, '"ProxyAddresses"')], upn=subject.upn)],
                                 details=[]))


def consent(rng: random.Random, us: int, upn: str, user_id: str, ip: str, app_name: str, app_id: str, scope: str,
            *, admin_consent: bool, user_agent: str) -> dict[str, Any]:
    """``Consent to application``: a user or admin grants an OAuth app delegated permissions."""
    sp_id = stable_guid("sp", app_name)
    permissions = (f"[] => [[Id: {alnum(rng, 43)}, ClientId: {sp_id}, PrincipalId: "
                   f"{'' if admin_consent else user_id}, ResourceId: {stable_guid('sp', 'graph')}, ConsentType: "
                   f"{'AllPrincipals' if admin_consent else 'Principal'}, Scope: {scope}, CreatedDateTime: , "
                   "LastModifiedDateTime ]]; ")
    return directory_audit(rng, us, "Consent to application", "ApplicationManagement", "Assign",
                           initiator_upn=upn, initiator_id=user_id, ip=ip,
                           targets=[target("ServicePrincipal", sp_id, app_name, [
                               ("ConsentContext.IsAdminConsent", None, f'"{admin_consent}"'),
                               ("ConsentContext.IsAppOnly", None, '"False"'),
                               ("ConsentContext.OnBehalfOfAll", None, f'"{admin_consent}"'),
                               ("ConsentContext.Tags", None, '"WindowsAzureActiveDirectoryIntegratedApp"'),
                               ("ConsentAction.Permissions", None, f'"{permissions}"'),
                               ("TargetId.ServicePrincipalNames", None, f'"{app_id}"'),
                           ])],
                           details=[("User-Agent", user_agent), ("AppId", app_id)])
