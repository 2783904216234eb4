"""The rules of issue 11, read from the rendered manifests of every environment."""

from __future__ import annotations

from typing import Any

import pytest

from certify_proxy.app import create_app
from certify_testkit.chart import (
    ENVIRONMENTS,
    ROOT,
    component,
    environment_values,
    merged,
    named,
    of_kind,
    pod_specs,
    render,
)

Manifests = dict[str, list[dict[str, Any]]]
MCP_SERVERS = ("x402", "circular", "quote", "qr")


def _secret_env(documents: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Variable name → the components whose pods read it from a Secret."""
    readers: dict[str, set[str]] = {}
    for doc in documents:
        if doc["kind"] not in {"Deployment", "Job"}:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                if "secretKeyRef" in variable.get("valueFrom", {}):
                    readers.setdefault(variable["name"], set()).add(component(doc))
    return readers


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_secrets_are_never_rendered_and_each_reaches_only_its_workload(environment: str, manifests: Manifests) -> None:
    documents = manifests[environment]
    assert not list(of_kind(documents, "Secret"))
    readers = _secret_env(documents)
    for name, components in readers.items():
        if name.startswith("CIRCULAR_CEP_"):
            assert components == {"circular"}, name
        if name == "X402_FACILITATOR_AUTH_HEADER":
            assert components == {"x402"}
        if name == "DATABASE_URL":
            assert components == {"proxy", "migrate"}
        if name == "PROXY_ADMIN_KEY":
            assert components == {"operator"}
    assert readers["DATABASE_URL"] == {"proxy", "migrate"}
    assert readers["PROXY_ADMIN_KEY"] == {"operator"}


@pytest.mark.parametrize(("environment", "key"), [("staging", "TESTNET"), ("production", "MAINNET")])
def test_the_cirx_key_of_the_environments_network_reaches_only_circular(
    environment: str, key: str, manifests: Manifests
) -> None:
    readers = _secret_env(manifests[environment])
    assert readers[f"CIRCULAR_CEP_{key}_PRIVATE_KEY"] == {"circular"}
    other = "MAINNET" if key == "TESTNET" else "TESTNET"
    assert f"CIRCULAR_CEP_{other}_PRIVATE_KEY" not in readers


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_the_ingress_publishes_the_public_api_and_nothing_else(environment: str, manifests: Manifests) -> None:
    ingress = named(manifests[environment], "Ingress", "certify-proxy")
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert {path["backend"]["service"]["name"] for path in paths} == {"certify-proxy"}

    def published(url: str) -> bool:
        for path in paths:
            prefix = path["path"]
            if path["pathType"] == "Exact" and url == prefix:
                return True
            if path["pathType"] == "Prefix" and (url == prefix or url.startswith(prefix.rstrip("/") + "/")):
                return True
        return False

    openapi = create_app().openapi()["paths"]
    internal = ("/v1/admin", "/healthz", "/readyz", "/health", "/metrics", "/mcp")
    public = [path for path in openapi if not path.startswith(internal)]
    for path in public:
        assert published(path.replace("{request_id}", "r1")), f"{path} is not published"
    for path in ("/v1/admin/dead-letters", "/v1/admin/jobs/stuck", "/metrics", "/mcp", "/healthz", "/readyz"):
        assert not published(path), f"{path} must not be reachable from outside"
    assert published("/pay-assets/page.js")
    assert published("/docs")
    assert published("/openapi.json")
    assert ingress["spec"]["tls"] == [
        {"hosts": [ingress["spec"]["rules"][0]["host"]], "secretName": ingress["spec"]["tls"][0]["secretName"]}
    ]


@pytest.mark.parametrize(("environment", "minimum"), [("staging", 2), ("production", 3)])
def test_the_proxy_scales_with_an_hpa(environment: str, minimum: int, manifests: Manifests) -> None:
    documents = manifests[environment]
    hpa = named(documents, "HorizontalPodAutoscaler", "certify-proxy")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "certify-proxy"}
    assert hpa["spec"]["minReplicas"] == minimum
    assert hpa["spec"]["maxReplicas"] > minimum
    assert "replicas" not in named(documents, "Deployment", "certify-proxy")["spec"], "the HPA owns the count"
    assert {doc["metadata"]["name"] for doc in of_kind(documents, "HorizontalPodAutoscaler")} == {"certify-proxy"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_pod_is_locked_down(environment: str, manifests: Manifests) -> None:
    for where, spec in pod_specs(manifests[environment]):
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, where
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
        mounted = spec.get("automountServiceAccountToken")
        assert mounted is (where == "Deployment/certify-operator"), f"{where}: token only for the operator"
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert container["resources"]["requests"], where
            assert container["resources"]["limits"], where
            image = container["image"]
            assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), where
            if where.startswith("Deployment/"):
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    assert probe in container, f"{where} lacks {probe}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_certify_workloads_probe_healthz_and_readyz_and_spread_over_nodes(
    environment: str, manifests: Manifests
) -> None:
    for doc in of_kind(manifests[environment], "Deployment"):
        if component(doc) in {"postgres", "redis"}:
            continue
        spec = doc["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        expected_ready = "/healthz" if component(doc) == "operator" else "/readyz"
        assert container["readinessProbe"]["httpGet"]["path"] == expected_ready
        assert (
            spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
            == doc["spec"]["selector"]["matchLabels"]
        )
        assert named(manifests[environment], "Service", doc["metadata"]["name"])["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_disruption_budget_guards_every_workload_with_more_than_one_replica(
    environment: str, manifests: Manifests
) -> None:
    documents = manifests[environment]
    budgets = {doc["metadata"]["name"] for doc in of_kind(documents, "PodDisruptionBudget")}
    hpas = {
        doc["metadata"]["name"]: doc["spec"]["minReplicas"] for doc in of_kind(documents, "HorizontalPodAutoscaler")
    }
    for doc in of_kind(documents, "Deployment"):
        name = doc["metadata"]["name"]
        replicas = hpas.get(name, doc["spec"].get("replicas", 1))
        assert (name in budgets) == (replicas > 1), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_migrations_run_in_a_pre_install_and_pre_upgrade_hook_job(environment: str, manifests: Manifests) -> None:
    documents = manifests[environment]
    job = named(documents, "Job", "certify-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["certify-admin", "db", "upgrade"]
    assert (
        container["image"]
        == named(documents, "Deployment", "certify-proxy")["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    proxy = named(documents, "Deployment", "certify-proxy")["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in proxy, "proxy pods run the image's server, never a migration"
    assert "args" not in proxy


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_proxy_shuts_down_gracefully_within_its_grace_period(environment: str, manifests: Manifests) -> None:
    documents = manifests[environment]
    spec = named(documents, "Deployment", "certify-proxy")["spec"]["template"]["spec"]
    config = named(documents, "ConfigMap", "certify-proxy")["data"]
    pre_stop_s = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    graceful_s = int(config["GRACEFUL_TIMEOUT_S"])
    longest_request_s = 60  # MAX_WAIT_S: the longest `Prefer: wait` the proxy honours
    assert graceful_s > longest_request_s
    assert spec["terminationGracePeriodSeconds"] > pre_stop_s + graceful_s


def test_otel_variables_pass_through_only_when_set(manifests: Manifests) -> None:
    plain = named(manifests["production"], "Deployment", "certify-quote")["spec"]["template"]["spec"]["containers"][0]
    assert not [v for v in plain["env"] if v["name"].startswith("OTEL_")]
    values = merged(environment_values("production"), {"extraEnv": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}})
    quote = named(render(values), "Deployment", "certify-quote")["spec"]["template"]["spec"]["containers"][0]
    otel = {v["name"]: v["value"] for v in quote["env"] if v["name"].startswith("OTEL_")}
    assert otel == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "OTEL_SERVICE_NAME": "certify-quote"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_mcp_servers_accept_their_service_names_and_the_proxy_finds_them(
    environment: str, manifests: Manifests
) -> None:
    documents = manifests[environment]
    proxy = named(documents, "ConfigMap", "certify-proxy")["data"]
    for server in MCP_SERVERS:
        config = named(documents, "ConfigMap", f"certify-{server}")["data"]
        url = proxy[f"MCP_{server.upper()}_URL"]
        assert url == f"http://certify-{server}:{config['PORT']}/mcp"
        assert f"certify-{server}:*" in config["ALLOWED_HOSTS"].split(",")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_service_of_the_repository_is_deployed(environment: str, manifests: Manifests) -> None:
    services = {path.parent.name for path in ROOT.glob("services/*/pyproject.toml")}
    if environment != "dev":
        services.discard("sandbox")  # local stand-ins only: production refuses them
    deployed = {component(doc) for doc in of_kind(manifests[environment], "Deployment")}
    assert services <= deployed
    assert ("sandbox" in deployed) == (environment == "dev")
