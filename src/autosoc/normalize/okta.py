"""Okta System Log events (the ``/api/v1/logs`` LogEvent object) -> OCSF columns.

The Sigma names of ``product: okta`` rules are the LogEvent's own fields flattened with dots
(``eventType``, ``actor.alternateId``, ``securityContext.isProxy``, ``debugContext.debugData.*``),
so no alias is needed.  Classes: sign-ins, sessions, sign-on policy evaluation and MFA factor
verification (``user.authentication.*``, ``user.session.start``, ``user.mfa.*``,
``system.push.send_factor_verify_push``, ...) are Authentication (3002); user lifecycle and
account changes Account Change (3001); group membership Group Management (3006); everything
else, app grants included (``app.oauth2.*``, ``application.user_membership.add``), API Activity
(6003).  ``target`` is a list: the application is its ``AppInstance`` (or OAuth client) item.

Okta's ``client.geographicalContext.country`` is a country *name* ("United States"), not the
ISO 3166 code :data:`~autosoc.normalize.fields.SRC_COUNTRY` holds, so it is left to GeoIP
enrichment; city and coordinates are taken.
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL, parse_time
from autosoc.normalize._pick import item_of_type, pick, present

_AUTH_PREFIXES = ("user.authentication.", "user.session.start", "user.mfa.", "system.push.",
                  "policy.evaluate_sign_on", "user.session.access_admin_app")
_MFA_PREFIXES = ("user.mfa.", "system.push.", "user.authentication.auth_via_mfa")
_APP_TYPES = ("AppInstance", "PublicClientApp", "OAuth2Client")


def is_okta(cols: set[str]) -> pl.Expr:
    """A LogEvent always has ``eventType``, ``published`` and an ``actor`` with an id."""
    return present(cols, "eventType", "published", "actor.id")


def _starts(expr: pl.Expr, prefixes: tuple[str, ...]) -> pl.Expr:
    return pl.any_horizontal([expr.str.starts_with(p) for p in prefixes]).fill_null(False)


def okta_columns(cols: set[str]) -> dict[str, pl.Expr]:
    event = pick(cols, "eventType")
    result = pick(cols, "outcome.result").str.to_uppercase()
    auth = _starts(event, _AUTH_PREFIXES)
    class_uid = (pl.when(auth).then(pl.lit(3002))
                 .when(_starts(event, ("user.lifecycle.", "user.account."))).then(pl.lit(3001))
                 .when(_starts(event, ("group.user_membership.",))).then(pl.lit(3006))
                 .otherwise(pl.lit(6003)))
    factor = pick(cols, "debugContext.debugData.factor", "authenticationContext.credentialType")
    mfa = pl.when(_starts(event, _MFA_PREFIXES)).then(
        pl.concat_str([factor, event], separator=": ", ignore_nulls=True)).otherwise(NULL)
    targets = pick(cols, "target")
    os_name = pick(cols, "client.userAgent.os")
    browser = pick(cols, "client.userAgent.browser")
    fingerprint = pl.when(os_name.is_not_null() | browser.is_not_null()).then(
        pl.concat_str([pl.lit("fp:"), os_name.fill_null(""), pl.lit("|"), browser.fill_null("")])).otherwise(NULL)
    return {
        F.TIME: parse_time(pick(cols, "published")),
        F.CLASS_UID: class_uid,
        F.LOG_NAME: pl.lit("Okta System Log"),
        F.EVENT_CODE: event,
        F.PRODUCT: pl.lit("Okta"),
        F.USER: pick(cols, "actor.alternateId"),
        F.USER_UID: pick(cols, "actor.id"),
        F.SRC_IP: pick(cols, "client.ipAddress"),
        F.SRC_CITY: pick(cols, "client.geographicalContext.city"),
        F.SRC_LAT: pick(cols, "client.geographicalContext.geolocation.lat"),
        F.SRC_LONG: pick(cols, "client.geographicalContext.geolocation.lon"),
        F.SRC_ASN: pick(cols, "securityContext.asNumber"),
        F.SRC_ASN_ORG: pick(cols, "securityContext.asOrg"),
        F.STATUS: pl.when(result.is_in(["SUCCESS", "ALLOW"])).then(pl.lit("Success"))
        .when(result.is_in(["FAILURE", "DENY"])).then(pl.lit("Failure")).otherwise(NULL),
        F.STATUS_DETAIL: pl.concat_str([result, pick(cols, "outcome.reason")], separator=": ", ignore_nulls=True),
        F.AUTH_FACTOR: pl.coalesce(mfa, pl.when(auth).then(pick(cols, "authenticationContext.credentialType"))
                                   .otherwise(NULL)),
        F.DEVICE_UID: pl.coalesce(pick(cols, "device.id"), fingerprint),
        F.USER_AGENT: pick(cols, "client.userAgent.rawUserAgent"),
        F.API_OPERATION: event,
        F.APP_NAME: item_of_type(targets, _APP_TYPES, "displayName"),
        F.APP_UID: item_of_type(targets, _APP_TYPES, "id"),
        F.CLOUD_PROVIDER: pl.lit("Okta"),
    }
