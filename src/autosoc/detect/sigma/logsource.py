"""Sigma logsource -> which events a rule may look at, as an IR condition.

Windows mappings come from pySigma's own pipelines (the standard mappings): service -> event log
channel (``windows_logsource_mapping``); category -> Sysmon EventID
(``sysmon_generic_logsource_eventid_mapping``), Security audit events
(``generic_logsource_to_windows_audit_event_mapping``: process_creation is also 4688) and the
PowerShell channels.  Linux categories map to Sysmon for Linux; Linux services to syslog
programs; AWS CloudTrail to CloudTrail records.  Azure services (``signinlogs``, ``auditlogs``,
``riskdetection``, ``activitylogs``), Okta and Zeek logs (and the generic ``category: dns``, as
Zeek dns) select ``json``-family records by the fields their shapes carry, from the same tables
the normalizers use (:mod:`autosoc.normalize.entra`, :mod:`autosoc.normalize.network`).  A
logsource nothing here can produce is reported, so the rule is listed as skipped with that
reason rather than silently never firing.
"""

from __future__ import annotations

from sigma.pipelines.common import windows_logsource_mapping
from sigma.pipelines.sysmon.sysmon import sysmon_generic_logsource_eventid_mapping
from sigma.pipelines.windows.windows import (
    generic_logsource_to_windows_audit_event_mapping,
    windows_generic_category_channel_mapping,
)
from sigma.rule import SigmaLogSource

from autosoc.detect.sigma.ir import And, Node, Or, Pred
from autosoc.errors import RuleError
from autosoc.normalize import entra
from autosoc.normalize.network import ZEEK_LOGS

FAMILY_COLUMN = "__family"
PATH_COLUMN = "__path"
SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"
LINUX_SYSMON_CHANNEL = "linux-sysmon/operational"

_AUTH_PROGRAMS = ("sshd", "sudo", "su", "login", "passwd", "useradd", "userdel", "usermod", "groupadd",
                  "chpasswd", "systemd-logind", "polkitd", "cron", "crond", "gdm-password", "unix_chkpwd",
                  "chage", "gpasswd", "pkexec", "sssd")
_LINUX_SERVICE_PROGRAMS = {
    "sshd": ("sshd",), "sudo": ("sudo",), "cron": ("cron", "crond", "anacron"), "su": ("su",),
    "vsftpd": ("vsftpd",), "clamav": ("clamd", "freshclam", "clamav"), "guacamole": ("guacd", "guacamole"),
    "auditd": ("audit", "auditd"), "modsecurity": ("modsecurity",),
}


def _family(name: str) -> Pred:
    return Pred(FAMILY_COLUMN, "eq", (name,), cased=True)


def _eq(field: str, *values: object) -> Node:
    preds = tuple(Pred(field, "eq", (str(v).lower(),)) for v in values)
    return preds[0] if len(preds) == 1 else Or(preds)


def _channel(*channels: str) -> Node:
    return _eq("Channel", *channels)


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _windows_category(category: str) -> Node | None:
    options: list[Node] = []
    if category in sysmon_generic_logsource_eventid_mapping:
        ids = _as_list(sysmon_generic_logsource_eventid_mapping[category])
        options.append(And((_channel(SYSMON_CHANNEL), _eq("EventID", *ids))))
    if category in generic_logsource_to_windows_audit_event_mapping:
        conditions: list[Node] = [_channel("Security")]
        for field, value in generic_logsource_to_windows_audit_event_mapping[category].items():
            conditions.append(_eq(field, *_as_list(value)))
        options.append(And(tuple(conditions)))
    if category in windows_generic_category_channel_mapping:
        info = windows_generic_category_channel_mapping[category]
        channels = _as_list(windows_logsource_mapping[info["service"]])
        options.append(And((_channel(*map(str, channels)), _eq("EventID", info["EventID"]))))
    if not options:
        return None
    return options[0] if len(options) == 1 else Or(tuple(options))


def _exists(*fields: str) -> Node:
    preds = tuple(Pred(f, "exists", (True,)) for f in fields)
    return preds[0] if len(preds) == 1 else And(preds)


