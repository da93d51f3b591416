"""JSON/CSV records that are not Windows, CloudTrail or syslog -> OCSF columns, by shape.

The dispatcher of the ``json`` family.  Each known shape has a row test and a column mapping:

* Zeek logs (:mod:`.network`);
* Okta System Log events (:mod:`.okta`);
* Entra ID sign-ins, directory audits, risk detections and the Azure Activity log, in the
  diagnostic-export, Log Analytics and Microsoft Graph shapes (:mod:`.entra`).

The tests run per row (one Event Hub export mixes sign-ins and audits), but only the shapes
whose columns a batch has are considered.  Rows no shape claims get the common field names of
ECS (Elastic) and similar flat records: time, host, user, endpoints, process, user agent.

:func:`alias_columns` adds the raw field names SigmaHQ rules use where a shape names them
differently (Entra diagnostic export -> Log Analytics names; Zeek dns -> ``answer``); it is
the ``prepare`` step of the ``json`` parser.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from autosoc.normalize import entra, network, okta
from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL, UTC, category_of, first, parse_time

Shape = tuple[Callable[[set[str]], pl.Expr], Callable[[set[str]], dict[str, pl.Expr]]]

#: (row test, columns), in priority order
SHAPES: tuple[Shape, ...] = (
    (network.is_zeek, network.zeek_columns),
    (okta.is_okta, okta.okta_columns),
    (entra.is_signin, entra.signin_columns),
    (entra.is_audit, entra.audit_columns),
    (entra.is_risk, entra.risk_columns),
    (entra.is_activity, entra.activity_columns),
)


def _fallback(cols: set[str]) -> dict[str, pl.Expr]:
    return {
        F.TIME: parse_time(first(cols, "@timestamp", "timestamp", "time", "eventTime", "published",
                                 "createdDateTime", "ts")),
        F.CLASS_UID: pl.lit(0),
        F.EVENT_CODE: first(cols, "event.code", "event.action", "eventType", "operationName"),
        F.HOST: first(cols, "host.name", "hostname", "host", "Computer", "device.hostname"),
        F.USER: first(cols, "user.name", "userPrincipalName", "user", "username"),
        F.SRC_IP: first(cols, "source.ip", "src_ip", "client.ip", "ipAddress", "src"),
        F.SRC_PORT: first(cols, "source.port", "src_port"),
        F.DST_IP: first(cols, "destination.ip", "dst_ip", "dst"),
        F.DST_PORT: first(cols, "destination.port", "dst_port"),
        F.DST_HOST: first(cols, "destination.domain", "dns.question.name", "url.domain"),
        F.PROCESS_PATH: first(cols, "process.executable", "process.name"),
        F.PROCESS_CMD: first(cols, "process.command_line"),
        F.USER_AGENT: first(cols, "user_agent.original", "userAgent"),
        F.NET_PROTOCOL: first(cols, "network.transport"),
        F.BYTES_OUT: first(cols, "source.bytes"),
        F.BYTES_IN: first(cols, "destination.bytes"),
    }


def _live(raw: pl.DataFrame, tests: list[pl.Expr]) -> list[tuple[int, bool]]:
    """Per test that claims rows: (its index, whether it claims every row)."""
    if raw.height == 0 or not tests:
        return []
    counts = raw.select(t.fill_null(False).sum().alias(str(i)) for i, t in enumerate(tests)).row(0)
    return [(i, n == raw.height) for i, n in enumerate(counts) if n]


def ocsf_columns(raw: pl.DataFrame) -> list[pl.Expr]:
    cols = set(raw.columns)
    tests = [test(cols) for test, _ in SHAPES]
    live = _live(raw, tests)
    fallback = _fallback(cols)
    if live and live[0][1]:  # the first shape that claims rows claims them all: no per-row choice
        mapped = {**dict.fromkeys(fallback, NULL), **SHAPES[live[0][0]][1](cols)}
    else:
        branches = [(tests[i].fill_null(False), SHAPES[i][1](cols)) for i, _ in live]
        names = list(dict.fromkeys([*fallback, *(n for _, m in branches for n in m)]))
        mapped = {}
        for name in names:
            chain = None
            for test, columns in branches:
                if name not in columns:
                    continue
                chain = (pl.when(test) if chain is None else chain.when(test)).then(columns[name])
            default = fallback.get(name, NULL)
            mapped[name] = default if chain is None else chain.otherwise(default)
    class_uid = mapped.pop(F.CLASS_UID).cast(pl.Int32)
    time = mapped.pop(F.TIME).cast(UTC)
    return [time.alias(F.TIME), class_uid.alias(F.CLASS_UID), category_of(class_uid).alias(F.CATEGORY_UID),
            *(expr.cast(pl.String).alias(name) for name, expr in mapped.items())]


def alias_columns(raw: pl.DataFrame) -> pl.DataFrame:
    """Add the Sigma field names of the shapes present (see :func:`entra.alias_columns`)."""
    cols = set(raw.columns)
    tests = [entra.is_signin(cols), entra.is_audit(cols), entra.is_risk(cols), network.is_zeek(cols)]
    live = {i for i, _ in _live(raw, tests)}
    if live & {0, 1, 2}:
        raw = entra.alias_columns(raw)
    if 3 in live:
        raw = network.alias_columns(raw)
    return raw
