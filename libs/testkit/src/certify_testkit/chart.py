"""The Helm chart rendered offline, as tests read it (Helm's Go SDK through helm-python-sdk: no helm binary)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from certify_testkit.paths import repo_root

ROOT = repo_root()
CHART = ROOT / "k8s" / "certify"
ENVIRONMENTS = ("dev", "staging", "production")
RELEASE = "certify"
NAMESPACE = "certify"
KUBERNETES_VERSION = "1.32.0"
#: What DEPLOYMENT.md tells an operator to pass with --set outside development.
SET_VALUES: dict[str, Any] = {"x402": {"payTo": "0x1111111111111111111111111111111111111111"}}


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, maps merged key by key as Helm merges values files."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def environment_values(environment: str) -> dict[str, Any]:
    """The values file of an environment plus the --set values DEPLOYMENT.md asks for."""
    values = yaml.safe_load((ROOT / "k8s" / "values" / f"{environment}.yaml").read_text()) or {}
    return values if environment == "dev" else merged(values, SET_VALUES)


def render(values: dict[str, Any], chart: Path | None = None) -> list[dict[str, Any]]:
    """Every manifest the chart renders with these values (hooks included), as parsed documents."""
    with helm.Chart.load(str(chart or CHART)) as loaded:
        rendered = loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    documents: list[dict[str, Any]] = []
    for text in rendered.values():
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return documents


def of_kind(documents: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    """The documents of one kind."""
    return (doc for doc in documents if doc["kind"] == kind)


def named(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one document of that kind and name."""
    found = [doc for doc in of_kind(documents, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_specs(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``Kind/name``, pod spec) of every Deployment and Job."""
    for doc in documents:
        if doc["kind"] in {"Deployment", "Job"}:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def component(document: dict[str, Any]) -> str:
    """The workload a manifest belongs to (its ``app.kubernetes.io/component`` label)."""
    return str(document["metadata"]["labels"]["app.kubernetes.io/component"])