def _any(*nodes: Node) -> Node:
    return nodes[0] if len(nodes) == 1 else Or(nodes)


#: Azure service -> the records it names, in every shape a reader produces (see normalize.entra)
_AZURE_SERVICES: dict[str, Node] = {
    "signinlogs": _any(_eq("category", *entra.SIGNIN_CATEGORIES), _eq("Category", *entra.SIGNIN_CATEGORIES),
                       _eq("Type", *entra.SIGNIN_TABLES), _exists("createdDateTime", "status.errorCode")),
    "auditlogs": _any(_eq("category", *entra.AUDIT_CATEGORIES), _eq("Type", "auditlogs"),
                      _exists("activityDisplayName", "activityDateTime")),
    "riskdetection": _any(_eq("category", *entra.RISK_CATEGORIES), _eq("Type", *entra.RISK_TABLES),
                          _exists("riskEventType", "detectedDateTime")),
    "activitylogs": _any(And((_eq("category", *entra.ACTIVITY_CATEGORIES),
                              Pred("resourceId", "startswith", ("/subscriptions/",)))),
                         _eq("Type", "azureactivity"), _exists("CategoryValue", "OperationNameValue")),
}


def _zeek(service: str) -> Node:
    """A Zeek log by its ``_path`` or by the fields only it has (normalize.network.ZEEK_LOGS)."""
    by_path = _eq("_path", service)
    markers = ZEEK_LOGS.get(service)
    if markers is None:
        return And((_exists("ts"), by_path))
    return And((_exists("ts"), _any(by_path, *(_exists(m) for m in markers))))


def _programs(*names: str) -> Node:
    return _eq("appname", *names)


def select(logsource: SigmaLogSource) -> Node:
    """The condition an event must meet for a rule with ``logsource`` to look at it."""
    product = (logsource.product or "").lower()
    category = (logsource.category or "").lower()
    service = (logsource.service or "").lower()
    parts: list[Node] = []
    if product == "windows":
        parts.append(_family("windows"))
        if service:
            if service not in windows_logsource_mapping:
                raise _unmapped(logsource)
            parts.append(_channel(*map(str, _as_list(windows_logsource_mapping[service]))))
        if category:
            selector = _windows_category(category)
            if selector is None:
                raise _unmapped(logsource)
            parts.append(selector)
    elif product == "linux":
        if category:
            ids = sysmon_generic_logsource_eventid_mapping.get(category)
            if ids is None:
                raise _unmapped(logsource)
            parts += [_family("windows"), _channel(LINUX_SYSMON_CHANNEL), _eq("EventID", *_as_list(ids))]
        elif service in ("", "syslog"):
            parts.append(_family("syslog"))
        elif service == "auth":
            auth_facility = _eq("facility", "auth", "authpriv")
            parts += [_family("syslog"), Or((auth_facility, _programs(*_AUTH_PROGRAMS)))]
        elif service in _LINUX_SERVICE_PROGRAMS:
            parts += [_family("syslog"), _programs(*_LINUX_SERVICE_PROGRAMS[service])]
        else:
            raise _unmapped(logsource)
    elif product == "aws" and service in ("", "cloudtrail"):
        parts.append(_family("cloudtrail"))
    elif product == "azure" and not category and (service in _AZURE_SERVICES or not service):
        parts += [_family("json"), _AZURE_SERVICES[service] if service else _any(*_AZURE_SERVICES.values())]
    elif product == "okta" and not category and service in ("", "okta"):
        parts += [_family("json"), _exists("eventType", "published", "actor.id")]
    elif product == "zeek" and not category and service:
        parts += [_family("json"), _zeek(service)]
    elif not product and category == "dns" and not service:
        parts += [_family("json"), _zeek("dns")]
    else:
        raise _unmapped(logsource)
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _unmapped(logsource: SigmaLogSource) -> RuleError:
    text = "/".join(str(x) for x in (logsource.product, logsource.category, logsource.service) if x)
    return RuleError(f"no reader produces logsource {text or '(empty)'}", code="unmapped_logsource")
