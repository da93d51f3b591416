"""Zeek logs (TSV through the ``zeek`` reader, or Zeek's JSON logs) -> OCSF network classes.

Which log a record comes from is its ``_path`` (set from the TSV ``#path`` header, and by Zeek's
JSON streaming writers) or, for plain JSON logs, the fields only that log has (:data:`ZEEK_LOGS`);
the same table drives the Sigma ``product: zeek`` selectors, so a record is selected by the
service its mapping says it is.  ``ts`` is epoch seconds (or ISO 8601 with ``JSON::TS_ISO8601``).

Columns: ``id.orig_h``/``id.orig_p`` -> source, ``id.resp_h``/``id.resp_p`` -> destination,
``proto`` -> protocol, conn ``orig_bytes``/``resp_bytes`` -> bytes out/in, dns ``query``,
http ``host``, ssl ``server_name`` -> destination host name, http ``user_agent``, kerberos
``client`` -> user.  Classes: conn, dce_rpc, ssl, ... Network Activity (4001), http 4002,
dns 4003, dhcp 4004, rdp 4005, smb 4006, ssh 4007, ftp 4008, smtp 4009, ntp 4013, kerberos
Authentication (3002); x509 and files are Base Events (0).
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL, UTC, parse_time
from autosoc.normalize._pick import pick, present

#: Zeek log -> fields only that log has (any one identifies it); checked in this order
ZEEK_LOGS: dict[str, tuple[str, ...]] = {
    "conn": ("conn_state",),
    "dns": ("trans_id", "qtype_name", "rcode_name"),
    "http": ("trans_depth",),
    "kerberos": ("request_type",),
    "ssl": ("established", "resumed"),
    "x509": ("certificate.serial", "certificate.subject"),
    "smb_files": ("times.modified", "prev_name"),
    "smb_mapping": ("share_type",),
    "dce_rpc": ("named_pipe",),
    "rdp": ("security_protocol", "keyboard_layout", "encryption_method"),
    "ssh": ("auth_attempts", "host_key"),
    "files": ("fuid", "seen_bytes"),
}
_CLASSES = {"conn": 4001, "dns": 4003, "http": 4002, "kerberos": 3002, "ssl": 4001, "x509": 0, "smb_files": 4006,
            "smb_mapping": 4006, "dce_rpc": 4001, "rdp": 4005, "ssh": 4007, "files": 0, "dhcp": 4004,
            "ftp": 4008, "smtp": 4009, "ntp": 4013, "ntlm": 3002, "tunnel": 4014, "weird": 0, "notice": 0}


def is_zeek(cols: set[str]) -> pl.Expr:
    """Zeek records: ``ts`` and a connection ``uid``, or a ``_path`` log name (x509 has no uid)."""
    return present(cols, "ts", "uid") | present(cols, "ts", "_path") | present(cols, "ts", "certificate.serial")


def log_type(cols: set[str]) -> pl.Expr:
    """The Zeek log a record comes from: ``_path``, else inferred from its fields; null if unknown."""
    inferred: pl.Expr = NULL
    for name, markers in reversed(ZEEK_LOGS.items()):
        hit = pl.any_horizontal([pl.col(m).is_not_null() for m in markers if m in cols]) if any(
            m in cols for m in markers) else pl.lit(False)
        inferred = pl.when(hit).then(pl.lit(name)).otherwise(inferred)
    return pl.coalesce(pick(cols, "_path"), inferred)


def _time(cols: set[str]) -> pl.Expr:
    ts = pick(cols, "ts")
    epoch = (ts.cast(pl.Float64, strict=False) * 1_000_000).round().cast(pl.Int64).cast(pl.Datetime("us")).cast(UTC)
    return pl.coalesce(epoch, parse_time(ts))


def zeek_columns(cols: set[str]) -> dict[str, pl.Expr]:
    kind = log_type(cols)
    class_uid = kind.replace_strict(_CLASSES, default=4001, return_dtype=pl.Int32)
    class_uid = pl.when(kind.is_null() & pick(cols, "id.orig_h").is_null()).then(pl.lit(0)).otherwise(class_uid)
    host = pl.when(kind == "dns").then(pick(cols, "query")).when(kind == "http").then(pick(cols, "host")) \
        .when(kind == "ssl").then(pick(cols, "server_name")).otherwise(NULL)
    return {
        F.TIME: _time(cols),
        F.CLASS_UID: class_uid,
        F.LOG_NAME: kind,
        F.EVENT_CODE: pick(cols, "uid", "fuid", "id"),
        F.PRODUCT: pl.lit("Zeek"),
        F.USER: pl.when(kind == "kerberos").then(pick(cols, "client")).otherwise(pick(cols, "username", "user")),
        F.SRC_IP: pick(cols, "id.orig_h"),
        F.SRC_PORT: pick(cols, "id.orig_p"),
        F.DST_IP: pick(cols, "id.resp_h"),
        F.DST_PORT: pick(cols, "id.resp_p"),
        F.DST_HOST: host,
        F.NET_PROTOCOL: pick(cols, "proto"),
        F.BYTES_OUT: pl.when(kind == "conn").then(pick(cols, "orig_bytes")).otherwise(NULL),
        F.BYTES_IN: pl.when(kind == "conn").then(pick(cols, "resp_bytes")).otherwise(NULL),
        F.USER_AGENT: pl.when(kind == "http").then(pick(cols, "user_agent")).otherwise(NULL),
        F.STATUS_DETAIL: pl.when(kind == "conn").then(pick(cols, "conn_state"))
        .when(kind == "dns").then(pick(cols, "rcode_name")).when(kind == "http").then(pick(cols, "status_code"))
        .otherwise(NULL),
    }


def alias_columns(raw: pl.DataFrame) -> pl.DataFrame:
    """The names SigmaHQ's generic ``category: dns`` rules use, on Zeek dns records.

    ``answer`` is Zeek's ``answers`` and ``record_type`` its ``qtype_name`` (the mapping the
    SigmaHQ Zeek configurations used); an existing field is never overwritten.
    """
    cols = set(raw.columns)
    dns = (log_type(cols) == "dns").fill_null(False)
    out: dict[str, pl.Expr] = {}
    for target, source in (("answer", "answers"), ("record_type", "qtype_name")):
        if source in cols:
            value = pl.when(dns).then(pl.col(source)).otherwise(NULL)
            out[target] = pl.coalesce(pl.col(target), value) if target in cols else value
    return raw.with_columns(**out) if out else raw
