"""Normal days on Windows machines: what people, IT and software do.

A workstation day follows its owner's :mod:`~autosoc.simulate.presence` segments: a logon, the
shell and the usual apps, then browsing, mail, documents, Teams, developers' tooling and admins'
remote work, plus SYSTEM housekeeping (Defender updates, Edge/Google updaters, the SCCM client
running PowerShell with ``-ExecutionPolicy Bypass``).  Servers run around the clock: Kerberos
network logons from everyone who is at work, admins' RDP sessions, backup and monitoring agents,
IIS worker processes.  Some of this trips noisy community rules, as it does in real networks.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import date

from autosoc.simulate.clock import HOUR, MINUTE, SECOND, day_start
from autosoc.simulate.ids import alnum, guid_upper
from autosoc.simulate.ipplan import SERVICES
from autosoc.simulate.org import Host, Organisation, User
from autosoc.simulate.presence import Segment, resolve
from autosoc.simulate.windows import catalog as C
from autosoc.simulate.windows.events import SYSTEM_USER, Proc, WinLog, logon_session

DC_IPS = ("10.20.0.10", "10.20.0.11")
DOC_NAMES = ("Q4 forecast", "Board update", "Customer list", "Team offsite", "Budget 2027", "Roadmap",
             "Contract draft", "Invoice tracker", "Hiring plan", "Weekly report", "Pricing", "Onboarding")
DOC_APPS = (("winword", ".docx"), ("excel", ".xlsx"), ("powerpnt", ".pptx"), ("acrobat", ".pdf"))
SITE_NAMES = [n for _, names, _, _ in SERVICES for n in names]


@dataclass(frozen=True, slots=True)
class AdminVisit:
    """An admin's remote session to a server (seen on both ends)."""

    admin: str
    server: str
    us: int
    minutes: int


def admin_visits(seed: int, org: Organisation, day: date,
                 segments: dict[str, tuple[Segment, ...]]) -> list[AdminVisit]:
    rng = random.Random(f"{seed}/admin-visits/{day.isoformat()}")
    servers = [h.name for h in org.servers()]
    visits = []
    for admin in org.admins():
        for seg in segments.get(admin.sam, ()):
            if seg.where == "flight":
                continue
            for _ in range(rng.choice((0, 1, 1, 2))):
                us = rng.randrange(seg.start, max(seg.start + 1, seg.end - 30 * MINUTE))
                visits.append(AdminVisit(admin.sam, rng.choice(servers), us, rng.randrange(5, 45)))
    return sorted(visits, key=lambda v: (v.us, v.admin))


def _winlogon(log: WinLog) -> Proc:
    return Proc(log.new_guid(0), log.rng.randrange(500, 900, 4), C.IMAGES["winlogon"], "winlogon.exe", SYSTEM_USER,
                log.system_logon_guid, "0x3e7", 1, "System", "C:\\Windows\\system32\\")


def _system_proc(log: WinLog, image: str, cmd: str, us: int) -> Proc:
    """A SYSTEM service host started before the day began (its creation is not in today's log)."""
    return Proc(log.new_guid(us), log.rng.randrange(1000, 6000, 4), image, cmd, SYSTEM_USER,
                log.system_logon_guid, "0x3e7", 0, "System", "C:\\Windows\\system32\\", log.services)


def _ws_ip(host: Host, seg: Segment) -> str:
    return host.ip if seg.at_office else "192.168.1." + str(20 + int(host.name[3:]) % 200)


def _connect(log: WinLog, us: int, proc: Proc, src_ip: str, name: str, *, port: int = 443) -> None:
    ip = resolve(name)
    log.dns(us, proc, name, [ip])
    log.network(us + log.rng.randrange(5_000, 90_000), proc, src_ip, ip, port, dst_host=name)


