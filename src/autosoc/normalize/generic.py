"""Any other JSON/CSV record -> the OCSF columns its common field names allow.

Knows the field names of ECS (Elastic), Zeek, Okta System Log and Entra ID sign-in logs well
enough to fill time, host, user and endpoints; the class is set where the shape is unambiguous.
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import category_of, first, parse_time


def ocsf_columns(raw: pl.DataFrame) -> list[pl.Expr]:
    cols = set(raw.columns)
    zeek_conn = {"id.orig_h", "id.resp_h", "proto"} <= cols
    okta = {"eventType", "actor.alternateId"} <= cols
    entra = {"userPrincipalName", "appDisplayName"} <= cols
    if zeek_conn:
        class_uid = pl.lit(4001)
    elif okta:
        auth = first(cols, "eventType").str.starts_with("user.authentication") | first(
            cols, "eventType").str.starts_with("user.session.start")
        class_uid = pl.when(auth.fill_null(False)).then(pl.lit(3002)).otherwise(pl.lit(0))
    elif entra:
        class_uid = pl.lit(3002)
    else:
        class_uid = pl.lit(0)
    class_uid = class_uid.cast(pl.Int32)
    return [
        parse_time(first(cols, "@timestamp", "timestamp", "time", "eventTime", "published",
                         "createdDateTime", "ts")).alias(F.TIME),
        class_uid.alias(F.CLASS_UID),
        category_of(class_uid).alias(F.CATEGORY_UID),
        first(cols, "eventType", "event.action", "operationName").alias(F.EVENT_CODE),
        first(cols, "host.name", "hostname", "host", "Computer", "device.hostname").alias(F.HOST),
        first(cols, "user.name", "actor.alternateId", "userPrincipalName", "user", "username").alias(F.USER),
        first(cols, "source.ip", "src_ip", "id.orig_h", "client.ipAddress", "ipAddress", "src").alias(F.SRC_IP),
        first(cols, "source.port", "src_port", "id.orig_p").alias(F.SRC_PORT),
        first(cols, "destination.ip", "dst_ip", "id.resp_h", "dst").alias(F.DST_IP),
        first(cols, "destination.port", "dst_port", "id.resp_p").alias(F.DST_PORT),
        first(cols, "process.executable", "process.name").alias(F.PROCESS_PATH),
        first(cols, "process.command_line").alias(F.PROCESS_CMD),
        first(cols, "user_agent.original", "client.userAgent.rawUserAgent", "userAgent").alias(F.USER_AGENT),
    ]
