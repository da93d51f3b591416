"""The README's examples are real: its config file loads as settings."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from autosoc.settings import load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_config_example_is_valid(tmp_path: Path) -> None:
    block = re.search(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    assert block, "README has no yaml config example"
    config = tmp_path / "autosoc.yml"
    config.write_text(block.group(1))
    settings = load_settings(config)
    assert settings.sources and settings.rules and settings.state_url is not None
    assert "secret" not in repr(settings) and "secret" not in str(settings.model_dump())
    assert yaml.safe_load(block.group(1))["baselines"]["detectors"][1]["type"] == "impossible_travel"