def workstation_day(log: WinLog, org: Organisation, user: User, day: date, segments: tuple[Segment, ...],
                    visits: list[AdminVisit]) -> None:
    rng = log.rng
    host = log.host
    _housekeeping(log, day, host.ip)
    active = [s for s in segments if s.where != "flight"]
    if not active:
        return
    sess = logon_session(org.seed, host, day.isoformat())
    start = active[0].start
    src = _ws_ip(host, active[0])
    logon_type = 2 if active[0].at_office or active[0].where == "vpn" else 11
    log.logon(start, logon_type, user.sam, user.sid, sess.logon_id, logon_guid="{" + guid_upper(rng) + "}",
              process="C:\\Windows\\System32\\svchost.exe", elevated=user.is_admin)
    if user.is_admin:
        log.special_privileges(start, user.sam, user.sid, sess.logon_id)
    home = C.user_home(user.sam)
    common = {"user": user.domain_user, "integrity": "Medium", "session": sess, "sid": user.sid}
    userinit = log.spawn(start + 2 * SECOND, _winlogon(log), C.IMAGES["userinit"],
                         "C:\\Windows\\system32\\userinit.exe",
                         cwd="C:\\Windows\\system32\\", **common)
    explorer = log.spawn(start + 3 * SECOND, userinit, C.IMAGES["explorer"], "C:\\Windows\\Explorer.EXE",
                         cwd="C:\\Windows\\system32\\", **common)
    t = start + 8 * SECOND
    od = log.spawn(t, explorer, C.onedrive_exe(user.sam), f'"{C.onedrive_exe(user.sam)}" /background', cwd=home + "\\")
    teams = log.spawn(t + 2 * SECOND, explorer, C.teams(user.sam), f'"{C.teams(user.sam)}" msteams:system-initiated',
                      cwd=home + "\\")
    outlook = log.spawn(t + 20 * SECOND, explorer, C.IMAGES["outlook"], f'"{C.IMAGES["outlook"]}" ', cwd=home + "\\")
    browser_image = C.BROWSERS[user.browser]
    browser = log.spawn(t + 40 * SECOND, explorer, browser_image, f'"{browser_image}" --no-startup-window',
                        cwd=home + "\\")
    log.registry_set(t + 3 * SECOND, od,
                     f"HKU\\{user.sid}\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDrive",
                     f'"{C.onedrive_exe(user.sam)}" /background')
    for name in ("login.microsoftonline.com", "outlook.office365.com", "teams.microsoft.com"):
        _connect(log, t + rng.randrange(30, 120) * SECOND, outlook if "outlook" in name else teams, src, name)
    apps = {"explorer": explorer, "browser": browser, "outlook": outlook, "teams": teams, "onedrive": od}
    for seg in active:
        src = _ws_ip(host, seg)
        length_h = (seg.end - seg.start) / HOUR
        n = int(length_h * rng.uniform(7.0, 10.0))
        for _ in range(n):
            us = rng.randrange(seg.start, max(seg.start + 1, seg.end))
            _activity(log, user, apps, us, src, home)
        if seg is not active[0] and seg.where != "hotel":
            unlock = logon_session(org.seed, host, f"{day.isoformat()}/{seg.start}")
            log.logon(seg.start, 7, user.sam, user.sid, unlock.logon_id, process="C:\\Windows\\System32\\svchost.exe")
    for visit in visits:
        if visit.admin == user.sam:
            server = org.by_host[visit.server]
            mstsc = log.spawn(visit.us - 4 * SECOND, explorer, C.IMAGES["mstsc"],
                              f'"C:\\Windows\\system32\\mstsc.exe" /v:{server.fqdn}', cwd=home + "\\")
            log.network(visit.us - 3 * SECOND, mstsc, host.ip, server.ip, 3389, dst_host=server.fqdn)


def _activity(log: WinLog, user: User, apps: dict[str, Proc], us: int, src: str, home: str) -> None:
    rng = log.rng
    kind = rng.choices(("browse", "mail", "doc", "teams", "download", "dev", "admin"),
                       weights=(30, 18, 14, 10, 4, 24 if user.is_dev else 0, 20 if user.is_admin else 0))[0]
    if kind == "browse":
        browser = apps["browser"]
        if rng.random() < 0.3:
            child = log.spawn(us, browser, browser.image,
                              f'"{browser.image}" --type=renderer --lang=en-US '
                              f'--renderer-client-id={rng.randrange(5, 300)}',
                              integrity="Low")
            apps["renderer"] = child
        for _ in range(rng.randrange(1, 4)):
            _connect(log, us + rng.randrange(1, 60) * SECOND, browser, src, rng.choice(SITE_NAMES))
    elif kind == "mail":
        outlook = apps["outlook"]
        _connect(log, us, outlook, src, "outlook.office365.com")
        if rng.random() < 0.25:
            name = f"{rng.choice(DOC_NAMES)}{rng.choice(('.pdf', '.xlsx', '.docx'))}"
            log.file_create(us + 2 * SECOND, outlook,
                            f"{home}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\"
                            f"{alnum(rng, 8)}\\{name}")
    elif kind == "doc":
        app, ext = rng.choice(DOC_APPS)
        name = rng.choice(DOC_NAMES) + ext
        path = f"{C.onedrive(user.sam)}\\Documents\\{name}"
        image = C.IMAGES[app]
        cmd = f'"{image}" "{path}"' if app == "acrobat" else f'"{image}" /n "{path}" /o ""'
        proc = log.spawn(us, apps["explorer"], image, cmd, cwd=f"{C.onedrive(user.sam)}\\Documents\\")
        if app != "acrobat":
            log.file_create(us + 3 * SECOND, proc, f"{C.onedrive(user.sam)}\\Documents\\~${name}")
            log.file_create(us + rng.randrange(5, 40) * MINUTE, apps["onedrive"], path)
        _connect(log, us + 5 * SECOND, proc, src, "contoso-my.sharepoint.com")
    elif kind == "teams":
        for name in ("teams.microsoft.com", "substrate.office.com"):
            _connect(log, us + rng.randrange(0, 30) * SECOND, apps["teams"], src, name)
    elif kind == "download":
        browser = apps["browser"]
        name = rng.choice(("report", "slides", "setup", "statement", "agenda")) + rng.choice((".pdf", ".zip", ".msi"))
        log.file_create(us, browser, f"{home}\\Downloads\\{name}")
    elif kind == "dev":
        _dev(log, user, apps, us, src, home)
    else:
        _admin(log, user, apps, us, src)


