"""Alert rules pass promtool, every alert has a unit test that fires and one that stays silent, and
Alertmanager routes critical alerts to PagerDuty and warnings to Slack."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import alert_rules, tool

ALERTMANAGER = "alerts/alertmanager.yaml"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=root, capture_output=True, text=True, timeout=120, check=False)


def test_the_rule_files_pass_promtool_check(root: Path) -> None:
    files = [str(path.relative_to(root)) for path in sorted((root / "alerts").glob("*.rules.yaml"))]
    result = run(root, tool("promtool"), "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_pass(root: Path) -> None:
    files = [str(path.relative_to(root)) for path in sorted((root / "alerts" / "tests").glob("*.yaml"))]
    assert files
    result = run(root, tool("promtool"), "test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_silent(root: Path) -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in sorted((root / "alerts" / "tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: f"{rule['alert']}-{rule['labels']['severity']}")
def test_every_alert_has_a_severity_summary_description_and_runbook_link(rule: dict[str, object]) -> None:
    labels, annotations = rule["labels"], rule["annotations"]
    assert isinstance(labels, dict)
    assert isinstance(annotations, dict)
    assert labels["severity"] in {"critical", "warning"}
    assert annotations["summary"]
    assert annotations["description"]
    assert re.fullmatch(r"https://certify\.dev/runbook#[a-z0-9-]+", str(annotations["runbook_url"]))
    assert str(annotations["runbook_url"]).endswith("#" + str(rule["alert"]).lower())


def test_the_alertmanager_config_passes_amtool(root: Path) -> None:
    result = run(root, tool("amtool"), "check-config", ALERTMANAGER)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=CirxWalletBalanceLow"], "pagerduty-critical"),
        (["severity=warning", "alertname=CirxWalletBalanceLow"], "slack-warnings"),
        (["severity=warning", "alertname=DeadLettersPresent", "kind=certify"], "slack-warnings"),
        (["alertname=Unlabelled"], "slack-warnings"),
    ],
)
def test_critical_alerts_page_and_warnings_go_to_slack(root: Path, labels: list[str], receiver: str) -> None:
    result = run(
        root,
        tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_critical_alert_inhibits_the_warning_of_the_same_name_and_secrets_come_from_files(root: Path) -> None:
    config = yaml.safe_load((root / ALERTMANAGER).read_text())
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["alertname", "namespace"],
        }
    ]
    text = (root / ALERTMANAGER).read_text()
    assert "slack_api_url_file:" in text
    assert "routing_key_file:" in text
    assert not re.search(r"hooks\.slack\.com|routing_key:\s", text), "secrets are read from files, never inline"
