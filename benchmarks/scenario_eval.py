"""Scenario evaluation: a simulated organisation, replayed live through ``autosoc run``, scored.

1. ``autosoc simulate`` writes N days of telemetry for M users with the five attack stories and
   their ground truth (``truth.json``) — or ``--scenario DIR`` reuses one.
2. The recorded files are replayed into a spool folder in event-time order at ``--rate``
   records/s (``autosoc.runtime.replay``, in a process of its own, as a log shipper would be),
   while the pipeline (the same ``Pipeline`` that ``autosoc run`` builds) tails the spool in
   this process, committing checkpoints.
3. Incidents are compared with the ground truth:

   * a story is *detected* when an incident holds a signal citing one of its events;
   * it is *in one incident* when every signal citing its events that reached an incident reached
     the same one (after merges);
   * compression = signals / incidents;
   * false incidents = incidents with no signal citing a story event, per 1,000 user-days;
   * latency = wall time from a story event being written to the spool to the commit of the
     checkpoint that first put a signal citing it into an incident (p50/p95 over story events
     with such signals);
   * events/s = events over the pipeline's busy time (polling, normalizing, detecting,
     correlating and committing; idle waits excluded).

Prints a readable table and, as its very last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from autosoc.runtime.pipeline import Pipeline  # noqa: E402
from autosoc.runtime.replay import Replayer, ReplayItem, drain, plan  # noqa: E402
from autosoc.schema import Incident, Signal  # noqa: E402
from autosoc.settings import load_settings  # noqa: E402
from autosoc.simulate import generate  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "sigma"
#: files of a scenario that are not telemetry
NOT_LOGS = ("truth.json", "scenario.json", "identities.csv", "README.txt")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Recorder:
    """What the pipeline and the replayer report while they run."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.written: dict[tuple[str, int], float] = {}  # (relative path, record) -> wall time written
        self.first_in_incident: dict[str, float] = {}  # signal id -> wall time of the commit
        self.signal_origins: dict[str, list[tuple[str, int]]] = {}
        self.lock = threading.Lock()

    def on_write(self, item: ReplayItem, at: float) -> None:
        rel = str(item.path.relative_to(self.source))
        with self.lock:
            if item.lines is None:
                self.written[(rel, -1)] = at
            else:
                for line in range(item.lines[0], item.lines[1] + 1):
                    self.written[(rel, line)] = at

    def on_checkpoint(self, seq: int, incidents: list[Incident], signals: list[Signal], spool: Path) -> None:
        now = time.time()
        for signal in signals:
            self.signal_origins[signal.signal_id] = [
                (_relative(o.path, spool), int(o.record or 0)) for o in signal.origins]
        for incident in incidents:
            for signal_id in incident.signal_ids:
                self.first_in_incident.setdefault(signal_id, now)

    def write_time(self, origin: tuple[str, int]) -> float | None:
        return self.written.get(origin) or self.written.get((origin[0], -1))


