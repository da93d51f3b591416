"""The IP plan: which public ranges stand for which ISP and country.

Every range was chosen so that the offline GeoIP data in ``geoip2fast`` (country and ASN) agrees
with the role it plays: home broadband in the user's country, a cloud provider for the VPN and
CI runners, and attacker infrastructure on other ISPs and countries.  ``tests/simulate`` checks
each pool against ``geoip2fast``.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pool:
    """Public addresses of one ISP in one country (``asn`` is the GeoIP ASN name, for the README)."""

    name: str
    country: str
    asn: str
    cidrs: tuple[str, ...]

    def pick(self, rng: random.Random) -> str:
        net = ipaddress.IPv4Network(self.cidrs[rng.randrange(len(self.cidrs))])
        # skip network/broadcast and the first few (routers)
        return str(net.network_address + rng.randrange(4, max(5, net.num_addresses - 2)))


# residential broadband, per country (home working and travel hotels)
HOME_ISPS: dict[str, tuple[Pool, ...]] = {
    "US": (Pool("comcast", "US", "COMCAST-7922", ("73.160.0.0/14", "98.207.0.0/17", "24.5.0.0/19")),),
    "GB": (Pool("bt", "GB", "British Telecommunications PLC", ("86.128.0.0/14",)),
           Pool("talktalk", "GB", "TalkTalk", ("2.96.0.0/14",))),
    "DE": (Pool("vodafone-de", "DE", "Vodafone GmbH", ("91.64.0.0/14",)),
           Pool("telekom", "DE", "Deutsche Telekom AG", ("93.192.0.0/12",))),
    "FR": (Pool("orange", "FR", "Orange", ("90.100.0.0/14", "86.192.0.0/11")),),
    "ES": (Pool("telefonica", "ES", "Telefonica De Espana S.a.u.", ("83.32.0.0/11",)),),
    "JP": (Pool("softbank", "JP", "SoftBank Corp.", ("126.0.0.0/12",)),),
}

# office internet egress (NAT), one small block per office
OFFICE_EGRESS = {
    "NYC": Pool("office-nyc", "US", "COMCAST-7922", ("76.102.4.0/29",)),
    "LON": Pool("office-lon", "GB", "Andrews & Arnold Ltd", ("81.2.70.0/29",)),
    "BER": Pool("office-ber", "DE", "Deutsche Telekom AG", ("84.130.0.0/29",)),
}
#: the corporate VPN concentrators (in AWS us-east-1): list this range as VPN in the pipeline config
VPN_EGRESS = Pool("corp-vpn", "US", "AMAZON-AES", ("34.201.200.0/28",))
#: the public address of the web server (behind the perimeter firewall)
WEB_PUBLIC = "76.102.4.10"
#: GitHub-hosted CI runners (Azure US) where the CI access key is normally used
CI_RUNNERS = Pool("gh-runners", "US", "MICROSOFT-CORP-MSN-AS-BLOCK", ("20.42.0.0/18",))

# attacker infrastructure (the stories)
SPRAY_NG = Pool("mtn-ng", "NG", "MTN NIGERIA Communication limited", ("197.210.0.0/16",))
MFA_FAR = {
    "US": Pool("vnpt-vn", "VN", "VNPT Corp", ("113.160.0.0/11",)),
    "GB": Pool("telkom-id", "ID", "PT Telekomunikasi Indonesia", ("36.64.0.0/15",)),
    "DE": Pool("claro-br", "BR", "Claro NXT Telecomunicacoes Ltda", ("177.32.0.0/15",)),
}
KEY_ABUSE = Pool("digitalocean-in", "IN", "DIGITALOCEAN-ASN", ("139.59.0.0/18",))
C2_NET = Pool("greenfloid-ru", "RU", "Green Floid LLC", ("5.188.10.0/24",))
STAGER = Pool("vultr-us", "US", "AS-CHOOPA", ("45.76.0.0/20",))

# internet services benign traffic goes to: (name, dns names, /24 or wider ranges, port)
SERVICES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], int], ...] = (
    ("microsoft365", ("outlook.office365.com", "teams.microsoft.com", "login.microsoftonline.com",
                      "graph.microsoft.com", "substrate.office.com"),
     ("52.96.0.0/16", "52.112.0.0/16", "13.107.42.0/24", "20.190.128.0/18"), 443),
    ("onedrive", ("contoso-my.sharepoint.com", "oneclient.sfx.ms"), ("13.107.136.0/24", "52.104.0.0/16"), 443),
    ("google", ("www.google.com", "fonts.gstatic.com", "www.gstatic.com", "accounts.google.com"),
     ("142.250.0.0/16", "172.217.0.0/16"), 443),
    ("cloudflare", ("cdnjs.cloudflare.com", "www.cloudflare.com"), ("104.16.0.0/14",), 443),
    ("fastly", ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org"), ("151.101.0.0/16",), 443),
    ("github", ("github.com", "api.github.com", "objects.githubusercontent.com"), ("140.82.112.0/20",), 443),
    ("aws", ("console.aws.amazon.com", "s3.amazonaws.com", "sts.amazonaws.com", "ec2.us-east-1.amazonaws.com"),
     ("52.94.0.0/22", "52.216.0.0/18", "3.5.0.0/19"), 443),
    ("slack", ("app.slack.com", "wss-primary.slack.com"), ("3.224.0.0/14",), 443),
    ("windowsupdate", ("download.windowsupdate.com", "fe3cr.delivery.mp.microsoft.com",
                       "settings-win.data.microsoft.com"), ("13.107.4.0/24", "20.42.64.0/20"), 443),
    ("akamai", ("www.adobe.com", "acroipm2.adobe.com"), ("23.40.0.0/20",), 443),
)
#: the Internet DNS resolvers the domain controllers forward to
DNS_FORWARDERS = ("8.8.8.8", "8.8.4.4")

#: internal address plan
SERVER_NET = "10.20.0"
OFFICE_LAN = {"NYC": "10.10", "LON": "10.11", "BER": "10.12"}


def all_pools() -> list[Pool]:
    pools = [p for group in HOME_ISPS.values() for p in group]
    pools += [*OFFICE_EGRESS.values(), VPN_EGRESS, CI_RUNNERS, SPRAY_NG, *MFA_FAR.values(), KEY_ABUSE, C2_NET, STAGER]
    return pools


def plan_summary() -> dict[str, object]:
    """The IP plan as written to ``scenario.json``."""
    return {
        "vpn_egress": list(VPN_EGRESS.cidrs),
        "office_egress": {k: list(v.cidrs) for k, v in OFFICE_EGRESS.items()},
        "web_public": WEB_PUBLIC,
        "ci_runners": list(CI_RUNNERS.cidrs),
        "home_isps": {c: [{"asn": p.asn, "cidrs": list(p.cidrs)} for p in ps] for c, ps in HOME_ISPS.items()},
        "internal": {"servers": f"{SERVER_NET}.0/24",
                     "office_lans": {k: f"{v}.0.0/16" for k, v in OFFICE_LAN.items()}},
        "dns_forwarders": list(DNS_FORWARDERS),
        "services": {name: list(nets) for name, _, nets, _ in SERVICES},
    }
