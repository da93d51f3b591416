"""The ground truth (``truth.json``), the identity inventory (``identities.csv``) and ``scenario.json``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from autosoc.simulate import ipplan
from autosoc.simulate.clock import iso_micro
from autosoc.simulate.org import DOMAIN, NETBIOS, OFFICES, TENANT_ID, Organisation
from autosoc.simulate.stories.base import Story
from autosoc.simulate.writers import Placed

SOURCES = {"windows": "jsonl", "entra": "jsonl", "zeek": "jsonl", "aws": "cloudtrail"}


def truth_document(stories: list[Story], placed: list[Placed]) -> dict[str, Any]:
    by_story: dict[str, list[Placed]] = {}
    for p in placed:
        by_story.setdefault(p.story, []).append(p)
    out = []
    for story in stories:
        events = sorted(by_story.get(story.id, []), key=lambda p: (p.us, p.path, p.record))
        out.append({
            "id": story.id,
            "type": story.type,
            "title": story.title,
            "start": iso_micro(story.start),
            "end": iso_micro(story.end),
            "entities": story.entities,
            "expected_signals": story.expected,
            "details": story.details,
            "event_count": len(events),
            "events": [{"path": p.path, "record": p.record, "source": SOURCES[p.path.split("/", 1)[0]],
                        "time": iso_micro(p.us), "step": p.step} for p in events],
        })
    return {"format": "autosoc-simulate-truth/1",
            "record_numbering": "record = 1-based line for JSON lines; 1-based index in Records for CloudTrail files",
            "stories": out}


def identities_csv(org: Organisation) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["user", "upn", "display_name", "department", "title", "is_admin", "manager", "country", "office",
                     "time_zone", "object_id", "sid", "workstation"])
    for u in org.users:
        writer.writerow([u.sam, u.upn, u.display, u.department, u.title, str(u.is_admin).lower(), u.manager, u.country,
                         u.office, u.tz, u.object_id, u.sid, org.by_host[u.host].fqdn])
    return buf.getvalue()


def scenario_document(org: Organisation, counts: dict[str, int], files: int, stories: list[Story]) -> dict[str, Any]:
    return {
        "format": "autosoc-simulate/1",
        "parameters": {"seed": org.seed, "start": org.start.isoformat(), "days": org.days, "users": len(org.users)},
        "organisation": {
            "domain": DOMAIN, "netbios": NETBIOS, "entra_tenant_id": TENANT_ID,
            "offices": {k: {"city": p.city, "country": p.country, "time_zone": p.tz} for k, p in OFFICES.items()},
            "servers": {h.name: {"fqdn": h.fqdn, "ip": h.ip, "role": h.role} for h in org.servers()},
            "aws_accounts": {a.id: {"alias": a.alias, "regions": list(a.regions)} for a in org.aws},
            "admins": [u.upn for u in org.admins()],
            "travellers": [{"upn": u.upn, "to": f"{u.trip.dest.city}, {u.trip.dest.country}",
                            "depart": u.trip.depart.isoformat(), "back": u.trip.back.isoformat(),
                            "flight_hours": u.trip.flight_hours} for u in org.users if u.trip],
        },
        "ip_plan": ipplan.plan_summary(),
        "counts": {**dict(sorted(counts.items())), "total": sum(counts.values()), "files": files},
        "stories": [{"id": s.id, "type": s.type, "title": s.title} for s in stories],
    }


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