@functools.lru_cache(maxsize=100_000)
def _relative(path: str, spool: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(spool.resolve()))
    except ValueError:
        return path


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work or tempfile.mkdtemp(prefix="autosoc-eval-"))
    scenario = Path(args.scenario) if args.scenario else work / "scenario"
    timings: dict[str, float] = {}
    if not args.scenario:
        if scenario.exists():
            shutil.rmtree(scenario)
        started = time.perf_counter()
        generate(days=args.days, users=args.users, seed=args.seed, out=scenario, start=date.fromisoformat(args.start))
        timings["simulate_s"] = time.perf_counter() - started
    truth = json.loads((scenario / "truth.json").read_text())
    meta = json.loads((scenario / "scenario.json").read_text())
    spool = work / "spool"
    data_dir = work / "state"
    for path in (spool, data_dir):
        if path.exists():
            shutil.rmtree(path)
    spool.mkdir(parents=True)
    config = {
        "data_dir": str(data_dir),
        "sources": [{"paths": [str(spool)], "settle_seconds": 0.2}],
        "rules": [str(p) for p in args.rules],
        "enrich": {"identities": {"path": str(scenario / "identities.csv")}},
        "pipeline": {"checkpoint_seconds": args.checkpoint_seconds, "poll_seconds": 0.1,
                     "batch_size": args.batch_size, "front_process": args.front_process},
        # the organisation's VPN egress is where everybody appears to be: no travel from there
        "baselines": {"detectors": [{"type": "first_seen"}, {"type": "rare_time"}, {"type": "volume"},
                                    {"type": "peer_group"},
                                    {"type": "impossible_travel", "ignore_cidrs": meta["ip_plan"]["vpn_egress"]}]},
    }
    settings = load_settings(None, **config)
    started = time.perf_counter()
    items = plan(scenario, exclude=list(NOT_LOGS))
    timings["plan_s"] = time.perf_counter() - started
    records = sum(i.records for i in items)
    recorder = Recorder(scenario)
    pipeline = Pipeline(settings, on_checkpoint=lambda seq, inc, sig: recorder.on_checkpoint(seq, inc, sig, spool))
    # the replayer is another process, as a log shipper is: it does not share this one's core
    plan_file, times_file = work / "plan.pickle", work / "written.tsv"
    plan_file.write_bytes(pickle.dumps(items))
    pipeline.open()
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--replay-child", str(plan_file), str(scenario), str(spool),
                              str(args.rate), str(times_file)])
    drain(pipeline, lambda: child.poll() is not None)
    if child.returncode != 0:
        raise RuntimeError(f"the replayer failed with exit code {child.returncode}")
    with times_file.open() as handle:
        for line in handle:
            index, at = line.split("\t")
            recorder.on_write(items[int(index)], float(at))
    timings["replay_wall_s"] = time.perf_counter() - started
    stats = pipeline.stats
    incidents = pipeline.store.incidents(limit=1_000_000)
    pipeline.close()
    return _score(args, truth, meta, incidents, recorder, stats, records, timings)


