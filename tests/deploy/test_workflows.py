"""The GitHub workflows pass actionlint; skaffold.yaml builds every image and deploys the chart per profile."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from certify_testkit.chart import ROOT

ACTIONLINT = ROOT / ".tools" / "node" / "node_modules" / "@tktco" / "node-actionlint"
WORKFLOWS = ROOT / ".github" / "workflows"
#: The chart's workloads, each an image built from the one Dockerfile.
IMAGES = ("proxy", "x402", "circular", "quote", "qr", "operator", "sandbox")


def _actionlint(*paths: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["node", str(Path(__file__).with_name("actionlint.cjs")), str(ACTIONLINT), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def _workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def test_both_workflows_pass_actionlint_and_a_broken_one_does_not(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.no_such_field }}\n      - uses: actions/checkout@v4\n        with: {nope: 1}\n"
    )
    findings = _actionlint(WORKFLOWS / "ci.yaml", WORKFLOWS / "deploy.yaml", broken)
    assert [f for f in findings if f["file"] != str(broken)] == []
    assert {f["kind"] for f in findings} >= {"expression", "action"}


def test_ci_lints_tests_on_postgres_and_redis_checks_the_chart_and_builds_images_without_pushing_prs() -> None:
    jobs = _workflow("ci.yaml")["jobs"]
    assert {"lint", "test", "chart", "images"} <= set(jobs)
    assert {"postgres", "redis"} <= set(jobs["test"]["services"])
    assert any("make test" in step.get("run", "") for step in jobs["test"]["steps"])
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in jobs["test"]["steps"])
    assert any("make test-deploy" in step.get("run", "") for step in jobs["chart"]["steps"])
    build = next(step for step in jobs["images"]["steps"] if step.get("uses", "").startswith("docker/build-push"))
    assert build["with"]["push"] == "${{ github.event_name != 'pull_request' }}"
    assert build["with"]["build-args"] == "SERVICE=${{ matrix.service }}"
    assert tuple(jobs["images"]["strategy"]["matrix"]["service"]) == IMAGES


def test_deploy_sends_main_to_staging_and_tags_to_production_then_smoke_tests() -> None:
    workflow = _workflow("deploy.yaml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"] == {"branches": ["main"], "tags": ["v*"]}
    deploy = workflow["jobs"]["deploy"]
    assert deploy["environment"]["name"] == "${{ startsWith(github.ref, 'refs/tags/') && 'production' || 'staging' }}"
    runs = "\n".join(step.get("run", "") for step in deploy["steps"])
    assert "k8s/values/$TARGET.yaml" in runs
    assert "helm upgrade --install" in runs
    assert runs.strip().endswith("python scripts/smoke.py")


def test_skaffold_builds_one_artifact_per_image_and_deploys_the_chart_per_profile() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"].startswith("skaffold/v4beta")
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == {f"certify-{name}" for name in IMAGES}
    present = {path.parent.name for path in ROOT.glob("services/*/pyproject.toml")}
    assert present <= set(IMAGES), "every service has an image"
    for name in IMAGES:
        artifact = artifacts[f"certify-{name}"]
        assert artifact["docker"] == {"dockerfile": "Dockerfile", "buildArgs": {"SERVICE": name}}
    release = config["deploy"]["helm"]["releases"][0]
    assert release["chartPath"] == "k8s/certify"
    assert release["setValueTemplates"] == {
        f"image.overrides.{name}": f"{{{{.IMAGE_FULLY_QUALIFIED_certify_{name}}}}}" for name in IMAGES
    }
    profiles = {p["name"]: p for p in config["profiles"]}
    assert release["valuesFiles"] == ["k8s/values/dev.yaml"]
    assert profiles["dev"]["portForward"][0]["resourceName"] == "certify-proxy"
    templates = "/deploy/helm/releases/0/setValueTemplates"
    for name in ("staging", "production"):
        assert profiles[name]["patches"] == [
            {"op": "replace", "path": "/deploy/helm/releases/0/valuesFiles", "value": [f"k8s/values/{name}.yaml"]},
            {"op": "add", "path": f"{templates}/x402.payTo", "value": "{{.X402_PAY_TO}}"},
            {"op": "add", "path": f"{templates}/proxy.ingress.host", "value": "{{.INGRESS_HOST}}"},
        ]
    for values_file in ("dev", "staging", "production"):
        assert (ROOT / "k8s" / "values" / f"{values_file}.yaml").exists()
