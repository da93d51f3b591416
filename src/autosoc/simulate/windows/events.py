"""Windows events as the ``evtx`` package renders them to JSON, built for one host.

:class:`WinLog` knows the host (name, Sysmon and LSASS process ids, the ProcessGuid prefix) and
writes Sysmon (1, 3, 10, 11, 13, 22), Security (4624, 4625, 4672, 4688, 4720) and System (7045)
events with the System section, key order and value types the ``evtx`` crate produces (numbers
for numeric EventData such as ``ProcessId`` and ``LogonType``, hex strings for Security's
``ProcessId``/``LogonId``, ``true``/``false`` for Sysmon booleans).  ``EventRecordID`` is
filled in by the writer, which numbers each channel in time order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autosoc.simulate.clock import SECOND, sysmon_utc, windows_system_time
from autosoc.simulate.ids import file_hashes, guid_upper
from autosoc.simulate.org import DOMAIN, NETBIOS, Host
from autosoc.simulate.windows.catalog import pe_info

XMLNS = {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"}
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SYSMON = {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}}
SECURITY = {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing",
                            "Guid": "54849625-5478-4994-A5BA-3E3B0328C30D"}}
SCM = {"#attributes": {"Name": "Service Control Manager", "Guid": "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
                       "EventSourceName": "Service Control Manager"}}
SYSTEM_SID = "S-1-5-18"
SYSTEM_USER = "NT AUTHORITY\\SYSTEM"
_SYSMON_VERSION = {1: 5, 3: 5, 10: 3, 11: 2, 13: 2, 22: 5}
_AUDIT_OK, _AUDIT_FAIL = "0x8020000000000000", "0x8010000000000000"
#: Security task categories (Logon, Special Logon, Process Creation, User Account Management)
_TASK = {4624: 12544, 4625: 12544, 4672: 12548, 4688: 13312, 4720: 13824}
_VERSION = {4624: 2, 4625: 0, 4672: 0, 4688: 2, 4720: 0}

Emit = Callable[[int, dict[str, Any]], None]


@dataclass(slots=True)
class Proc:
    """A running process as Sysmon and the Security log see it."""

    guid: str
    pid: int
    image: str
    cmd: str
    user: str  # CORP\alice.smith, NT AUTHORITY\SYSTEM ...
    logon_guid: str
    logon_id: str  # 0x3e7
    session: int
    integrity: str
    cwd: str
    parent: Proc | None = None
    sid: str = SYSTEM_SID


@dataclass(frozen=True, slots=True)
class Session:
    """An interactive logon of a user on a host: the ids Sysmon and 4624 share."""

    logon_id: str
    logon_guid: str
    session: int


def logon_session(seed: int, host: Host, day: str) -> Session:
    """The user's logon session on ``host`` that day (the same for benign activity and stories)."""
    rng = random.Random(f"{seed}/logon/{host.name}/{day}")
    value = rng.randrange(0x100000, 0x7FFFFFFF)
    b = value.to_bytes(4, "little").hex().upper()
    return Session(f"{value:#x}", f"{host.machine_prefix}-{b[:4]}-{b[4:]}-0000-000000000000",
                   rng.choice((1, 1, 2, 3)))


