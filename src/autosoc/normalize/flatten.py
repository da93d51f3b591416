"""Record shapes -> flat ``{field: value}`` dicts, the names Sigma rules use.

Windows events arrive in several shapes; all end up with the EventData names at the top level
(``Image``, ``CommandLine``) next to the System names (``EventID``, ``Channel``, ``Computer``,
``Provider_Name``):

* the nested evtx-JSON shape ``{"Event": {"System": ..., "EventData": ...}}`` (evtx, evtx_dump);
* Winlogbeat/Elastic: ``winlog.event_data.*``, ``winlog.event_id``, ``winlog.channel`` ...;
* NXLog and other flat shippers: EventData fields at the top level, ``Hostname``, ``SourceName``;
* flat keys with an ``EventData.`` / ``event_data.`` prefix.

Other records flatten nested objects with dots (``userIdentity.arn``), the names SigmaHQ cloud
rules use.  Values stay Python scalars here; columns are built in :mod:`autosoc.normalize.columns`.

:func:`flatten_windows`, :func:`flatten_dotted` and :func:`scalar` run once per event, so they come
from the C extension :mod:`autosoc.normalize._flatten` when it was built (``NATIVE`` is then true).
The pure-Python ``_py_*`` functions below are the reference it must match exactly (values and key
order) and the fallback: used when the extension is missing or ``AUTOSOC_PURE_PYTHON=1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import orjson

#: prefixes whose children are Windows EventData fields
WINDOWS_DATA_PREFIXES = (
    "winlog.event_data.",
    "winlog.user_data.",
    "event_data.",
    "EventData.",
    "Event.EventData.",
    "UserData.",
)
#: shipper names for Windows System fields -> the names Sigma rules use
WINDOWS_SYSTEM_ALIASES = {
    "winlog.event_id": "EventID",
    "winlog.channel": "Channel",
    "winlog.computer_name": "Computer",
    "winlog.provider_name": "Provider_Name",
    "winlog.provider_guid": "Provider_Guid",
    "winlog.record_id": "EventRecordID",
    "winlog.process.pid": "Execution_ProcessID",
    "winlog.user.identifier": "Security_UserID",
    "winlog.task": "TaskName",
    "winlog.opcode": "OpcodeName",
    "Hostname": "Computer",
    "hostname": "Computer",
    "SourceName": "Provider_Name",
    "ProviderName": "Provider_Name",
    "RecordNumber": "EventRecordID",
    "EventTime": "TimeCreated_SystemTime",
    "event_id": "EventID",
    "channel": "Channel",
    "computer_name": "Computer",
    "provider_name": "Provider_Name",
}


def _py_scalar(value: Any) -> str | None:
    """The string form Sigma compares against; None stays None (a null field)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    if kind is list and all(type(v) is str for v in value):
        return "\n".join(value)
    return orjson.dumps(value).decode()


