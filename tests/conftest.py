"""Shared fixtures: where the third-party data in ../shared/data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AUTOSOC_SHARED_DATA", REPO.parent / "shared" / "data"))
SIGMA = SHARED_DATA / "sigma"
REGRESSION = SIGMA / "regression_data"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"third-party data missing: {path} (clone with ../shared/data beside the repo "
            "or set AUTOSOC_SHARED_DATA)"
        )
    return path


@pytest.fixture(scope="session")
def sigma_dir() -> Path:
    return _need(SIGMA)


@pytest.fixture(scope="session")
def regression_dir() -> Path:
    return _need(REGRESSION)


@pytest.fixture(scope="session")
def sample_evtx(regression_dir: Path) -> Path:
    """A real Sysmon EVTX file from the SigmaHQ regression samples."""
    return sorted(regression_dir.rglob("*.evtx"))[0]


@pytest.fixture(scope="session")
def sample_json(regression_dir: Path) -> Path:
    """The same events as ``sample_evtx`` in the evtx-JSON shape."""
    return sorted(regression_dir.rglob("*.json"))[0]