class WinLog:
    """Builds one host's events; ``emit(us, record)`` receives each (the caller collects them)."""

    def __init__(self, host: Host, rng: random.Random, emit: Emit, *, seed: int) -> None:
        self.host = host
        self.rng = rng
        self.emit = emit
        self.computer = host.fqdn
        hrng = random.Random(f"{seed}/host/{host.name}")  # stable across days and stories
        self.sysmon_pid = hrng.randrange(1500, 4000, 4)
        self.lsass_pid = hrng.randrange(600, 1000, 4)
        self.services_pid = self.lsass_pid - hrng.randrange(12, 80, 4)
        self.guid_tail = f"{hrng.randrange(0x300, 0x4500):012X}"
        boot = hrng.randrange(1 << 28, 1 << 30)
        self.system_logon_guid = (f"{host.machine_prefix}-{boot & 0xFFFF:04X}-{boot >> 16 & 0xFFFF:04X}-"
                                  "E703-000000000000")
        self.system_proc = Proc(self.new_guid(0), 4, "System", "", SYSTEM_USER, self.system_logon_guid, "0x3e7",
                                0, "System", "C:\\Windows\\system32\\")
        self.lsass = Proc(self.new_guid(0), self.lsass_pid, "C:\\Windows\\system32\\lsass.exe",
                          "C:\\Windows\\system32\\lsass.exe", SYSTEM_USER, self.system_logon_guid, "0x3e7", 0,
                          "System", "C:\\Windows\\system32\\")
        self.services = Proc(self.new_guid(0), self.services_pid, "C:\\Windows\\System32\\services.exe",
                             "C:\\Windows\\system32\\services.exe", SYSTEM_USER, self.system_logon_guid, "0x3e7", 0,
                             "System", "C:\\Windows\\system32\\")

    # -- envelope -------------------------------------------------------------------------------
    def _system(self, provider: dict[str, Any], eid: Any, version: int, level: int, task: int, keywords: str,
                us: int, channel: str, pid: int, sid: str | None, correlation: str | None = None) -> dict[str, Any]:
        return {
            "Provider": provider,
            "EventID": eid,
            "Version": version,
            "Level": level,
            "Task": task,
            "Opcode": 0,
            "Keywords": keywords,
            "TimeCreated": {"#attributes": {"SystemTime": windows_system_time(us)}},
            "EventRecordID": 0,
            "Correlation": {"#attributes": {"ActivityID": correlation}} if correlation else None,
            "Execution": {"#attributes": {"ProcessID": pid, "ThreadID": pid + 4 * self.rng.randrange(1, 900)}},
            "Channel": channel,
            "Computer": self.computer,
            "Security": {"#attributes": {"UserID": sid}} if sid else None,
        }

    def _sysmon(self, us: int, eid: int, data: dict[str, Any]) -> None:
        system = self._system(SYSMON, eid, _SYSMON_VERSION[eid], 4, eid, "0x8000000000000000", us,
                              SYSMON_CHANNEL, self.sysmon_pid, SYSTEM_SID)
        self.emit(us, {"Event": {"#attributes": XMLNS, "System": system, "EventData": data}})

    def _security(self, us: int, eid: int, data: dict[str, Any], *, ok: bool = True,
                  correlation: str | None = None) -> None:
        system = self._system(SECURITY, eid, _VERSION[eid], 0, _TASK[eid], _AUDIT_OK if ok else _AUDIT_FAIL, us,
                              "Security", self.lsass_pid, None, correlation)
        self.emit(us, {"Event": {"#attributes": XMLNS, "System": system, "EventData": data}})

    def new_guid(self, us: int) -> str:
        t = us // SECOND
        return f"{self.host.machine_prefix}-{t & 0xFFFF:04X}-{t >> 16 & 0xFFFF:04X}-" \
               f"{self.rng.getrandbits(16):04X}-{self.guid_tail}"

    def new_pid(self) -> int:
        return self.rng.randrange(1000, 24000, 4)

    # -- processes ------------------------------------------------------------------------------
    def spawn(self, us: int, parent: Proc, image: str, cmd: str, *, user: str | None = None,
              integrity: str | None = None, cwd: str | None = None, audit: bool = False,
              session: Session | None = None, sid: str | None = None) -> Proc:
        """A process creation (Sysmon 1; with ``audit`` also Security 4688). Returns the child."""
        proc = Proc(self.new_guid(us), self.new_pid(), image, cmd, user or parent.user,
                    session.logon_guid if session else parent.logon_guid,
                    session.logon_id if session else parent.logon_id,
                    session.session if session else parent.session,
                    integrity or parent.integrity, cwd or parent.cwd, parent, sid or parent.sid)
        info = pe_info(image)
        self._sysmon(us, 1, {
            "RuleName": "-",
            "UtcTime": sysmon_utc(us),
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": image,
            "FileVersion": info.version,
            "Description": info.description,
            "Product": info.product,
            "Company": info.company,
            "OriginalFileName": info.original,
            "CommandLine": cmd,
            "CurrentDirectory": proc.cwd,
            "User": proc.user,
            "LogonGuid": proc.logon_guid,
            "LogonId": proc.logon_id,
            "TerminalSessionId": proc.session,
            "IntegrityLevel": proc.integrity,
            "Hashes": file_hashes(image, info.version),
            "ParentProcessGuid": parent.guid,
            "ParentProcessId": parent.pid,
            "ParentImage": parent.image,
            "ParentCommandLine": parent.cmd,
            "ParentUser": parent.user,
        })
        if audit:
            self.process_4688(us + self.rng.randrange(0, 900), proc)
        return proc

    def process_4688(self, us: int, proc: Proc) -> None:
        domain, _, name = proc.user.partition("\\")
        parent = proc.parent or self.system_proc
        self._security(us, 4688, {
            "SubjectUserSid": proc.sid,
            "SubjectUserName": name if proc.sid != SYSTEM_SID else f"{self.host.name}$",
            "SubjectDomainName": domain if proc.sid != SYSTEM_SID else NETBIOS,
            "SubjectLogonId": proc.logon_id,
            "NewProcessId": f"{proc.pid:#x}",
            "NewProcessName": proc.image,
            "TokenElevationType": "%%1936" if proc.integrity in ("High", "System") else "%%1938",
            "ProcessId": f"{parent.pid:#x}",
            "CommandLine": proc.cmd,
            "TargetUserSid": "S-1-0-0",
            "TargetUserName": "-",
            "TargetDomainName": "-",
            "TargetLogonId": "0x0",
            "ParentProcessName": parent.image,
            "MandatoryLabel": {"Low": "S-1-16-4096", "Medium": "S-1-16-8192", "High": "S-1-16-12288"}.get(
                proc.integrity, "S-1-16-16384"),
        })

    # -- Sysmon ---------------------------------------------------------------------------------
    def network(self, us: int, proc: Proc, src_ip: str, dst_ip: str, dst_port: int, *, dst_host: str = "",
                src_port: int | None = None, protocol: str = "tcp", initiated: bool = True) -> None:
        port_names = {443: "https", 80: "http", 445: "microsoft-ds", 3389: "ms-wbt-server", 53: "domain",
                      135: "epmap", 88: "kerberos", 389: "ldap", 1433: "ms-sql-s", 5985: "-"}
        self._sysmon(us, 3, {
            "RuleName": "-",
            "UtcTime": sysmon_utc(us),
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image,
            "User": proc.user,
            "Protocol": protocol,
            "Initiated": initiated,
            "SourceIsIpv6": False,
            "SourceIp": src_ip,
            "SourceHostname": self.computer if initiated else "-",
            "SourcePort": src_port or self.rng.randrange(49152, 65535),
            "SourcePortName": "-",
            "DestinationIsIpv6": False,
            "DestinationIp": dst_ip,
            "DestinationHostname": dst_host or "-",
            "DestinationPort": dst_port,
            "DestinationPortName": port_names.get(dst_port, "-"),
        })

    def dns(self, us: int, proc: Proc, name: str, answers: list[str]) -> None:
        results = "".join(f"::ffff:{ip};" for ip in answers)
        self._sysmon(us, 22, {
            "RuleName": "-",
            "UtcTime": sysmon_utc(us),
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "QueryName": name,
            "QueryStatus": "0",
            "QueryResults": results,
            "Image": proc.image,
            "User": proc.user,
        })

    def file_create(self, us: int, proc: Proc, path: str, *, created_us: int | None = None) -> None:
        self._sysmon(us, 11, {
            "RuleName": "-",
            "UtcTime": sysmon_utc(us),
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image,
            "TargetFilename": path,
            "CreationUtcTime": sysmon_utc(created_us if created_us is not None else us),
            "User": proc.user,
        })

    def registry_set(self, us: int, proc: Proc, key: str, details: str) -> None:
        self._sysmon(us, 13, {
            "RuleName": "-",
            "EventType": "SetValue",
            "UtcTime": sysmon_utc(us),
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image,
            "TargetObject": key,
            "Details": details,
            "User": proc.user,
        })

    def process_access(self, us: int, source: Proc, target: Proc, access: str, call_trace: str) -> None:
        self._sysmon(us, 10, {
            "RuleName": "-",
            "UtcTime": sysmon_utc(us),
            "SourceProcessGUID": source.guid,
            "SourceProcessId": source.pid,
            "SourceThreadId": source.pid + 4 * self.rng.randrange(1, 400),
            "SourceImage": source.image,
            "TargetProcessGUID": target.guid,
            "TargetProcessId": target.pid,
            "TargetImage": target.image,
            "GrantedAccess": access,
            "CallTrace": call_trace,
            "SourceUser": source.user,
            "TargetUser": target.user,
        })

    # -- Security -------------------------------------------------------------------------------
    def logon(self, us: int, logon_type: int, user_sam: str, user_sid: str, logon_id: str, *,
              ip: str = "-", port: str = "0", workstation: str = "-", logon_guid: str | None = None,
              process: str = "C:\\Windows\\System32\\lsass.exe", elevated: bool = False,
              package: str = "Kerberos") -> None:
        """4624: an account was successfully logged on."""
        interactive = logon_type in (2, 7, 10, 11)
        self._security(us, 4624, {
            "SubjectUserSid": SYSTEM_SID if interactive else "S-1-0-0",
            "SubjectUserName": f"{self.host.name}$" if interactive else "-",
            "SubjectDomainName": NETBIOS if interactive else "-",
            "SubjectLogonId": "0x3e7" if interactive else "0x0",
            "TargetUserSid": user_sid,
            "TargetUserName": user_sam,
            "TargetDomainName": NETBIOS,
            "TargetLogonId": logon_id,
            "LogonType": logon_type,
            "LogonProcessName": "User32 " if interactive else "Kerberos",
            "AuthenticationPackageName": "Negotiate" if interactive else package,
            "WorkstationName": workstation if not interactive else self.host.name,
            "LogonGuid": logon_guid or "{00000000-0000-0000-0000-000000000000}",
            "TransmittedServices": "-",
            "LmPackageName": "NTLM V2" if package == "NTLM" else "-",
            "KeyLength": 128 if package == "NTLM" else 0,
            "ProcessId": f"{self.lsass_pid:#x}" if interactive else "0x0",
            "ProcessName": process if interactive else "-",
            "IpAddress": ip,
            "IpPort": port,
            "ImpersonationLevel": "%%1833",
            "RestrictedAdminMode": "%%1843" if logon_type == 10 else "-",
            "RemoteCredentialGuard": "-",
            "TargetOutboundUserName": "-",
            "TargetOutboundDomainName": "-",
            "VirtualAccount": "%%1843",
            "TargetLinkedLogonId": "0x0",
            "ElevatedToken": "%%1842" if elevated else "%%1843",
        }, correlation=guid_upper(self.rng) if interactive else None)

    def logon_failed(self, us: int, logon_type: int, user_sam: str, *, ip: str = "-", workstation: str = "-",
                     status: str = "0xc000006d", sub_status: str = "0xc000006a") -> None:
        """4625: an account failed to log on (wrong password by default)."""
        self._security(us, 4625, {
            "SubjectUserSid": "S-1-0-0",
            "SubjectUserName": "-",
            "SubjectDomainName": "-",
            "SubjectLogonId": "0x0",
            "TargetUserSid": "S-1-0-0",
            "TargetUserName": user_sam,
            "TargetDomainName": NETBIOS,
            "Status": status,
            "FailureReason": "%%2313",
            "SubStatus": sub_status,
            "LogonType": logon_type,
            "LogonProcessName": "NtLmSsp ",
            "AuthenticationPackageName": "NTLM",
            "WorkstationName": workstation,
            "TransmittedServices": "-",
            "LmPackageName": "-",
            "KeyLength": 0,
            "ProcessId": "0x0",
            "ProcessName": "-",
            "IpAddress": ip,
            "IpPort": "0",
        }, ok=False)

    def special_privileges(self, us: int, user_sam: str, user_sid: str, logon_id: str) -> None:
        """4672: special privileges assigned to new logon (administrators)."""
        privileges = ["SeSecurityPrivilege", "SeBackupPrivilege", "SeRestorePrivilege", "SeTakeOwnershipPrivilege",
                      "SeDebugPrivilege", "SeSystemEnvironmentPrivilege", "SeLoadDriverPrivilege",
                      "SeImpersonatePrivilege", "SeDelegateSessionUserImpersonatePrivilege"]
        self._security(us, 4672, {
            "SubjectUserSid": user_sid,
            "SubjectUserName": user_sam,
            "SubjectDomainName": NETBIOS,
            "SubjectLogonId": logon_id,
            "PrivilegeList": "\r\n\t\t\t".join(privileges),
        })

    def user_created(self, us: int, admin_sam: str, admin_sid: str, admin_logon: str, new_sam: str,
                     new_sid: str, display: str) -> None:
        """4720: a user account was created."""
        self._security(us, 4720, {
            "TargetUserName": new_sam,
            "TargetDomainName": NETBIOS,
            "TargetSid": new_sid,
            "SubjectUserSid": admin_sid,
            "SubjectUserName": admin_sam,
            "SubjectDomainName": NETBIOS,
            "SubjectLogonId": admin_logon,
            "PrivilegeList": "-",
            "SamAccountName": new_sam,
            "DisplayName": display,
            "UserPrincipalName": f"{new_sam}@{DOMAIN}",
            "HomeDirectory": "%%1793",
            "HomePath": "%%1793",
            "ScriptPath": "%%1793",
            "ProfilePath": "%%1793",
            "UserWorkstations": "%%1793",
            "PasswordLastSet": "%%1794",
            "AccountExpires": "%%1794",
            "PrimaryGroupId": "513",
            "AllowedToDelegateTo": "-",
            "OldUacValue": "0x0",
            "NewUacValue": "0x15",
            "UserAccountControl": "\r\n\t\t%%2080\r\n\t\t%%2082\r\n\t\t%%2084",
            "UserParameters": "%%1793",
            "SidHistory": "-",
            "LogonHours": "%%1797",
        })

    # -- System ---------------------------------------------------------------------------------
    def service_installed(self, us: int, name: str, image_path: str, *, account: str = "LocalSystem",
                          start_type: str = "demand start", sid: str = SYSTEM_SID) -> None:
        """System 7045: a service was installed in the system."""
        system = self._system(SCM, {"#attributes": {"Qualifiers": 16384}, "#text": 7045}, 0, 4, 0,
                              "0x8080000000000000", us, "System", self.services_pid, sid)
        self.emit(us, {"Event": {"#attributes": XMLNS, "System": system, "EventData": {
            "ServiceName": name,
            "ImagePath": image_path,
            "ServiceType": "user mode service",
            "StartType": start_type,
            "AccountName": account,
        }}})
