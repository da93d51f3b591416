"""AWS CloudTrail records -> OCSF API Activity (6003), console sign-ins as Authentication (3002)."""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import category_of, first, parse_time


def ocsf_columns(raw: pl.DataFrame) -> list[pl.Expr]:
    cols = set(raw.columns)
    sign_in = (first(cols, "eventType") == "AwsConsoleSignIn") | (first(cols, "eventName") == "ConsoleLogin")
    class_uid = pl.when(sign_in.fill_null(False)).then(pl.lit(3002)).otherwise(pl.lit(6003)).cast(pl.Int32)
    return [
        parse_time(first(cols, "eventTime")).alias(F.TIME),
        class_uid.alias(F.CLASS_UID),
        category_of(class_uid).alias(F.CATEGORY_UID),
        pl.lit("CloudTrail").alias(F.LOG_NAME),
        first(cols, "eventName").alias(F.EVENT_CODE),
        pl.lit("AWS CloudTrail").alias(F.PRODUCT),
        first(cols, "userIdentity.userName", "userIdentity.sessionContext.sessionIssuer.userName",
              "additionalEventData.UserName", "userIdentity.principalId").alias(F.USER),
        first(cols, "userIdentity.arn", "userIdentity.principalId").alias(F.USER_UID),
        first(cols, "sourceIPAddress").alias(F.SRC_IP),
        pl.lit("AWS").alias(F.CLOUD_PROVIDER),
        first(cols, "recipientAccountId", "userIdentity.accountId").alias(F.CLOUD_ACCOUNT),
        first(cols, "awsRegion").alias(F.CLOUD_REGION),
        first(cols, "eventName").alias(F.API_OPERATION),
        first(cols, "eventSource").alias(F.API_SERVICE),
        first(cols, "userAgent").alias(F.USER_AGENT),
    ]
