"""Policy scan (checkov) of the rendered manifests, the Dockerfile and the workflows: no failed check.

Deliberate exceptions are written where they apply (``checkov.io/skipN`` annotations in the chart, each with its
reason) and this test requires the reason. A deliberately careless manifest scanned in the same run must fail,
so the scan is known to bite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from certify_testkit.chart import ENVIRONMENTS, ROOT

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"

CARELESS = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "careless", "namespace": "certify"},
    "spec": {
        "selector": {"matchLabels": {"app": "careless"}},
        "template": {
            "metadata": {"labels": {"app": "careless"}},
            "spec": {"containers": [{"name": "careless", "image": "careless:latest"}]},
        },
    },
}


def _scan(folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(folder),
            "--framework",
            "kubernetes",
            "dockerfile",
            "github_actions",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        # No API key and no network: checkov's bundled policies only.
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def test_the_policy_scan_finds_no_failed_check(manifests: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    for environment in ENVIRONMENTS:
        (tmp_path / "k8s").mkdir(exist_ok=True)
        (tmp_path / "k8s" / f"{environment}.yaml").write_text(yaml.safe_dump_all(manifests[environment]))
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    shutil.copytree(ROOT / ".github" / "workflows", tmp_path / ".github" / "workflows")
    (tmp_path / "careless").mkdir()
    (tmp_path / "careless" / "careless.yaml").write_text(yaml.safe_dump(CARELESS))

    reports = _scan(tmp_path)
    frameworks = {report["check_type"]: report["results"] for report in reports}
    passed = {report["check_type"]: report["summary"]["passed"] for report in reports}
    assert set(frameworks) == {"kubernetes", "dockerfile", "github_actions"}
    failed = [check for results in frameworks.values() for check in results.get("failed_checks", [])]
    careless = [check for check in failed if check["file_path"].startswith("/careless/")]
    ours = [f"{c['check_id']} {c['file_path']} {c['resource']}" for c in failed if c not in careless]
    assert not ours, ours
    assert {"CKV_K8S_14", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_28"} <= {c["check_id"] for c in careless}
    assert all(count > 0 for count in passed.values()), passed
    skipped_checks = [check for results in frameworks.values() for check in results.get("skipped_checks", [])]
    assert {check["check_id"] for check in skipped_checks} == {"CKV_K8S_35", "CKV_K8S_38", "CKV_K8S_40", "CKV_K8S_43"}
    for skipped in skipped_checks:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 20, skipped["check_id"]
