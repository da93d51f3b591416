"""Microsoft Entra ID (Azure AD) and Azure Activity records -> OCSF columns and Sigma field names.

Three shapes of the same logs are recognised, row by row (an Event Hub export mixes categories):

* **Azure Monitor diagnostic export** (Event Hub / storage account; ``records`` items): ``time``,
  ``category`` (``SignInLogs``, ``NonInteractiveUserSignInLogs``, ``AuditLogs``, ``UserRiskEvents``,
  Activity log ``Administrative`` ...), ``resultType``, ``callerIpAddress``, ``tenantId`` and the
  log's own fields under ``properties.*`` (``properties.status.errorCode``, ...);
* **Log Analytics / Sentinel tables** exported as JSON (``SigninLogs``, ``AuditLogs``,
  ``AADUserRiskEvents``, ``AzureActivity``): PascalCase columns (``ResultType``,
  ``UserPrincipalName``, ``IPAddress``), ``dynamic`` columns nested or as JSON text;
* **Microsoft Graph** resources (``auditLogs/signIns`` ``signIn``, ``auditLogs/directoryAudits``
  ``directoryAudit``, ``identityProtection/riskDetections`` ``riskDetection``; also what the Entra
  admin center's "Download JSON" gives): camelCase top-level fields.

Sign-ins are Authentication (3002), directory audits Account Change (3001, user management) or
API Activity (6003), risk detections Detection Finding (2004), Activity log records API Activity.

SigmaHQ's ``product: azure`` rules were written against the Log Analytics column names
(``ResultType``, ``ResultDescription``, ``AuthenticationRequirement``, ``OperationName``,
``Category``, ``ActivityDisplayName``, ``DeviceDetail.deviceId``) plus a few of the diagnostic
export's (``operationName``, ``properties.result``, ``riskEventType``) and ``properties.message``
for the audit activity name (SigmaHQ/sigma#3110 replaced it by ``ActivityDisplayName`` in one
rule).  :func:`alias_columns` gives every shape those names, never overwriting a field a record has.
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL, parse_time
from autosoc.normalize._pick import item_of_type, list_items, lowered, one_of, pick, present

#: diagnostic ``category`` / Log Analytics ``Category`` of sign-in records (lower case)
SIGNIN_CATEGORIES = ("signinlogs", "noninteractiveusersigninlogs", "serviceprincipalsigninlogs",
                     "managedidentitysigninlogs")
#: Log Analytics ``Type`` (table name) of sign-in records
SIGNIN_TABLES = ("signinlogs", "aadnoninteractiveusersigninlogs", "aadserviceprincipalsigninlogs",
                 "aadmanagedidentitysigninlogs")
AUDIT_CATEGORIES = ("auditlogs",)
RISK_CATEGORIES = ("userriskevents", "serviceprincipalriskevents")
RISK_TABLES = ("aaduserriskevents", "aadserviceprincipalriskevents")
#: Activity log categories (diagnostic export ``category``; Log Analytics ``CategoryValue``)
ACTIVITY_CATEGORIES = ("administrative", "security", "servicehealth", "alert", "recommendation", "policy",
                       "autoscale", "resourcehealth")


def _in(cols: set[str], column: str, values: tuple[str, ...]) -> pl.Expr:
    return one_of(pl.col(column), values) if column in cols else pl.lit(False)


def is_signin(cols: set[str]) -> pl.Expr:
    return (_in(cols, "category", SIGNIN_CATEGORIES) | _in(cols, "Category", SIGNIN_CATEGORIES)
            | _in(cols, "Type", SIGNIN_TABLES) | present(cols, "createdDateTime", "status.errorCode"))


def is_audit(cols: set[str]) -> pl.Expr:
    return (_in(cols, "category", AUDIT_CATEGORIES) | _in(cols, "Type", ("auditlogs",))
            | present(cols, "activityDisplayName", "activityDateTime"))


def is_risk(cols: set[str]) -> pl.Expr:
    return (_in(cols, "category", RISK_CATEGORIES) | _in(cols, "Type", RISK_TABLES)
            | present(cols, "riskEventType", "detectedDateTime"))


def is_activity(cols: set[str]) -> pl.Expr:
    diag = _in(cols, "category", ACTIVITY_CATEGORIES) & (
        pl.col("resourceId").str.to_lowercase().str.starts_with("/subscriptions/").fill_null(False)
        if "resourceId" in cols else pl.lit(False))
    return diag | _in(cols, "Type", ("azureactivity",)) | present(cols, "CategoryValue", "OperationNameValue")


def _status(code: pl.Expr) -> pl.Expr:
    return pl.when(code == "0").then(pl.lit("Success")).when(code.is_not_null()).then(pl.lit("Failure")).otherwise(NULL)


def _signin_code(cols: set[str]) -> pl.Expr:
    return pick(cols, "status.errorCode", "properties.status.errorCode", "Status{errorCode}", "ResultType",
                "resultType")


def _signin_reason(cols: set[str]) -> pl.Expr:
    return pick(cols, "status.failureReason", "properties.status.failureReason", "Status{failureReason}",
                "ResultDescription", "resultDescription")


def _signin_details(cols: set[str]) -> pl.Expr:
    return pick(cols, "status.additionalDetails", "properties.status.additionalDetails", "Status{additionalDetails}")


def _both(cols: set[str], field: str, la: str | None = None) -> pl.Expr:
    """A sign-in field as Graph names it, under ``properties.`` (diagnostic export) or in Log Analytics."""
    la = la or field[0].upper() + field[1:]
    return pick(cols, field, f"properties.{field}", la)


def _in_object(cols: set[str], obj: str, key: str, la_obj: str) -> pl.Expr:
    return pick(cols, f"{obj}.{key}", f"properties.{obj}.{key}", f"{la_obj}{{{key}}}")


def signin_columns(cols: set[str]) -> dict[str, pl.Expr]:
    code = _signin_code(cols)
    reason = _signin_reason(cols)
    steps = list_items(pick(cols, "authenticationDetails", "properties.authenticationDetails", "AuthenticationDetails"),
                       [("authenticationMethod", ""), ("authenticationStepResultDetail", ": ")])
    mfa = pick(cols, "mfaDetail.authMethod", "properties.mfaDetail.authMethod", "MfaDetail{authMethod}")
    device = _in_object(cols, "deviceDetail", "deviceId", "DeviceDetail")
    os_name = _in_object(cols, "deviceDetail", "operatingSystem", "DeviceDetail")
    browser = _in_object(cols, "deviceDetail", "browser", "DeviceDetail")
    fingerprint = pl.when(os_name.is_not_null() | browser.is_not_null()).then(
        pl.concat_str([pl.lit("fp:"), os_name.fill_null(""), pl.lit("|"), browser.fill_null("")])).otherwise(NULL)
    return {
        F.TIME: parse_time(pick(cols, "createdDateTime", "properties.createdDateTime", "CreatedDateTime",
                                "TimeGenerated", "time")),
        F.CLASS_UID: pl.lit(3002),
        F.LOG_NAME: pl.coalesce(pick(cols, "category", "Category", "Type"), pl.lit("SignInLogs")),
        F.EVENT_CODE: code,
        F.PRODUCT: pl.lit("Microsoft Entra ID"),
        F.HOST: _in_object(cols, "deviceDetail", "displayName", "DeviceDetail"),
        F.USER: _both(cols, "userPrincipalName"),
        F.USER_UID: _both(cols, "userId"),
        F.SRC_IP: pick(cols, "ipAddress", "properties.ipAddress", "IPAddress", "callerIpAddress"),
        F.SRC_COUNTRY: pick(cols, "location.countryOrRegion", "properties.location.countryOrRegion",
                            "LocationDetails{countryOrRegion}", "Location"),
        F.SRC_CITY: pick(cols, "location.city", "properties.location.city", "LocationDetails{city}"),
        F.SRC_LAT: pick(cols, "location.geoCoordinates.latitude", "properties.location.geoCoordinates.latitude",
                        "LocationDetails{geoCoordinates.latitude}"),
        F.SRC_LONG: pick(cols, "location.geoCoordinates.longitude", "properties.location.geoCoordinates.longitude",
                         "LocationDetails{geoCoordinates.longitude}"),
        F.SRC_ASN: _both(cols, "autonomousSystemNumber"),
        F.STATUS: _status(code),
        F.STATUS_DETAIL: pl.concat_str([code, reason], separator=": ", ignore_nulls=True),
        F.AUTH_FACTOR: pl.coalesce(steps, _signin_details(cols), mfa),
        F.DEVICE_UID: pl.coalesce(device, fingerprint),
        F.USER_AGENT: _both(cols, "userAgent"),
        F.APP_NAME: _both(cols, "appDisplayName"),
        F.APP_UID: _both(cols, "appId"),
        F.CLOUD_PROVIDER: pl.lit("Azure"),
        F.CLOUD_ACCOUNT: pick(cols, "tenantId", "AADTenantId", "TenantId", "homeTenantId", "properties.homeTenantId",
                              "resourceTenantId"),
    }


_APP_TYPES = ("ServicePrincipal", "Application")


def audit_columns(cols: set[str]) -> dict[str, pl.Expr]:
    targets = pick(cols, "targetResources", "properties.targetResources", "TargetResources")
    category = pick(cols, "properties.category", "Category", "category")
    result = lowered(cols, "result", "properties.result", "Result")
    upn = pick(cols, "initiatedBy.user.userPrincipalName", "properties.initiatedBy.user.userPrincipalName",
               "InitiatedBy{user.userPrincipalName}")
    app = pick(cols, "initiatedBy.app.displayName", "properties.initiatedBy.app.displayName",
               "InitiatedBy{app.displayName}")
    account_change = (category.str.to_lowercase() == "usermanagement").fill_null(False)
    class_uid = pl.when(account_change).then(pl.lit(3001)).otherwise(pl.lit(6003))
    return {
        F.TIME: parse_time(pick(cols, "activityDateTime", "properties.activityDateTime", "ActivityDateTime",
                                "TimeGenerated", "time")),
        F.CLASS_UID: class_uid,
        F.LOG_NAME: pl.lit("AuditLogs"),
        F.EVENT_CODE: category,
        F.PRODUCT: pl.lit("Microsoft Entra ID"),
        F.USER: pl.coalesce(upn, app),
        F.USER_UID: pick(cols, "initiatedBy.user.id", "properties.initiatedBy.user.id", "InitiatedBy{user.id}",
                         "initiatedBy.app.servicePrincipalId", "properties.initiatedBy.app.servicePrincipalId",
                         "InitiatedBy{app.servicePrincipalId}"),
        F.SRC_IP: pick(cols, "initiatedBy.user.ipAddress", "properties.initiatedBy.user.ipAddress",
                       "InitiatedBy{user.ipAddress}", "callerIpAddress"),
        F.API_OPERATION: pick(cols, "activityDisplayName", "properties.activityDisplayName", "ActivityDisplayName",
                              "operationName", "OperationName"),
        F.API_SERVICE: pick(cols, "loggedByService", "properties.loggedByService", "LoggedByService"),
        F.STATUS: pl.when(result == "success").then(pl.lit("Success"))
        .when(result.is_in(["failure", "timeout"])).then(pl.lit("Failure")).otherwise(NULL),
        F.STATUS_DETAIL: pick(cols, "resultReason", "properties.resultReason", "ResultReason", "ResultDescription"),
        F.APP_NAME: item_of_type(targets, _APP_TYPES, "displayName"),
        F.APP_UID: item_of_type(targets, _APP_TYPES, "id"),
        F.CLOUD_PROVIDER: pl.lit("Azure"),
        F.CLOUD_ACCOUNT: pick(cols, "tenantId", "AADTenantId", "TenantId"),
    }


def risk_columns(cols: set[str]) -> dict[str, pl.Expr]:
    kind = pick(cols, "riskEventType", "properties.riskEventType", "RiskEventType")
    level = pick(cols, "riskLevel", "properties.riskLevel", "RiskLevel")
    return {
        F.TIME: parse_time(pick(cols, "detectedDateTime", "properties.detectedDateTime", "DetectedDateTime",
                                "activityDateTime", "TimeGenerated", "time")),
        F.CLASS_UID: pl.lit(2004),
        F.LOG_NAME: pl.lit("RiskDetections"),
        F.EVENT_CODE: kind,
        F.PRODUCT: pl.lit("Microsoft Entra ID Protection"),
        F.USER: _both(cols, "userPrincipalName"),
        F.USER_UID: _both(cols, "userId"),
        F.SRC_IP: _both(cols, "ipAddress", "IpAddress"),
        F.SRC_COUNTRY: pick(cols, "location.countryOrRegion", "properties.location.countryOrRegion",
                            "Location{countryOrRegion}"),
        F.SRC_CITY: pick(cols, "location.city", "properties.location.city", "Location{city}"),
        F.STATUS_DETAIL: pl.concat_str([kind, level], separator=": ", ignore_nulls=True),
        F.CLOUD_PROVIDER: pl.lit("Azure"),
        F.CLOUD_ACCOUNT: pick(cols, "tenantId", "AADTenantId", "TenantId"),
    }


_UPN_CLAIM = "identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"


def activity_columns(cols: set[str]) -> dict[str, pl.Expr]:
    operation = pick(cols, "operationName", "OperationNameValue")
    result = lowered(cols, "resultType", "ActivityStatusValue")
    resource = pick(cols, "resourceId", "ResourceId", "_ResourceId")
    return {
        F.TIME: parse_time(pick(cols, "time", "TimeGenerated")),
        F.CLASS_UID: pl.lit(6003),
        F.LOG_NAME: pl.lit("AzureActivity"),
        F.EVENT_CODE: operation,
        F.PRODUCT: pl.lit("Azure Activity Log"),
        F.USER: pick(cols, "Caller", "caller", _UPN_CLAIM),
        F.SRC_IP: pick(cols, "callerIpAddress", "CallerIpAddress"),
        F.API_OPERATION: operation,
        F.API_SERVICE: pick(cols, "ResourceProviderValue").fill_null(operation.str.extract(r"^([^/]+)/", 1)),
        F.STATUS: pl.when(result.is_in(["success", "succeeded"])).then(pl.lit("Success"))
        .when(result.is_in(["failure", "failed"])).then(pl.lit("Failure")).otherwise(NULL),
        F.CLOUD_PROVIDER: pl.lit("Azure"),
        F.CLOUD_ACCOUNT: pick(cols, "SubscriptionId").fill_null(
            resource.str.extract(r"(?i)^/subscriptions/([^/]+)", 1)),
        F.CLOUD_REGION: pick(cols, "location", "Location"),
    }


def _pk(cols: set[str], *names: str) -> pl.Expr:
    return pick(cols, *names, keep_empty=True)


def _raw(cols: set[str], field: str) -> pl.Expr:
    return _pk(cols, field, f"properties.{field}", field[0].upper() + field[1:])


def _raw_in(cols: set[str], obj: str, key: str, la_obj: str) -> pl.Expr:
    return _pk(cols, f"{obj}.{key}", f"properties.{obj}.{key}", f"{la_obj}{{{key}}}")


def alias_columns(raw: pl.DataFrame) -> pl.DataFrame:
    """Add the field names SigmaHQ ``product: azure`` rules use, from whichever shape the rows have.

    Only rows of the matching log get a value (an audit record's ``Status`` is its result, a
    sign-in's is Success/Failure with the failure's details); a column the batch already has is
    only filled where it is null.
    """
    cols = set(raw.columns)
    signin, audit, risk = is_signin(cols), is_audit(cols), is_risk(cols)
    code = _signin_code(cols)
    failure = pl.concat_str([pl.lit("Failure"), _signin_reason(cols), _signin_details(cols)], separator="; ",
                            ignore_nulls=True)
    audit_result = _pk(cols, "properties.result", "result", "Result")
    activity = pick(cols, "activityDisplayName", "properties.activityDisplayName", "ActivityDisplayName")
    aliases: list[tuple[str, pl.Expr, pl.Expr]] = [  # (name, rows, value); a name may come twice
        ("ResultType", signin, code),
        ("ResultDescription", signin, _signin_reason(cols)),
        ("Status", signin, pl.when(code == "0").then(pl.lit("Success")).when(code.is_not_null()).then(failure)
                   .otherwise(NULL)),
        ("AuthenticationRequirement", signin, _raw(cols, "authenticationRequirement")),
        ("conditionalAccessStatus", signin, _raw(cols, "conditionalAccessStatus")),
        ("userAgent", signin, _raw(cols, "userAgent")),
        ("ResourceDisplayName", signin, _raw(cols, "resourceDisplayName")),
        ("RiskState", signin, _raw(cols, "riskState")),
        ("ClientApp", signin, _raw(cols, "clientAppUsed")),
        # an empty JSON array reaches the raw frame as "" (flatten joins string lists); rules test '[]'
        ("NetworkLocationDetails", signin, _raw(cols, "networkLocationDetails").replace("", "[]")),
        ("DeviceDetail.deviceId", signin, _raw_in(cols, "deviceDetail", "deviceId", "DeviceDetail")),
        ("DeviceDetail.isCompliant", signin, _raw_in(cols, "deviceDetail", "isCompliant", "DeviceDetail")),
        ("DeviceDetail.trusttype", signin, _raw_in(cols, "deviceDetail", "trustType", "DeviceDetail")),
        ("OperationName", audit, pl.coalesce(activity, pick(cols, "operationName"))),
        ("operationName", audit, activity),
        ("ActivityDisplayName", audit, activity),
        ("properties.message", audit, activity),
        ("Category", audit, _pk(cols, "properties.category", "category")),
        ("LoggedByService", audit, _pk(cols, "properties.loggedByService", "loggedByService")),
        ("TargetResources", audit, _pk(cols, "properties.targetResources", "targetResources")),
        ("properties.targetResources", audit, pick(cols, "targetResources", "TargetResources")),
        ("properties.result", audit, pick(cols, "result", "Result")),
        ("Status", audit, pl.when(audit_result.str.to_lowercase() == "success").then(pl.lit("Success"))
                    .when(audit_result.is_not_null()).then(pl.lit("Failure")).otherwise(NULL)),
        ("riskEventType", risk, _pk(cols, "properties.riskEventType", "RiskEventType")),
    ]
    merged: dict[str, pl.Expr] = {}
    for name, rows, value in aliases:
        if value.meta.eq(NULL):  # no column of this batch holds it
            continue
        branch = pl.when(rows).then(value)
        merged[name] = branch.otherwise(merged[name]) if name in merged else branch.otherwise(NULL)
    if not merged:
        return raw
    out = {name: (pl.coalesce(pl.col(name), expr) if name in cols else expr) for name, expr in merged.items()}
    return raw.with_columns(**out)
