"""Fixtures of the deployment checks: the chart rendered once per environment."""

from __future__ import annotations

from typing import Any

import pytest

from certify_testkit.chart import ENVIRONMENTS, environment_values, render


@pytest.fixture(scope="session")
def manifests() -> dict[str, list[dict[str, Any]]]:
    """The rendered manifests of dev, staging and production."""
    return {environment: render(environment_values(environment)) for environment in ENVIRONMENTS}
