"""What Windows executables report about themselves (PE version resources) and where they live.

Sysmon copies ``FileVersion``, ``Description``, ``Product``, ``Company`` and ``OriginalFileName``
from the PE header; the values below are those the real binaries carry.
"""

from __future__ import annotations

from typing import NamedTuple


class PeInfo(NamedTuple):
    description: str
    product: str
    company: str
    original: str
    version: str


_MS = "Microsoft Corporation"
_WIN = "Microsoft® Windows® Operating System"
_OS_VER = "10.0.22621.4317 (WinBuild.160101.0800)"
_OFFICE = "Microsoft Office"
_OFFICE_VER = "16.0.17928.20156"

SYS32 = "C:\\Windows\\System32"
OFFICE_ROOT = "C:\\Program Files\\Microsoft Office\\root\\Office16"

PE: dict[str, PeInfo] = {
    "svchost.exe": PeInfo("Host Process for Windows Services", _WIN, _MS, "svchost.exe", _OS_VER),
    "userinit.exe": PeInfo("Userinit Logon Application", _WIN, _MS, "USERINIT.EXE", _OS_VER),
    "explorer.exe": PeInfo("Windows Explorer", _WIN, _MS, "EXPLORER.EXE", _OS_VER),
    "winlogon.exe": PeInfo("Windows Logon Application", _WIN, _MS, "WINLOGON.EXE", _OS_VER),
    "cmd.exe": PeInfo("Windows Command Processor", _WIN, _MS, "Cmd.Exe", _OS_VER),
    "powershell.exe": PeInfo("Windows PowerShell", _WIN, _MS, "PowerShell.EXE", _OS_VER),
    "conhost.exe": PeInfo("Console Window Host", _WIN, _MS, "CONHOST.EXE", _OS_VER),
    "rundll32.exe": PeInfo("Windows host process (Rundll32)", _WIN, _MS, "RUNDLL32.EXE", _OS_VER),
    "taskhostw.exe": PeInfo("Host Process for Windows Tasks", _WIN, _MS, "taskhostw.exe", _OS_VER),
    "searchprotocolhost.exe": PeInfo("Microsoft Windows Search Protocol Host", _WIN, _MS,
                                     "SearchProtocolHost.exe", _OS_VER),
    "compattelrunner.exe": PeInfo("Microsoft Compatibility Telemetry", _WIN, _MS, "CompatTelRunner.exe", _OS_VER),
    "mousocoreworker.exe": PeInfo("MoUSO Core Worker Process", _WIN, _MS, "MoUsoCoreWorker.exe", _OS_VER),
    "mstsc.exe": PeInfo("Remote Desktop Connection", _WIN, _MS, "mstsc.exe", _OS_VER),
    "mmc.exe": PeInfo("Microsoft Management Console", _WIN, _MS, "MMC.EXE", _OS_VER),
    "net.exe": PeInfo("Net Command", _WIN, _MS, "net.exe", _OS_VER),
    "net1.exe": PeInfo("Net Command", _WIN, _MS, "net1.exe", _OS_VER),
    "whoami.exe": PeInfo("whoami - displays logged on user information", _WIN, _MS, "whoami.exe", _OS_VER),
    "ipconfig.exe": PeInfo("IP Configuration Utility", _WIN, _MS, "ipconfig.exe", _OS_VER),
    "gpupdate.exe": PeInfo("Microsoft® Windows Group Policy Update Utility", _WIN, _MS, "gpupdate.exe", _OS_VER),
    "sc.exe": PeInfo("Service Control Manager Configuration Tool", _WIN, _MS, "sc.exe", _OS_VER),
    "vssadmin.exe": PeInfo("Command Line Interface for Microsoft® Volume Shadow Copy Service ", _WIN, _MS,
                           "VSSADMIN.EXE", _OS_VER),
    "wbadmin.exe": PeInfo("Command Line Interface for Microsoft® BLB Backup", _WIN, _MS, "WBADMIN.EXE", _OS_VER),
    "bcdedit.exe": PeInfo("Boot Configuration Data Editor", _WIN, _MS, "bcdedit.exe", _OS_VER),
    "schtasks.exe": PeInfo("Task Scheduler Configuration Tool", _WIN, _MS, "schtasks.exe", _OS_VER),
    "w3wp.exe": PeInfo("IIS Worker Process", "Internet Information Services", _MS, "w3wp.exe", _OS_VER),
    "csc.exe": PeInfo("Visual C# Command Line Compiler", "Microsoft® .NET Framework", _MS, "csc.exe",
                      "4.8.9037.0 built by: NET481REL1"),
    "services.exe": PeInfo("Services and Controller app", _WIN, _MS, "services.exe", _OS_VER),
    "lsass.exe": PeInfo("Local Security Authority Process", _WIN, _MS, "lsass.exe", _OS_VER),
    "psexesvc.exe": PeInfo("PsExec Service", "Sysinternals PsExec", "Sysinternals - www.sysinternals.com",
                           "psexesvc.exe", "2.43"),
    "psexec.exe": PeInfo("Execute processes remotely", "Sysinternals PsExec", "Sysinternals - www.sysinternals.com",
                         "psexec.c", "2.43"),
    "winword.exe": PeInfo("Microsoft Word", _OFFICE, _MS, "WinWord.exe", _OFFICE_VER),
    "excel.exe": PeInfo("Microsoft Excel", _OFFICE, _MS, "Excel.exe", _OFFICE_VER),
    "powerpnt.exe": PeInfo("Microsoft PowerPoint", _OFFICE, _MS, "POWERPNT.EXE", _OFFICE_VER),
    "outlook.exe": PeInfo("Microsoft Outlook", _OFFICE, _MS, "Outlook.exe", _OFFICE_VER),
    "onedrive.exe": PeInfo("Microsoft OneDrive", "Microsoft OneDrive", _MS, "OneDrive.exe", "24.201.1006.0005"),
    "ms-teams.exe": PeInfo("Microsoft Teams", "Microsoft Teams", _MS, "ms-teams.exe", "24295.605.3225.8804"),
    "msedge.exe": PeInfo("Microsoft Edge", "Microsoft Edge", _MS, "msedge.exe", "130.0.2849.68"),
    "chrome.exe": PeInfo("Google Chrome", "Google Chrome", "Google LLC", "chrome.exe", "130.0.6723.117"),
    "acrobat.exe": PeInfo("Adobe Acrobat", "Adobe Acrobat", "Adobe Inc.", "Acrobat.exe", "24.4.20220.0"),
    "code.exe": PeInfo("Visual Studio Code", "Visual Studio Code", _MS, "electron.exe", "1.95.1"),
    "git.exe": PeInfo("Git for Windows", "Git", "The Git Development Community", "git.exe", "2.47.0.windows.2"),
    "python.exe": PeInfo("Python", "Python", "Python Software Foundation", "python.exe", "3.12.7"),
    "node.exe": PeInfo("Node.js JavaScript Runtime", "Node.js", "Node.js", "node.exe", "20.18.0"),
    "curl.exe": PeInfo("The curl executable", "The curl executable", "curl, https://curl.se/", "curl.exe", "8.9.1"),
    "aws.exe": PeInfo("-", "-", "-", "-", "-"),
    "mpcmdrun.exe": PeInfo("Microsoft Malware Protection Command Line Utility", "Microsoft Malware Protection",
                           _MS, "MpCmdRun.exe", "4.18.24090.11"),
    "msmpeng.exe": PeInfo("Antimalware Service Executable", "Microsoft® Windows® Operating System", _MS,
                          "MsMpEng.exe", "4.18.24090.11"),
    "googleupdate.exe": PeInfo("Google Installer", "Google Update", "Google LLC", "GoogleUpdate.exe", "1.3.36.372"),
    "microsoftedgeupdate.exe": PeInfo("Microsoft Edge Update", "Microsoft Edge Update", _MS,
                                      "msedgeupdate.dll", "1.3.195.31"),
    "ccmexec.exe": PeInfo("CCM Executive Service", "System Center Configuration Manager", _MS, "CcmExec.exe",
                          "5.00.9128.1000"),
    "veeamagent.exe": PeInfo("Veeam Agent", "Veeam Agent for Microsoft Windows", "Veeam Software Group GmbH",
                             "VeeamAgent.exe", "6.2.0.121"),
    "csfalconservice.exe": PeInfo("CrowdStrike Falcon Sensor Service", "CrowdStrike Falcon Sensor",
                                  "CrowdStrike, Inc.", "CSFalconService.exe", "7.18.18710.0"),
    "sqlservr.exe": PeInfo("SQL Server Windows NT - 64 Bit", "Microsoft SQL Server", _MS, "SQLServr.exe",
                           "2022.0160.4135.04 ((SQL22_RTM_CU15).240830-0114)"),
    "7z.exe": PeInfo("7-Zip Console", "7-Zip", "Igor Pavlov", "7z.exe", "24.08"),
    "certutil.exe": PeInfo("CertUtil.exe", _WIN, _MS, "CertUtil.exe", _OS_VER),
    "notepad.exe": PeInfo("Notepad", _WIN, _MS, "NOTEPAD.EXE", _OS_VER),
}


