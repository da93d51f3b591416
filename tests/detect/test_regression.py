"""The SigmaHQ regression cases: each named rule must fire on its EVTX and on its JSON sample.

Rules are loaded the way a user would load them: the whole main, emerging-threats and
threat-hunting sets together (so Sigma filters and every logsource mapping are in play).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.loader import load_rules
from autosoc.ingest.files import read_files
from autosoc.normalize import normalize
from tests.conftest import REGRESSION, REPO, SIGMA

RULE_SETS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


def _cases() -> list[tuple[str, str, Path]]:
    if not REGRESSION.exists():
        return []
    cases = []
    for info in sorted(REGRESSION.rglob("info.yml")):
        meta = yaml.safe_load(info.read_text())
        if not meta.get("regression_tests_info"):
            continue  # a case whose test is commented out upstream (it has no EVTX/JSON sample)
        rule_id = meta["rule_metadata"][0]["id"]
        for kind in ("evtx", "json"):
            sample = next(info.parent.glob(f"*.{kind}"), None)
            assert sample is not None, f"{info.parent} has no .{kind} sample"
            cases.append((rule_id, kind, sample))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def engine(sigma_dir: Path) -> SigmaEngine:
    ruleset = load_rules([sigma_dir / name for name in RULE_SETS], cache_dir=REPO / ".autosoc-cache")
    return SigmaEngine(ruleset.rules)


def test_all_202_cases_are_collected(regression_dir: Path) -> None:
    assert len({rule_id for rule_id, _, _ in CASES}) == 202


@pytest.mark.parametrize(("rule_id", "kind", "sample"), CASES,
                         ids=[f"{s.parent.name}-{k}" for _, k, s in CASES])
def test_rule_fires_on_its_sample(engine: SigmaEngine, rule_id: str, kind: str, sample: Path) -> None:
    signals = []
    dead = []
    for raw in read_files([sample]):
        for batch in normalize(raw):
            dead += batch.dead_letters
            signals += engine.detect(batch)
    assert not dead, f"{sample}: {dead}"
    fired = {s.rule_id for s in signals}
    assert rule_id in fired, f"{rule_id} did not fire on {sample.name}; fired: {sorted(fired)}"
    hit = next(s for s in signals if s.rule_id == rule_id)
    assert hit.origins[0].path == str(sample) and hit.origins[0].record is not None
    assert hit.event_ids and len(hit.event_ids[0]) == 32


def test_sigma_dir_constant_points_at_shared_data() -> None:
    assert SIGMA.name == "sigma"


def test_the_samples_as_json_lines_give_the_same_signals_decoded_to_columns(
        engine: SigmaEngine, regression_dir: Path, tmp_path: Path) -> None:
    """Every JSON sample written as JSON lines, hunted through the reader's C decoder (raw columns
    straight from the bytes) and through orjson and the Python flattening: the same signals."""
    import orjson

    from autosoc.normalize import decode

    if not decode.NATIVE:
        pytest.skip("the C decoder (autosoc.normalize._decode) is not built")
    path = tmp_path / "samples.jsonl"
    with path.open("wb") as out:
        for _, kind, sample in CASES:
            if kind == "json":
                for raw in read_files([sample]):
                    out.writelines(orjson.dumps(record) + b"\n" for record in raw.records)

    def hunt(columnar: bool) -> tuple[list[dict[str, object]], int]:
        signals, decoded = [], 0
        for raw in read_files([path], batch_size=64, columnar=columnar):
            decoded += raw.columns is not None
            for batch in normalize(raw):
                signals += [s.as_dict() for s in engine.detect(batch)]
        return signals, decoded

    (columnar, decoded), (plain, _) = hunt(True), hunt(False)
    assert decoded, "the decoder declined every batch of the regression samples"
    assert len(columnar) >= 202 and columnar == plain  # each sample fires its rule at least
