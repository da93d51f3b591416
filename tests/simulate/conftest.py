"""A small scenario generated once per test session (3 days, 15 users)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from autosoc.simulate import Summary, generate

START = date(2026, 11, 2)


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    return generate(days=3, users=15, seed=11, out=tmp_path_factory.mktemp("sim") / "out", start=START)


@pytest.fixture(scope="session")
def scenario_dir(scenario: Summary) -> Path:
    return scenario.out
