"""Windows events (Sysmon, Security, System, PowerShell, ...) -> OCSF columns.

Also adds the field aliases SigmaHQ rules expect on non-Sysmon sources, as pySigma's
``windows_audit_pipeline`` maps them: Security 4688 ``NewProcessName`` is the rules' ``Image``,
``ParentProcessName`` their ``ParentImage``; 4657 ``ProcessName``/``ObjectName`` are ``Image`` and
``TargetObject``.  An alias never overwrites a field the event has.
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL, category_of, first, parse_time

SYSMON = "microsoft-windows-sysmon/operational"
SECURITY = "security"

_PROCESS, _FILE, _MODULE, _NETWORK, _DNS, _AUTH, _ACCOUNT, _GROUP, _JOB = (
    1007, 1001, 1005, 4001, 4003, 3002, 3001, 3006, 1006)
_REGISTRY_KEY, _REGISTRY_VALUE = 201001, 201002
_CLASS_BY_EVENT: dict[str, int] = {
    **{f"{SYSMON}|{e}": _PROCESS for e in (1, 5, 8, 10, 25)},
    **{f"{SYSMON}|{e}": _FILE for e in (2, 11, 15, 23, 26, 27, 28, 29)},
    **{f"{SYSMON}|{e}": _MODULE for e in (6, 7)},
    f"{SYSMON}|3": _NETWORK,
    f"{SYSMON}|22": _DNS,
    f"{SYSMON}|12": _REGISTRY_KEY,
    f"{SYSMON}|13": _REGISTRY_VALUE,
    f"{SYSMON}|14": _REGISTRY_KEY,
    **{f"{SECURITY}|{e}": _AUTH for e in (4624, 4625, 4634, 4647, 4648, 4768, 4769, 4771, 4776, 4778, 4779)},
    **{f"{SECURITY}|{e}": _PROCESS for e in (4688, 4689)},
    **{f"{SECURITY}|{e}": _ACCOUNT for e in (4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767, 4781)},
    **{f"{SECURITY}|{e}": _GROUP for e in (4727, 4728, 4729, 4731, 4732, 4733, 4754, 4756, 4757)},
    **{f"{SECURITY}|{e}": _JOB for e in (4698, 4699, 4700, 4701, 4702)},
    **{f"{SECURITY}|{e}": _NETWORK for e in (5156, 5157)},
    **{f"{SECURITY}|{e}": _FILE for e in (4656, 4658, 4660, 4663, 5145)},
    f"{SECURITY}|4657": _REGISTRY_VALUE,
    "system|7045": _JOB,
}
_INTEGRITY = {"S-1-16-4096": "Low", "S-1-16-8192": "Medium", "S-1-16-8448": "Medium",
              "S-1-16-12288": "High", "S-1-16-16384": "System"}


def alias_columns(raw: pl.DataFrame) -> pl.DataFrame:
    cols = set(raw.columns)
    if "EventID" not in cols or "Channel" not in cols:
        return raw
    aliases: dict[str, pl.Expr | pl.Series] = {}
    rows = _security_rows(raw.get_column("Channel"))
    if rows is None:  # (a channel column that is not text) every row through the expressions
        aliases.update(_security_aliases(cols, pl.col("Channel").str.to_lowercase() == SECURITY))
    elif rows.len() and (exprs := _security_aliases(cols, pl.lit(True))):
        # worked out on the Security log's rows only (a few hundred of a batch's 20,000), then put
        # in place: a row of another log keeps what it has
        reads = sorted({name for expr in exprs.values() for name in expr.meta.root_names()})
        taken = raw.select(reads)[rows].select(**exprs)
        for target, values in zip(exprs, taken.iter_columns(), strict=True):
            column = raw.get_column(target) if target in cols else pl.repeat(None, raw.height, dtype=pl.String,
                                                                              eager=True)
            aliases[target] = column.scatter(rows, values)
    if "MandatoryLabel" in cols:
        label = pl.col("MandatoryLabel").str.to_uppercase().replace_strict(_INTEGRITY, default=None)
        aliases["IntegrityLevel"] = (pl.coalesce(pl.col("IntegrityLevel"), label)
                                     if "IntegrityLevel" in cols else label)
    return raw.with_columns(**aliases) if aliases else raw


def _security_aliases(cols: set[str], security: pl.Expr) -> dict[str, pl.Expr]:
    """The fields SigmaHQ's rules read on the Security log under their Sysmon names, where the
    event has them under its own (never over a value the event has), on the rows ``security`` picks."""
    eid = pl.col("EventID")
    aliases: dict[str, pl.Expr] = {}

    def alias(target: str, source: str, when: pl.Expr) -> None:
        if source not in cols:
            return
        value = pl.when(when).then(pl.col(source)).otherwise(NULL)
        aliases[target] = pl.coalesce(pl.col(target), value) if target in cols else value

    proc = security & (eid == "4688")
    alias("Image", "NewProcessName", proc)
    alias("ParentImage", "ParentProcessName", proc)
    alias("LogonId", "SubjectLogonId", security)
    reg = security & (eid == "4657")
    if "Image" not in aliases:
        alias("Image", "ProcessName", reg)
    alias("TargetObject", "ObjectName", reg)
    alias("Details", "NewValue", reg)
    return aliases


def _security_rows(channel: pl.Series) -> pl.Series | None:
    """The rows of the Security log (the channel's name in any case), or None when ``channel`` is not
    text.  Only names of eight bytes are lower-cased: no other lower-cases to "security" (of all
    the characters beyond ASCII only U+0130 lower-cases to text holding one of its letters: an i
    and a combining dot, which "security" does not hold)."""
    if channel.dtype != pl.String:
        return None
    maybe = (channel.str.len_bytes() == len(SECURITY)).fill_null(False).arg_true()
    return maybe.filter(channel.gather(maybe).str.to_lowercase() == SECURITY)


def ocsf_columns(raw: pl.DataFrame) -> list[pl.Expr | pl.Series]:
    cols = set(raw.columns)
    class_uid = _class_uid(raw, cols)
    return [
        parse_time(first(cols, "TimeCreated_SystemTime", "@timestamp", "UtcTime", "EventTime")).alias(F.TIME),
        class_uid.alias(F.CLASS_UID),
        category_of(class_uid).alias(F.CATEGORY_UID),
        first(cols, "Channel").alias(F.LOG_NAME),
        first(cols, "EventID").alias(F.EVENT_CODE),
        first(cols, "Provider_Name").alias(F.PRODUCT),
        first(cols, "Computer").alias(F.HOST),
        _qualified_user(raw, cols).alias(F.USER),
        first(cols, "TargetUserSid", "SubjectUserSid", "Security_UserID").alias(F.USER_UID),
        first(cols, "Image", "NewProcessName", "ProcessName").alias(F.PROCESS_PATH),
        first(cols, "CommandLine").alias(F.PROCESS_CMD),
        first(cols, "ProcessId", "NewProcessId").alias(F.PROCESS_PID),
        first(cols, "ParentImage", "ParentProcessName").alias(F.PARENT_PATH),
        first(cols, "ParentCommandLine").alias(F.PARENT_CMD),
        first(cols, "TargetFilename", "ImageLoaded").alias(F.FILE_PATH),
        first(cols, "SourceIp", "IpAddress", "SourceAddress").alias(F.SRC_IP),
        first(cols, "SourcePort", "IpPort").alias(F.SRC_PORT),
        first(cols, "DestinationIp", "DestAddress").alias(F.DST_IP),
        first(cols, "DestinationPort", "DestPort").alias(F.DST_PORT),
        first(cols, "DestinationHostname", "QueryName").alias(F.DST_HOST),
    ]


def _class_uid(raw: pl.DataFrame, cols: set[str]) -> pl.Series:
    """The OCSF class of each row, by channel and event id: worked out once per distinct pair (a
    batch holds a few dozen) and joined back to the rows, not a key string built for every row."""
    pairs = raw.select(first(cols, "Channel").alias("channel"), first(cols, "EventID").alias("event"),
                       pl.int_range(pl.len()).alias("row"))  # the row keeps the height where both are absent
    classes = pairs.select("channel", "event").unique().with_columns(
        pl.concat_str([pl.col("channel").str.to_lowercase(), pl.col("event")], separator="|")
        .replace_strict(_CLASS_BY_EVENT, default=0, return_dtype=pl.Int32).alias("class"))
    return pairs.join(classes, on=["channel", "event"], how="left", nulls_equal=True,
                      maintain_order="left").get_column("class")


def _qualified_user(raw: pl.DataFrame, cols: set[str]) -> pl.Series:
    """The user, as DOMAIN\\name where the event gives a domain apart and the name holds none; the
    domain is joined in on the rows that have one only (most events of a batch have none)."""
    names = raw.select(first(cols, "User", "TargetUserName", "SubjectUserName", "UserName", "AccountName")
                       .alias("user"), first(cols, "TargetDomainName", "SubjectDomainName").alias("domain"),
                       pl.int_range(pl.len()).alias("row"))
    user = names.get_column("user")
    rows = names.get_column("domain").is_not_null() & user.is_not_null()
    if not rows.any():
        return user
    both = names.filter(rows)
    qualified = both.select(pl.when(pl.col("user").str.contains("\\", literal=True)).then("user")
                            .otherwise(pl.concat_str(["domain", "user"], separator="\\"))).to_series()
    return user.scatter(both.get_column("row"), qualified)