def _dev(log: WinLog, user: User, apps: dict[str, Proc], us: int, src: str, home: str) -> None:
    rng = log.rng
    code = apps.get("code")
    repo = f"{home}\\source\\repos\\{rng.choice(('billing-api', 'web-portal', 'infra', 'data-pipeline'))}"
    if code is None:
        code = apps["code"] = log.spawn(us, apps["explorer"], C.vscode(user.sam), f'"{C.vscode(user.sam)}" ',
                                        cwd=home + "\\")
    what = rng.randrange(5)
    if what == 0:
        git = log.spawn(us + SECOND, code, C.GIT, "git.exe fetch --all --prune", cwd=repo + "\\")
        _connect(log, us + 2 * SECOND, git, src, "github.com")
    elif what == 1:
        py = log.spawn(us + SECOND, code, C.PYTHON, "python.exe -m pytest -q tests", cwd=repo + "\\")
        log.file_create(us + 9 * SECOND, py, f"{repo}\\.pytest_cache\\v\\cache\\lastfailed")
    elif what == 2:
        cmd = log.spawn(us, code, C.IMAGES["cmd"], 'C:\\Windows\\system32\\cmd.exe /d /s /c "npm install"',
                        cwd=repo + "\\")
        node = log.spawn(us + SECOND, cmd, C.NODE, '"C:\\Program Files\\nodejs\\node.exe" '
                         '"C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npm-cli.js" install', cwd=repo + "\\")
        _connect(log, us + 2 * SECOND, node, src, "registry.npmjs.org")
    elif what == 3:
        ps = log.spawn(us, code, C.IMAGES["powershell"],
                       '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoProfile '
                       '-ExecutionPolicy Bypass -File .\\scripts\\build.ps1', cwd=repo + "\\")
        log.file_create(us + 20 * SECOND, ps, f"{repo}\\dist\\package.zip")
    else:
        aws = log.spawn(us, code, C.AWSCLI, f"aws s3 ls s3://corp-build-artifacts/{rng.choice(('web', 'api'))}/",
                        cwd=repo + "\\")
        _connect(log, us + SECOND, aws, src, "s3.amazonaws.com")


ADMIN_PS = (
    "Get-ADUser -Filter * -SearchBase 'OU=Staff,DC=corp,DC=example' | Select-Object Name,Enabled",
    "Get-Service -ComputerName FS-01,SQL-01 | Where-Object Status -ne Running",
    "Get-ADGroupMember 'Domain Admins'",
    "Invoke-Command -ComputerName APP-01 -ScriptBlock { Get-HotFix | Sort-Object InstalledOn | Select -Last 5 }",
    "Get-WinEvent -LogName System -MaxEvents 50 -ComputerName DC-01",
)


