"""Entra ID (three shapes), Azure Activity and Okta System Log records -> OCSF columns and Sigma aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize import generic, normalize
from autosoc.schema import RawBatch
from tests.normalize import entra_samples as S
from tests.normalize.okta_samples import OKTA_APP_GRANT, OKTA_MFA_DENY_PUSH, OKTA_SESSION_START


def _events(*records: dict[str, Any]) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    [batch] = normalize(RawBatch("jsonl", "t.json", "json", list(records), list(range(1, len(records) + 1))))
    return batch.events.to_dicts(), batch.raw


def test_entra_signin_diagnostic_export_mfa_denied() -> None:
    [e], _ = _events(S.DIAG_SIGNIN_MFA_DENIED)
    assert e[F.CLASS_UID] == 3002 and e[F.CATEGORY_UID] == 3
    assert e[F.TIME] == datetime(2026, 11, 3, 8, 15, 2, 123456, tzinfo=UTC)  # 7-digit fraction, truncated to us
    assert (e[F.USER], e[F.USER_UID], e[F.SRC_IP]) == ("alexw@contoso.com", S.USER_ID, "203.0.113.77")
    assert (e[F.SRC_COUNTRY], e[F.SRC_CITY], e[F.SRC_LAT], e[F.SRC_LONG]) == ("NL", "Amsterdam", "52.37403", "4.88969")
    assert e[F.STATUS] == "Failure"
    assert e[F.STATUS_DETAIL] == "500121: Authentication failed during strong authentication request."
    assert e[F.AUTH_FACTOR] == ("Password: Correct password; Mobile app notification: "
                                "MFA denied; user declined the authentication")
    assert e[F.DEVICE_UID] == "fp:Windows10|Chrome 130.0.0"  # no deviceId: the OS/browser fingerprint
    assert e[F.USER_AGENT].startswith("Mozilla/5.0 (Windows NT 10.0")
    assert (e[F.APP_NAME], e[F.APP_UID]) == ("Azure Portal", S.APP_ID)
    assert (e[F.CLOUD_PROVIDER], e[F.CLOUD_ACCOUNT], e[F.SRC_ASN]) == ("Azure", S.TENANT, "64500")


def test_entra_signin_graph_resource_success() -> None:
    [e], _ = _events(S.GRAPH_SIGNIN_SUCCESS)
    assert e[F.CLASS_UID] == 3002 and e[F.STATUS] == "Success"
    assert e[F.TIME] == datetime(2026, 11, 3, 9, 2, 11, 765432, tzinfo=UTC)
    assert e[F.DEVICE_UID] == "8c2e0a4f-1b3d-4e5f-9a7b-6c8d0e2f4a6b" and e[F.HOST] == "MEGAN-MBP"
    assert e[F.AUTH_FACTOR] == "Password: Correct password; Mobile app notification: MFA successfully completed"
    assert (e[F.SRC_COUNTRY], e[F.SRC_LONG]) == ("US", "-122.33207")
    assert e[F.CLOUD_ACCOUNT] == S.TENANT


def test_entra_signin_log_analytics_dynamic_columns_as_json_text() -> None:
    [e], _ = _events(S.LA_SIGNIN_LOCKOUT)
    assert e[F.CLASS_UID] == 3002 and e[F.STATUS] == "Failure" and e[F.STATUS_DETAIL].startswith("50053: Account is")
    assert (e[F.SRC_COUNTRY], e[F.SRC_CITY], e[F.SRC_LAT]) == ("RU", "Moscow", "55.75222")
    assert (e[F.USER], e[F.SRC_IP], e[F.USER_AGENT]) == ("adelev@contoso.com", "192.0.2.200", "python-requests/2.32.3")
    assert e[F.DEVICE_UID] == "fp:Linux|Firefox 131.0"
    assert e[F.TIME] == datetime(2026, 11, 3, 10, 20, 29, 987654, tzinfo=UTC)


def test_entra_audit_consent_and_credentials_graph_and_diagnostic() -> None:
    consent, creds = _events(S.DIAG_AUDIT_CONSENT, S.GRAPH_AUDIT_SP_CREDENTIALS)[0]
    assert consent[F.CLASS_UID] == 6003 and creds[F.CLASS_UID] == 6003
    assert consent[F.API_OPERATION] == "Consent to application"
    assert (consent[F.USER], consent[F.USER_UID], consent[F.SRC_IP]) == ("alexw@contoso.com", S.USER_ID,
                                                                         "203.0.113.77")
    assert (consent[F.APP_NAME], consent[F.APP_UID]) == ("Mail Sync Pro", "e9f8d7c6-b5a4-4392-8170-f6e5d4c3b2a1")
    assert consent[F.STATUS] == "Success" and consent[F.API_SERVICE] == "Core Directory"
    assert creds[F.API_OPERATION] == "Add service principal credentials"
    assert (creds[F.USER], creds[F.USER_UID]) == ("Automation Runner", "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e")
    assert creds[F.APP_NAME] == "Mail Sync Pro"
    assert creds[F.TIME] == datetime(2026, 11, 3, 8, 31, 5, 0, tzinfo=UTC)


def test_one_export_mixing_categories_is_mapped_row_by_row() -> None:
    records = [S.DIAG_SIGNIN_MFA_DENIED, S.DIAG_AUDIT_CONSENT, S.GRAPH_RISK_DETECTION, S.DIAG_ACTIVITY_KEYVAULT,
               {"message": "something else", "@timestamp": "2026-11-03T12:00:00Z", "host.name": "web-1"}]
    events, _ = _events(*records)
    assert [e[F.CLASS_UID] for e in events] == [3002, 6003, 2004, 6003, 0]
    risk, activity, other = events[2], events[3], events[4]
    assert (risk[F.EVENT_CODE], risk[F.USER], risk[F.STATUS_DETAIL]) == ("unfamiliarFeatures", "alexw@contoso.com",
                                                                         "unfamiliarFeatures: medium")
    assert activity[F.API_OPERATION] == "MICROSOFT.KEYVAULT/VAULTS/SECRETS/DELETE"
    assert (activity[F.USER], activity[F.CLOUD_ACCOUNT], activity[F.STATUS]) == (
        "alexw@contoso.com", "11111111-2222-4333-8444-555555555555", "Success")
    assert (other[F.HOST], other[F.TIME]) == ("web-1", datetime(2026, 11, 3, 12, tzinfo=UTC))
    assert other[F.USER] is None and other[F.CLOUD_PROVIDER] is None


def test_sigma_aliases_give_every_shape_the_log_analytics_names() -> None:
    _, raw = _events(S.DIAG_SIGNIN_MFA_DENIED, S.GRAPH_SIGNIN_SUCCESS, S.LA_SIGNIN_LOCKOUT, S.DIAG_AUDIT_CONSENT,
                     S.GRAPH_AUDIT_SP_CREDENTIALS, S.GRAPH_RISK_DETECTION)
    rows = generic.alias_columns(raw).to_dicts()
    mfa, graph, la, consent, creds, risk = rows
    assert (mfa["ResultType"], mfa["AuthenticationRequirement"], mfa["DeviceDetail.deviceId"]) == (
        "500121", "multiFactorAuthentication", "")
    assert mfa["Status"] == ("Failure; Authentication failed during strong authentication request.; "
                             "MFA denied; user declined the authentication")
    assert (mfa["NetworkLocationDetails"], mfa["DeviceDetail.isCompliant"], mfa["conditionalAccessStatus"]) == (
        "[]", "false", "notApplied")
    assert (graph["ResultType"], graph["Status"], graph["DeviceDetail.trusttype"]) == ("0", "Success",
                                                                                        "Azure AD registered")
    assert la["Status"] == S.LA_SIGNIN_LOCKOUT["Status"]  # a field the record has is never overwritten
    assert la["ResultType"] == "50053" and la["OperationName"] == "Sign-in activity"
    assert (consent["properties.message"], consent["operationName"], consent["Category"]) == (
        "Consent to application", "Consent to application", "ApplicationManagement")
    assert (consent["Status"], consent["OperationName"]) == ("Success", "Consent to application")
    assert (creds["operationName"], creds["properties.result"], creds["LoggedByService"]) == (
        "Add service principal credentials", "success", "Core Directory")
    assert risk["riskEventType"] == "unfamiliarFeatures" and risk["ResultType"] is None
    assert generic.alias_columns(pl.DataFrame({"message": ["x"]})).columns == ["message"]  # nothing to add


def test_okta_mfa_push_denied_is_a_failed_authentication() -> None:
    [e], _ = _events(OKTA_MFA_DENY_PUSH)
    assert e[F.CLASS_UID] == 3002 and e[F.STATUS] == "Failure"
    assert e[F.TIME] == datetime(2026, 11, 3, 14, 2, 17, 512000, tzinfo=UTC)
    assert (e[F.USER], e[F.USER_UID], e[F.SRC_IP]) == ("jdoe@example.com", "00u1a2b3c4d5e6f7g8h9", "198.51.100.10")
    assert (e[F.SRC_CITY], e[F.SRC_LAT], e[F.SRC_LONG]) == ("Chicago", "41.8781", "-87.6298")
    assert e[F.SRC_COUNTRY] is None  # Okta gives a country name, not the ISO code the column holds
    assert (e[F.SRC_ASN], e[F.SRC_ASN_ORG]) == ("7922", "comcast")
    assert e[F.AUTH_FACTOR] == "OKTA_VERIFY_PUSH: user.mfa.okta_verify.deny_push"
    assert e[F.STATUS_DETAIL] == "FAILURE: INVALID_CREDENTIALS"
    assert e[F.USER_AGENT].startswith("Mozilla/5.0 (Macintosh")
    assert e[F.DEVICE_UID] == "fp:Mac OS X|SAFARI"
    assert (e[F.CLOUD_PROVIDER], e[F.API_OPERATION]) == ("Okta", "user.mfa.okta_verify.deny_push")


def test_okta_session_start_and_app_grant() -> None:
    session, grant = _events(OKTA_SESSION_START, OKTA_APP_GRANT)[0]
    assert session[F.CLASS_UID] == 3002 and session[F.STATUS] == "Success"
    assert session[F.AUTH_FACTOR] == "PASSWORD"
    assert grant[F.CLASS_UID] == 6003 and grant[F.STATUS] == "Success"
    assert (grant[F.APP_NAME], grant[F.APP_UID]) == ("Acme CRM Sync", "0oa9x8w7v6u5t4s3r2q1")
    assert grant[F.API_OPERATION] == "app.oauth2.as.consent.grant"