def _py_flatten_dotted(record: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are kept whole (see :func:`scalar`)."""
    if out is None:
        out = {}
    for key, value in record.items():
        name = prefix + key if prefix else key
        if type(value) is dict:
            if value:
                _py_flatten_dotted(value, name + ".", out)
            else:
                out[name] = None
        elif type(value) is list:
            out[name] = _py_scalar(value)
        else:
            out[name] = value
    return out


def _attr_children(name: str, value: dict[str, Any], out: dict[str, Any]) -> None:
    """An XML element rendered as JSON: ``#attributes`` become ``Name_attr``, ``#text`` the value."""
    attrs = value.get("#attributes")
    if type(attrs) is dict:
        for attr, attr_value in attrs.items():
            out[f"{name}_{attr}"] = attr_value
    if "#text" in value:
        out[name] = _py_scalar(value["#text"])
    for key, child in value.items():
        if key[:1] != "#":
            if type(child) is dict:
                _attr_children(f"{name}_{key}", child, out)
            else:
                out[f"{name}_{key}"] = child


def _event_data(data: Any, out: dict[str, Any]) -> None:
    if type(data) is dict:
        for key, value in data.items():
            kind = type(value)
            if (kind is str or kind is int) and key[:1] != "#":  # the usual Name: value
                out[key] = value
                if " " in key:
                    out.setdefault(key.replace(" ", ""), value)
                continue
            if key[:1] == "#" and key != "#text":
                continue
            if key == "Data" and type(value) is list:
                _data_list(value, out)
            elif type(value) is dict:
                # UserData-style nesting: <EventXML><Field>..</Field></EventXML>; keep leaf names bare
                if "#text" in value and len(value) <= 2:
                    out[key] = value["#text"]
                else:
                    _event_data(value, out)
            elif key == "#text":
                out["Data"] = _py_scalar(value)
            elif type(value) is list:
                out[key] = _py_scalar(value)
            else:
                out[key] = value
            if " " in key:
                # Defender and others name data "Threat Name"; Sigma rules write ThreatName
                out.setdefault(key.replace(" ", ""), out.get(key))
    elif type(data) is list:
        _data_list(data, out)
    elif data is not None:
        out["Data"] = _py_scalar(data)


def _data_list(items: list[Any], out: dict[str, Any]) -> None:
    """``<Data Name="x">v</Data>`` lists as produced by XML-to-JSON converters."""
    unnamed: list[str] = []
    for item in items:
        if type(item) is dict:
            name = item.get("@Name") or item.get("Name")
            attrs = item.get("#attributes")
            if name is None and type(attrs) is dict:
                name = attrs.get("Name")
            text = item.get("#text", item.get("text", item.get("Value")))
            if name:
                out[str(name)] = text if type(text) is not list else _py_scalar(text)
            elif text is not None:
                unnamed.append(str(text))
        elif item is not None:
            unnamed.append(str(item))
    if unnamed:
        out["Data"] = "\n".join(unnamed)


def _py_flatten_windows(record: dict[str, Any]) -> dict[str, Any] | None:
    """Flatten a Windows event in any known shape; None if the record is not one."""
    event = record.get("Event")
    if type(event) is dict and ("System" in event or "EventData" in event):
        out: dict[str, Any] = {}
        system = event.get("System")
        if type(system) is dict:
            for key, value in system.items():
                kind = type(value)
                if kind is dict:
                    attrs = value.get("#attributes")
                    if len(value) == 1 and type(attrs) is dict:  # the usual <Element a=".." b=".."/>
                        prefix = key + "_"
                        for attr, attr_value in attrs.items():
                            out[prefix + attr] = attr_value
                    else:
                        _attr_children(key, value, out)
                elif kind is list:
                    out[key] = _py_scalar(value)
                else:
                    out[key] = value
        data = event.get("EventData")
        if data is not None:
            _event_data(data, out)
        user_data = event.get("UserData")
        if user_data is not None:
            _event_data(user_data, out)
        return out
    if "winlog" in record or "EventID" in record or "event_data" in record or "EventData" in record:
        flat = _py_flatten_dotted(record)
        out = {}
        for key, value in flat.items():
            out[key] = value
            for prefix in WINDOWS_DATA_PREFIXES:
                if key.startswith(prefix):
                    out.setdefault(key[len(prefix):], value)
                    break
            alias = WINDOWS_SYSTEM_ALIASES.get(key)
            if alias is not None:
                out.setdefault(alias, value)
        # a Windows record names its event and where it was logged
        if "EventID" in out and ("Channel" in out or "Provider_Name" in out):
            return out
    return None


def looks_like_cloudtrail(record: dict[str, Any]) -> bool:
    return "eventSource" in record and "eventName" in record and ("eventVersion" in record or "awsRegion" in record)


scalar: Callable[[Any], str | None] = _py_scalar
flatten_dotted: Callable[..., dict[str, Any]] = _py_flatten_dotted
flatten_windows: Callable[[dict[str, Any]], dict[str, Any] | None] = _py_flatten_windows

_native: ModuleType | None
try:
    from autosoc.normalize import _flatten as _native
except ImportError:  # built without a C compiler: the pure-Python functions serve
    _native = None
else:
    # one source of truth: the C code reads these very tables, and calls the Python functions for
    # anything off its fast path (a record that is not a dict, extra arguments)
    _native._configure(
        WINDOWS_DATA_PREFIXES, WINDOWS_SYSTEM_ALIASES, _py_flatten_windows, _py_flatten_dotted, _py_scalar
    )

#: True when the public functions are the C ones
NATIVE: bool = False
if _native is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1":
    NATIVE = True
    scalar = _native.scalar
    flatten_dotted = _native.flatten_dotted
    flatten_windows = _native.flatten_windows