def _admin(log: WinLog, user: User, apps: dict[str, Proc], us: int, src: str) -> None:
    rng = log.rng
    what = rng.randrange(4)
    if what <= 1:
        ps = log.spawn(us, apps["explorer"], C.IMAGES["powershell"],
                       '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ',
                       cwd=C.user_home(user.sam) + "\\")
        for i in range(rng.randrange(1, 3)):
            log.network(us + (i + 1) * 20 * SECOND, ps, src, DC_IPS[i % 2], 5985 if what else 389)
        if rng.random() < 0.3:
            net = log.spawn(us + 40 * SECOND, ps, C.IMAGES["net"], '"C:\\Windows\\system32\\net.exe" group '
                            '"Domain Admins" /domain', cwd=C.user_home(user.sam) + "\\")
            log.spawn(us + 41 * SECOND, net, C.IMAGES["net1"],
                      'C:\\Windows\\system32\\net1 group "Domain Admins" /domain')
    elif what == 2:
        log.spawn(us, apps["explorer"], C.IMAGES["mmc"],
                  '"C:\\Windows\\system32\\mmc.exe" "C:\\Windows\\system32\\dsa.msc"',
                  integrity="High", cwd="C:\\Windows\\system32\\")
    else:
        cmd = log.spawn(us, apps["explorer"], C.IMAGES["cmd"], '"C:\\Windows\\system32\\cmd.exe" ',
                        cwd=C.user_home(user.sam) + "\\")
        log.spawn(us + 5 * SECOND, cmd, C.IMAGES["ipconfig"], "ipconfig  /all")
        if rng.random() < 0.4:
            log.spawn(us + 9 * SECOND, cmd, C.IMAGES["gpupdate"], "gpupdate  /force")


SCCM_SCRIPT = "C:\\Windows\\CCM\\SystemTemp\\{}.ps1"


def _housekeeping(log: WinLog, day: date, ip: str) -> None:
    """SYSTEM activity on every machine that is switched on (desktops stay on; all get maintenance)."""
    rng = log.rng
    base = day_start(day)
    svchost = _system_proc(log, C.IMAGES["svchost"], "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
                           base)
    for _ in range(rng.randrange(2, 5)):
        us = base + rng.randrange(0, 24 * HOUR)
        what = rng.randrange(5)
        if what == 0:
            mp = log.spawn(us, svchost, C.IMAGES["mpcmdrun"],
                           '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe" '
                           "-SignatureUpdate -ScheduleJob -RestrictPrivileges")
            _connect(log, us + SECOND, mp, ip, "fe3cr.delivery.mp.microsoft.com")
        elif what == 1:
            up = log.spawn(us, svchost, C.IMAGES["edgeupdate"],
                           '"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe" '
                           "/ua /installsource scheduler")
            log.registry_set(us + 2 * SECOND, up, "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\EdgeUpdate\\LastChecked",
                             f"DWORD (0x{rng.getrandbits(32):08x})")
        elif what == 2:
            ccm = _system_proc(log, C.IMAGES["ccmexec"], '"C:\\Windows\\CCM\\CcmExec.exe"', base)
            script = SCCM_SCRIPT.format(guid_upper(rng).lower())
            ps = log.spawn(us, ccm, C.IMAGES["powershell"],
                           '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoLogo -Noninteractive '
                           f'-ExecutionPolicy Bypass -File "{script}"', cwd="C:\\Windows\\CCM\\")
            log.file_create(us - SECOND, ccm, script)
            log.network(us + 3 * SECOND, ps, ip, "10.20.0.16", 443, dst_host="SCCM-01.corp.example")
        elif what == 3:
            log.spawn(us, svchost, C.IMAGES["compattelrunner"], "C:\\Windows\\system32\\compattelrunner.exe "
                      "-m:appraiser.dll -f:DoScheduledTelemetryRun")
            _connect(log, us + 30 * SECOND, svchost, ip, "settings-win.data.microsoft.com")
        else:
            mouso = log.spawn(us, svchost, C.IMAGES["mousocoreworker"],
                              "C:\\Windows\\System32\\mousocoreworker.exe -Embedding")
            _connect(log, us + 5 * SECOND, mouso, ip, "download.windowsupdate.com")


MONITOR_PS = "Get-Counter '\\Processor(_Total)\\% Processor Time','\\Memory\\Available MBytes' -SampleInterval 1"


