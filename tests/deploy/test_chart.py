"""The Helm chart renders for every environment, validates strictly for Kubernetes 1.32 and lints clean.

Rendering uses Helm's own Go SDK (helm-python-sdk); validation uses kubernetes-validate's bundled 1.32 schemas,
custom resources are checked against their CustomResourceDefinition's openAPIV3Schema.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from certify_testkit.chart import (
    CHART,
    ENVIRONMENTS,
    KUBERNETES_VERSION,
    ROOT,
    environment_values,
    merged,
    named,
    render,
)

#: Kinds of the prometheus-operator, whose CRDs the cluster brings; checked by their own test below.
PROMETHEUS_OPERATOR = "monitoring.coreos.com/v1"


def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → openAPIV3Schema, for every CRD the chart installs."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((CHART / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                api_version = f"{spec['group']}/{version['name']}"
                schemas[(api_version, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas


def _validate_custom(document: dict[str, Any], schemas: dict[tuple[str, str], dict[str, Any]]) -> None:
    schema = schemas[(document["apiVersion"], document["kind"])]
    body = {key: value for key, value in document.items() if key not in {"apiVersion", "kind", "metadata"}}
    jsonschema.validate(body, {**schema, "properties": {**schema.get("properties", {})}})


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_rendered_manifest_passes_kubernetes_validate_strict(
    environment: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    documents = manifests[environment]
    assert documents
    for document in documents:
        if document["apiVersion"] == PROMETHEUS_OPERATOR:
            continue
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_helm_lint_is_clean_for_every_environment(environment: str) -> None:
    report = helm.lint(str(CHART), environment_values(environment), strict=True, kube_version=f"v{KUBERNETES_VERSION}")
    findings = [message for message in report["messages"] if message["severity"] >= 2]
    # "icon is recommended" (severity 1, info) is the only remark: the chart has no icon to point at.
    assert not findings, report
    assert not report["errors"], report


def test_every_crd_passes_kubernetes_validate_strict() -> None:
    crds = [doc for path in (CHART / "crds").glob("*.yaml") for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert {crd["spec"]["names"]["kind"] for crd in crds} >= {"KopfPeering", "ClusterKopfPeering"}
    for crd in crds:
        kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)


def test_sample_custom_resources_validate_against_their_crd() -> None:
    schemas = _crds()
    samples = [
        doc
        for path in sorted((ROOT / "k8s" / "samples").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]
    samples = [doc for doc in samples if doc]
    assert samples, "k8s/samples holds at least one custom resource"
    for sample in samples:
        _validate_custom(sample, schemas)


def test_a_custom_resource_that_breaks_its_schema_is_refused() -> None:
    bad = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "x"}, "status": "not a map"}
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(bad, _crds())


def test_a_manifest_with_an_unknown_field_fails_strict_validation(manifests: dict[str, list[dict[str, Any]]]) -> None:
    deployment = named(manifests["production"], "Deployment", "certify-proxy")
    broken = merged(deployment, {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "imagee": "x"}]}}}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _chart_with_samples(tmp_path: Path) -> Path:
    """A copy of the chart whose alert and dashboard folders hold one sample each."""
    chart = tmp_path / "certify"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("files"))
    (chart / "files" / "alerts").mkdir(parents=True)
    (chart / "files" / "dashboards").mkdir(parents=True)
    rule = {
        "groups": [
            {
                "name": "certify-sample",
                "rules": [
                    {
                        "alert": "CertifySample",
                        "expr": "certify_cirx_wallet_balance < 100",
                        "for": "5m",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "balance {{ $value }} CIRX"},
                    }
                ],
            }
        ]
    }
    (chart / "files" / "alerts" / "sample.yaml").write_text(yaml.safe_dump(rule))
    (chart / "files" / "dashboards" / "sample.json").write_text('{"title": "certify sample", "panels": []}')
    return chart


def test_rules_and_dashboards_ship_from_the_repository_folders_when_switched_on(tmp_path: Path) -> None:
    values = merged(
        environment_values("production"),
        {"metrics": {"prometheusRule": {"enabled": True}, "grafanaDashboards": {"enabled": True}}},
    )
    documents = render(values, _chart_with_samples(tmp_path))
    rule = named(documents, "PrometheusRule", "certify-alerts")
    assert rule["spec"]["groups"][0]["rules"][0]["annotations"]["summary"] == "balance {{ $value }} CIRX"
    dashboards = named(documents, "ConfigMap", "certify-dashboards")
    assert dashboards["data"] == {"sample.json": '{"title": "certify sample", "panels": []}'}
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_monitoring_objects_are_absent_when_switched_off() -> None:
    values = merged(
        environment_values("production"),
        {"metrics": {k: {"enabled": False} for k in ("serviceMonitor", "prometheusRule", "grafanaDashboards")}},
    )
    kinds = {doc["kind"] for doc in render(values)}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}


def test_the_chart_reads_alerts_and_dashboards_through_links_to_the_repository_folders() -> None:
    assert (CHART / "files" / "alerts").resolve() == (ROOT / "alerts").resolve()
    assert (CHART / "files" / "dashboards").resolve() == (ROOT / "grafana" / "dashboards").resolve()


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_service_monitors_scrape_metrics_of_every_workload(
    environment: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    monitors = [doc for doc in manifests[environment] if doc["kind"] == "ServiceMonitor"]
    assert {doc["metadata"]["name"] for doc in monitors} == {
        f"certify-{name}" for name in ("proxy", "x402", "circular", "quote", "qr", "operator")
    }
    for monitor in monitors:
        assert monitor["apiVersion"] == PROMETHEUS_OPERATOR
        assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_too_many_database_connections_refuse_to_render() -> None:
    values = merged(environment_values("production"), {"proxy": {"autoscaling": {"maxReplicas": 30}}})
    with pytest.raises(helm.HelmError, match=r"exceed database\.maxConnections"):
        render(values)


def test_an_unpinned_image_tag_refuses_to_render() -> None:
    with pytest.raises(helm.HelmError, match=r"image\.tag must pin a version"):
        render(merged(environment_values("production"), {"image": {"tag": "latest"}}))


def test_outside_development_the_payment_address_is_required() -> None:
    values = environment_values("staging")
    values["x402"].pop("payTo")
    with pytest.raises(helm.HelmError, match=r"x402\.payTo"):
        render(values)


def test_behind_pgbouncer_migrations_need_a_direct_database_url() -> None:
    behind = merged(environment_values("production"), {"proxy": {"database": {"pgbouncer": True}}})
    with pytest.raises(helm.HelmError, match=r"migrations\.databaseUrlKey"):
        render(behind)
    documents = render(merged(behind, {"migrations": {"databaseUrlKey": "MIGRATION_DATABASE_URL"}}))
    job = named(documents, "Job", "certify-migrate")
    (variable,) = [
        env for env in job["spec"]["template"]["spec"]["containers"][0]["env"] if env["name"] == "DATABASE_URL"
    ]
    assert variable["valueFrom"]["secretKeyRef"]["key"] == "MIGRATION_DATABASE_URL"