def _score(args: argparse.Namespace, truth: dict[str, Any], meta: dict[str, Any], incidents: list[Incident],
           recorder: Recorder, stats: Any, records: int, timings: dict[str, float]) -> dict[str, Any]:
    survivors = {i.incident_id: i for i in incidents if i.status != "merged"}
    merged_into = {i.incident_id: i.merged_into for i in incidents if i.status == "merged"}

    def final(incident_id: str) -> str:
        seen = set()
        while incident_id in merged_into and incident_id not in seen:
            seen.add(incident_id)
            incident_id = merged_into[incident_id] or incident_id
        return incident_id

    incident_of_signal: dict[str, str] = {}
    for incident in survivors.values():
        for signal_id in incident.signal_ids:
            incident_of_signal[signal_id] = final(incident.incident_id)
    story_of_origin: dict[tuple[str, int], str] = {}
    for story in truth["stories"]:
        for origin in story["events"]:
            story_of_origin[(origin["path"], int(origin["record"]))] = story["id"]
    story_incidents: dict[str, set[str]] = defaultdict(set)
    story_latency: list[float] = []
    latency_of_story: dict[str, list[float]] = defaultdict(list)
    incident_has_story: set[str] = set()
    for signal_id, origins in recorder.signal_origins.items():
        stories = {story_of_origin[o] for o in origins if o in story_of_origin}
        incident_id = incident_of_signal.get(signal_id)
        if not stories or incident_id is None:
            continue
        incident_has_story.add(incident_id)
        for story_id in stories:
            story_incidents[story_id].add(incident_id)
        written = [t for o in origins if o in story_of_origin and (t := recorder.write_time(o)) is not None]
        committed = recorder.first_in_incident.get(signal_id)
        if written and committed is not None:
            story_latency.append(max(0.0, committed - max(written)))
            for story_id in stories:
                latency_of_story[story_id].append(story_latency[-1])
    rows = []
    for story in truth["stories"]:
        found = story_incidents.get(story["id"], set())
        rows.append((story["id"], story["type"], bool(found), len(found)))
    user_days = args.users * args.days
    false_incidents = [i for i in survivors if i not in incident_has_story]
    figures = {
        "stories_total": len(rows),
        "stories_detected": sum(1 for r in rows if r[2]),
        "stories_in_one_incident": sum(1 for r in rows if r[3] == 1),
        "signals": stats.signals,
        "incidents": len(survivors),
        "compression": round(stats.signals / len(survivors), 1) if survivors else None,
        "false_incidents": len(false_incidents),
        "false_incidents_per_1k_user_days": round(1000 * len(false_incidents) / user_days, 2),
        "latency_p50_s": _round(_percentile(story_latency, 0.5)),
        "latency_p95_s": _round(_percentile(story_latency, 0.95)),
        # per story: (signals timed, p50, max): where the tail comes from
        "latency_by_story": {story: [len(values), _round(_percentile(values, 0.5)), _round(max(values))]
                             for story, values in sorted(latency_of_story.items())},
        "events": stats.events,
        "events_per_s": round(stats.events_per_second, 1),
        "replay_rate": args.rate,
        "front_process": args.front_process,
        "steps": stats.steps,
        "checkpoints": stats.checkpoints,
        "phase_seconds": {k: round(v, 2) for k, v in sorted(stats.phases.items())},
        "records_replayed": records,
        "users": args.users,
        "days": args.days,
        "seed": args.seed,
        **{k: round(v, 2) for k, v in timings.items()},
    }
    _print_table(rows, figures, survivors, false_incidents)
    return figures


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _print_table(rows: list[tuple[str, str, bool, int]], figures: dict[str, Any], survivors: dict[str, Incident],
                 false_incidents: list[str]) -> None:
    print(f"{'story':<24} {'type':<6} {'detected':<9} incidents")
    for story_id, kind, detected, count in rows:
        print(f"{story_id:<24} {kind:<6} {'yes' if detected else 'NO':<9} {count}")
    print()
    for key, value in figures.items():
        print(f"{key:<36} {value}")
    if false_incidents:
        print("\nFalse incidents (no story event):")
        for incident_id in false_incidents[:15]:
            incident = survivors[incident_id]
            print(f"  {incident.severity:<8} {incident.risk:6.0f}  {incident.title}  ({incident.reason})")


def replay_child(plan_file: str, source: str, spool: str, rate: str, times_file: str) -> None:
    """The replayer process: writes the plan into the spool, and when each item was written."""
    items: list[ReplayItem] = pickle.loads(Path(plan_file).read_bytes())
    index = {id(item): i for i, item in enumerate(items)}
    with open(times_file, "w") as times:
        Replayer(Path(source), Path(spool), rate=float(rate),
                 on_write=lambda item, at: times.write(f"{index[id(item)]}\t{at:.6f}\n")).run(items)


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--replay-child":
        replay_child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2026-11-02", help="first simulated day")
    parser.add_argument("--rate", type=float, default=10000.0, help="replay rate, records/s (0: unthrottled)")
    parser.add_argument("--scenario", help="reuse a scenario folder instead of simulating one")
    parser.add_argument("--work", help="work folder (default: a new temp folder)")
    parser.add_argument("--rules", type=Path, nargs="+", default=[SHARED / "rules"])
    parser.add_argument("--batch-size", type=int, default=20000)
    parser.add_argument("--checkpoint-seconds", type=float, default=2.0)
    parser.add_argument("--front-process", action=argparse.BooleanOptionalAction, default=False,
                        help="read, normalize and enrich in a process of its own (pipeline.front_process)")
    args = parser.parse_args()
    figures = evaluate(args)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