def server_day(log: WinLog, org: Organisation, day: date, segments: dict[str, tuple[Segment, ...]],
               visits: list[AdminVisit]) -> None:
    rng = log.rng
    host = log.host
    base = day_start(day)
    _housekeeping(log, day, host.ip)
    # Kerberos / file-share network logons from everyone who is at work in the office or on VPN
    if host.role in ("dc", "file", "app", "sql"):
        share = {"dc": 1.0, "file": 0.6, "app": 0.3, "sql": 0.1}[host.role]
        if host.role == "dc":
            share = 0.5  # each DC gets about half of the authentications
        for u in org.users:
            ws = org.by_host[u.host]
            for seg in segments.get(u.sam, ()):
                if seg.where not in ("office", "vpn"):
                    continue
                for _ in range(int((seg.end - seg.start) / HOUR * share * rng.uniform(0.5, 1.5))):
                    us = rng.randrange(seg.start, seg.end)
                    log.logon(us, 3, u.sam, u.sid, f"{rng.randrange(0x1000000, 0x7FFFFFFF):#x}",
                              ip=ws.ip, port=str(rng.randrange(49152, 65535)), workstation=ws.name)
                    if u.is_admin:
                        log.special_privileges(us, u.sam, u.sid, f"{rng.randrange(0x1000000, 0x7FFFFFFF):#x}")
    wmi = _system_proc(log, C.IMAGES["svchost"], "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", base)
    # a monitoring agent polls performance counters through encoded PowerShell (a known false positive)
    encoded = base64.b64encode(MONITOR_PS.encode("utf-16-le")).decode()
    for hour in range(0, 24, 4):
        us = base + hour * HOUR + rng.randrange(0, 10 * MINUTE)
        log.spawn(us, wmi, C.IMAGES["powershell"],
                  f"powershell.exe -NoProfile -NonInteractive -EncodedCommand {encoded}",
                  audit=True)
    if host.role == "backup" or host.role in ("file", "sql"):
        veeam = _system_proc(log, C.IMAGES["veeam"], f'"{C.IMAGES["veeam"]}"', base)
        us = base + 1 * HOUR + rng.randrange(0, 30 * MINUTE)
        log.spawn(us, veeam, C.IMAGES["vssadmin"], "vssadmin.exe list shadows", audit=True)
        log.spawn(us + 5 * MINUTE, veeam, C.IMAGES["vssadmin"], "vssadmin.exe create shadow /for=C:", audit=True)
    if host.role == "web":
        w3wp = _system_proc(log, C.IMAGES["w3wp"], "c:\\windows\\system32\\inetsrv\\w3wp.exe -ap \"CustomerPortal\" "
                            "-v \"v4.0\" -l \"webengine4.dll\" -a \\\\.\\pipe\\iisipm" + guid_upper(rng).lower() +
                            " -h \"C:\\inetpub\\temp\\apppools\\CustomerPortal\\CustomerPortal.config\" -w \"\" -m 0",
                            base)
        w3wp.user = "IIS APPPOOL\\CustomerPortal"
        for _ in range(rng.randrange(1, 3)):
            us = base + rng.randrange(0, 24 * HOUR)
            csc = log.spawn(us, w3wp, C.IMAGES["csc"], '"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe" '
                            f'/noconfig /fullpaths @"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Temporary '
                            f'ASP.NET Files\\root\\{alnum(rng, 8).lower()}\\{alnum(rng, 8).lower()}.cmdline"',
                            audit=True)
            log.file_create(us + 2 * SECOND, csc, "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Temporary "
                            f"ASP.NET Files\\root\\{alnum(rng, 8).lower()}\\App_Web_{alnum(rng, 8).lower()}.dll")
    for visit in visits:
        if visit.server != host.name:
            continue
        admin = org.by_sam[visit.admin]
        ws = org.by_host[admin.host]
        sess = logon_session(org.seed, host, f"{day.isoformat()}/{visit.admin}/{visit.us}")
        log.logon(visit.us, 10, admin.sam, admin.sid, sess.logon_id, ip=ws.ip, port="0", logon_guid="{" +
                  guid_upper(rng) + "}", process="C:\\Windows\\System32\\svchost.exe", elevated=True)
        log.special_privileges(visit.us, admin.sam, admin.sid, sess.logon_id)
        common = {"user": admin.domain_user, "integrity": "High", "session": sess, "sid": admin.sid, "audit": True}
        explorer = log.spawn(visit.us + 5 * SECOND, _winlogon(log), C.IMAGES["explorer"], "C:\\Windows\\Explorer.EXE",
                             cwd="C:\\Windows\\system32\\", **common)
        ps = log.spawn(visit.us + 40 * SECOND, explorer, C.IMAGES["powershell"],
                       '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ',
                       cwd=f"C:\\Users\\{admin.sam}\\", **common)
        if rng.random() < 0.3:
            log.spawn(visit.us + 90 * SECOND, ps, C.IMAGES["sc"], '"C:\\Windows\\system32\\sc.exe" query type= service',
                      **common)
        if rng.random() < 0.15:  # an agent (re)install during patching
            log.service_installed(visit.us + 3 * MINUTE, "CSFalconService",
                                  '"C:\\Program Files\\CrowdStrike\\CSFalconService.exe"', start_type="auto start",
                                  sid=admin.sid)
        if host.role == "dc" and rng.random() < 0.1:
            new = f"{rng.choice(('contractor', 'intern', 'svc'))}.{alnum(rng, 4).lower()}"
            log.user_created(visit.us + 5 * MINUTE, admin.sam, admin.sid, sess.logon_id, new,
                             f"{org.domain_sid}-{rng.randrange(5000, 9000)}", new.replace(".", " ").title())
