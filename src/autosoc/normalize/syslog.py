"""Syslog records (RFC 3164/5424, as the syslog reader decodes them) -> OCSF columns.

sshd and sudo messages yield the user, source address and command; sshd logon results are
Authentication (3002).  Everything else is a Base Event (0) that keeps its message.
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL, category_of, first, parse_time

_SSH_USER = r"(?:for|user) (?:invalid user )?([^\s]+) from ([0-9A-Fa-f:.]+)(?: port (\d+))?"
_SUDO = r"^\s*([^\s]+) : .*COMMAND=(.*)$"
_AUTH_MESSAGE = r"^(?:Accepted |Failed |Invalid user |Connection closed by (?:authenticating|invalid) user)"


def ocsf_columns(raw: pl.DataFrame) -> list[pl.Expr]:
    cols = set(raw.columns)
    message = first(cols, "message")
    app = first(cols, "appname").str.to_lowercase()
    sshd = (app == "sshd").fill_null(False)
    sudo = (app == "sudo").fill_null(False)
    auth = sshd & message.str.contains(_AUTH_MESSAGE).fill_null(False)
    class_uid = pl.when(auth).then(pl.lit(3002)).otherwise(pl.lit(0)).cast(pl.Int32)
    ssh_user = pl.when(sshd).then(message.str.extract(_SSH_USER, 1)).otherwise(NULL)
    sudo_user = pl.when(sudo).then(message.str.extract(_SUDO, 1)).otherwise(NULL)
    return [
        parse_time(first(cols, "timestamp")).alias(F.TIME),
        class_uid.alias(F.CLASS_UID),
        category_of(class_uid).alias(F.CATEGORY_UID),
        first(cols, "facility").alias(F.LOG_NAME),
        first(cols, "msgid").alias(F.EVENT_CODE),
        first(cols, "appname").alias(F.PRODUCT),
        first(cols, "hostname").alias(F.HOST),
        pl.coalesce(ssh_user, sudo_user).alias(F.USER),
        pl.when(sudo).then(message.str.extract(_SUDO, 2)).otherwise(NULL).alias(F.PROCESS_CMD),
        first(cols, "procid").alias(F.PROCESS_PID),
        pl.when(sshd).then(message.str.extract(_SSH_USER, 2)).otherwise(NULL).alias(F.SRC_IP),
        pl.when(sshd).then(message.str.extract(_SSH_USER, 3)).otherwise(NULL).alias(F.SRC_PORT),
    ]
