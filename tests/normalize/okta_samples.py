"""Okta System Log events in the LogEvent shape of ``GET /api/v1/logs`` (identifiers made up)."""

from __future__ import annotations

from typing import Any

_CLIENT: dict[str, Any] = {
    "userAgent": {"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like "
                                  "Gecko) Version/17.6 Safari/605.1.15", "os": "Mac OS X", "browser": "SAFARI"},
    "zone": "null",
    "device": "Computer",
    "id": None,
    "ipAddress": "198.51.100.10",
    "geographicalContext": {"city": "Chicago", "state": "Illinois", "country": "United States", "postalCode": "60601",
                            "geolocation": {"lat": 41.8781, "lon": -87.6298}},
}
_ACTOR = {"id": "00u1a2b3c4d5e6f7g8h9", "type": "User", "alternateId": "jdoe@example.com",
          "displayName": "John Doe", "detailEntry": None}
_SECURITY = {"asNumber": 7922, "asOrg": "comcast", "isp": "comcast", "domain": "comcast.net", "isProxy": False}


def _event(**fields: Any) -> dict[str, Any]:
    base = {"actor": _ACTOR, "client": _CLIENT, "device": None, "authenticationContext": {
        "authenticationProvider": None, "credentialProvider": None, "credentialType": None, "issuer": None,
        "interface": None, "authenticationStep": 0, "externalSessionId": "102abcDEFghiJKLmnoPQRst"},
        "displayMessage": None, "eventType": None, "outcome": None, "published": None,
        "securityContext": _SECURITY, "severity": "INFO", "debugContext": {"debugData": {}},
        "legacyEventType": None, "transaction": {"type": "WEB", "id": "Zk3fQ2bX8w", "detail": {}},
        "uuid": None, "version": "0", "request": {"ipChain": [{"ip": "198.51.100.10", "version": "V4"}]},
        "target": None}
    base.update(fields)
    return base


OKTA_MFA_DENY_PUSH = _event(
    uuid="3c9f7e2a-79a1-11ef-8b0a-6f1d2e3c4b5a", published="2026-11-03T14:02:17.512Z",
    eventType="user.mfa.okta_verify.deny_push", displayMessage="User rejected Okta push verify",
    severity="WARN", outcome={"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
    debugContext={"debugData": {"factor": "OKTA_VERIFY_PUSH", "requestUri": "/api/v1/authn/factors/opf1/verify",
                                "threatSuspected": "false"}},
    target=[{"id": "00u1a2b3c4d5e6f7g8h9", "type": "User", "alternateId": "jdoe@example.com",
             "displayName": "John Doe", "detailEntry": None}])

OKTA_SESSION_START = _event(
    uuid="5d0a8f3b-79a1-11ef-8b0a-0a1b2c3d4e5f", published="2026-11-03T14:05:40.101Z",
    eventType="user.session.start", displayMessage="User login to Okta",
    outcome={"result": "SUCCESS", "reason": None},
    authenticationContext={"authenticationProvider": "OKTA_AUTHENTICATION_PROVIDER", "credentialType": "PASSWORD",
                           "authenticationStep": 0, "externalSessionId": "102abcDEFghiJKLmnoPQRst"},
    securityContext={**_SECURITY, "isProxy": True})

OKTA_APP_GRANT = _event(
    uuid="6e1b9a4c-79a1-11ef-8b0a-1b2c3d4e5f60", published="2026-11-03T14:07:02.000Z",
    eventType="app.oauth2.as.consent.grant", displayMessage="User granted consent to app",
    outcome={"result": "SUCCESS", "reason": None},
    target=[{"id": "0oa9x8w7v6u5t4s3r2q1", "type": "AppInstance", "alternateId": "Acme CRM Sync",
             "displayName": "Acme CRM Sync", "detailEntry": None},
            {"id": "scp1a2b3c4", "type": "Scope", "alternateId": "okta.users.read", "displayName": "okta.users.read",
             "detailEntry": None}])
