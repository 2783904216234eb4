"""The operations files (alerts/, grafana/, RUNBOOK.md) and the binaries that check them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from certify_testkit.paths import repo_root

ROOT = repo_root()
RULES = ROOT / "alerts" / "certify.rules.yaml"


def tool(name: str) -> str:
    """Path of a system tool (promtool, amtool); a missing tool fails in CI and skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/install-system.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of alerts/*.rules.yaml."""
    rules: list[dict[str, Any]] = []
    for path in sorted((ROOT / "alerts").glob("*.rules.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
