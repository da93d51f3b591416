"""``autosoc simulate``: a synthetic organisation's multi-source telemetry with injected attack stories.

:func:`generate` writes Windows (Sysmon/Security/System, evtx-JSON), Entra ID (Graph signIn and
directoryAudit), AWS CloudTrail and Zeek conn.log files for ``users`` people over ``days`` days,
five attack stories (a-e) and ``truth.json`` saying where every attack record is.
"""

from autosoc.simulate.plan import Summary, generate

__all__ = ["Summary", "generate"]