def pe_info(image: str) -> PeInfo:
    name = image.rsplit("\\", 1)[-1].lower()
    return PE.get(name) or PeInfo("-", "-", "-", "-", "-")


BROWSERS = {
    "Edge": "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
    "Chrome": "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
}
IMAGES = {
    "explorer": "C:\\Windows\\explorer.exe",
    "userinit": f"{SYS32}\\userinit.exe",
    "winlogon": f"{SYS32}\\winlogon.exe",
    "svchost": f"{SYS32}\\svchost.exe",
    "services": f"{SYS32}\\services.exe",
    "lsass": f"{SYS32}\\lsass.exe",
    "cmd": f"{SYS32}\\cmd.exe",
    "conhost": f"{SYS32}\\conhost.exe",
    "powershell": f"{SYS32}\\WindowsPowerShell\\v1.0\\powershell.exe",
    "rundll32": f"{SYS32}\\rundll32.exe",
    "taskhostw": f"{SYS32}\\taskhostw.exe",
    "searchprotocolhost": f"{SYS32}\\SearchProtocolHost.exe",
    "compattelrunner": f"{SYS32}\\CompatTelRunner.exe",
    "mousocoreworker": f"{SYS32}\\MoUsoCoreWorker.exe",
    "mstsc": f"{SYS32}\\mstsc.exe",
    "mmc": f"{SYS32}\\mmc.exe",
    "net": f"{SYS32}\\net.exe",
    "net1": f"{SYS32}\\net1.exe",
    "whoami": f"{SYS32}\\whoami.exe",
    "ipconfig": f"{SYS32}\\ipconfig.exe",
    "gpupdate": f"{SYS32}\\gpupdate.exe",
    "sc": f"{SYS32}\\sc.exe",
    "vssadmin": f"{SYS32}\\vssadmin.exe",
    "wbadmin": f"{SYS32}\\wbadmin.exe",
    "bcdedit": f"{SYS32}\\bcdedit.exe",
    "schtasks": f"{SYS32}\\schtasks.exe",
    "notepad": f"{SYS32}\\notepad.exe",
    "w3wp": f"{SYS32}\\inetsrv\\w3wp.exe",
    "csc": "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe",
    "winword": f"{OFFICE_ROOT}\\WINWORD.EXE",
    "excel": f"{OFFICE_ROOT}\\EXCEL.EXE",
    "powerpnt": f"{OFFICE_ROOT}\\POWERPNT.EXE",
    "outlook": f"{OFFICE_ROOT}\\OUTLOOK.EXE",
    "acrobat": "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe",
    "mpcmdrun": "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
    "msmpeng": "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe",
    "googleupdate": "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe",
    "edgeupdate": "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe",
    "ccmexec": "C:\\Windows\\CCM\\CcmExec.exe",
    "veeam": "C:\\Program Files\\Veeam\\Endpoint Backup\\VeeamAgent.exe",
    "falcon": "C:\\Program Files\\CrowdStrike\\CSFalconService.exe",
    "sqlservr": "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe",
    "7z": "C:\\Program Files\\7-Zip\\7z.exe",
}


def user_home(sam: str) -> str:
    return f"C:\\Users\\{sam}"


def onedrive(sam: str) -> str:
    return f"C:\\Users\\{sam}\\OneDrive - Corp Example"


def teams(sam: str) -> str:
    return ("C:\\Program Files\\WindowsApps\\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\\ms-teams.exe")


def onedrive_exe(sam: str) -> str:
    return f"C:\\Users\\{sam}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe"


def vscode(sam: str) -> str:
    return f"C:\\Users\\{sam}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe"


GIT = "C:\\Program Files\\Git\\cmd\\git.exe"
PYTHON = "C:\\Program Files\\Python312\\python.exe"
NODE = "C:\\Program Files\\nodejs\\node.exe"
CURL = f"{SYS32}\\curl.exe"
AWSCLI = "C:\\Program Files\\Amazon\\AWSCLIV2\\aws.exe"
