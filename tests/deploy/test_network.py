"""NetworkPolicy isolation, evaluated on the rendered policies as Kubernetes applies them.

A connection is allowed when the source's egress policies and the destination's ingress policies both admit
it (a pod selected by no policy of a direction is open in that direction). Outside peers: the ingress
controller, Prometheus, kube-dns, a pod of another namespace, the API server and a host on the internet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

from certify_testkit.chart import ENVIRONMENTS, NAMESPACE, named, of_kind

MCP_SERVERS = ("x402", "circular", "quote", "qr")
PORTS = {"proxy": 8080, "x402": 8402, "circular": 8403, "quote": 8404, "qr": 8405, "operator": 8406}


@dataclass(frozen=True)
class Peer:
    """A network endpoint: a pod (namespace + labels) or an outside address."""

    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    ip: str | None = None


def _pods(documents: list[dict[str, Any]]) -> dict[str, Peer]:
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: Peer(
            NAMESPACE, doc["spec"]["template"]["metadata"]["labels"]
        )
        for doc in documents
        if doc["kind"] in {"Deployment", "Job"}
    }


OUTSIDE = {
    "ingress-controller": Peer("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    "prometheus": Peer("monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "kube-dns": Peer("kube-system", {"k8s-app": "kube-dns"}),
    "stranger": Peer("elsewhere", {"app": "stranger"}),
    "internet": Peer(None, ip="203.0.113.7"),
}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def _peer_matches(rule_peer: dict[str, Any], policy_namespace: str, peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        return peer.ip is not None and ipaddress.ip_address(peer.ip) in ipaddress.ip_network(
            rule_peer["ipBlock"]["cidr"]
        )
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        namespace_labels = {"kubernetes.io/metadata.name": peer.namespace}
        if not _selects(rule_peer["namespaceSelector"], namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return "podSelector" not in rule_peer or _selects(rule_peer["podSelector"], peer.labels)


def _admits(policies: list[dict[str, Any]], subject: Peer, other: Peer, port: int, direction: str) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        policy
        for policy in policies
        if subject.namespace == policy["metadata"]["namespace"]
        and direction in policy["spec"]["policyTypes"]
        and _selects(policy["spec"]["podSelector"], subject.labels)
    ]
    if subject.namespace is None or subject.namespace != NAMESPACE:
        return True  # outside the chart's namespace: not ours to restrict
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            ports = rule.get("ports")
            if ports and not any(entry["port"] == port for entry in ports):
                continue
            peers = rule.get(peers_key)
            if not peers or any(_peer_matches(p, policy["metadata"]["namespace"], other) for p in peers):
                return True
    return False


def can_reach(documents: list[dict[str, Any]], source: Peer, target: Peer, port: int) -> bool:
    """Whether the rendered policies let ``source`` open a TCP connection to ``target``'s ``port``."""
    policies = list(of_kind(documents, "NetworkPolicy"))
    return _admits(policies, source, target, port, "Egress") and _admits(policies, target, source, port, "Ingress")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_namespace_denies_by_default(environment: str, manifests: dict[str, list[dict[str, Any]]]) -> None:
    deny = named(manifests[environment], "NetworkPolicy", "certify-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_proxy_reaches_the_mcp_servers(environment: str, manifests: dict[str, list[dict[str, Any]]]) -> None:
    documents = manifests[environment]
    pods = _pods(documents)
    for server in MCP_SERVERS:
        port = PORTS[server]
        assert can_reach(documents, pods["proxy"], pods[server], port), server
        for other in [*MCP_SERVERS, "operator"]:
            if other != server:
                assert not can_reach(documents, pods[other], pods[server], port), f"{other} → {server}"
        for outsider in ("ingress-controller", "stranger"):
            assert not can_reach(documents, OUTSIDE[outsider], pods[server], port), f"{outsider} → {server}"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_each_mcp_server_goes_out_only_to_dns_and_https(
    environment: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    documents = manifests[environment]
    pods = _pods(documents)
    internet = OUTSIDE["internet"]
    for server in MCP_SERVERS:
        assert can_reach(documents, pods[server], OUTSIDE["kube-dns"], 53), server
        assert not can_reach(documents, pods[server], internet, 80), server
        assert not can_reach(documents, pods[server], pods["proxy"], PORTS["proxy"]), server
        # qr has no upstream at all; the others reach theirs over HTTPS.
        assert can_reach(documents, pods[server], internet, 443) == (server != "qr"), server


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_operator_reaches_the_api_server_and_the_proxy_admin_api(
    environment: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    documents = manifests[environment]
    pods = _pods(documents)
    assert can_reach(documents, pods["operator"], Peer(None, ip="203.0.113.1"), 443)
    assert can_reach(documents, pods["operator"], Peer(None, ip="203.0.113.1"), 6443)
    assert can_reach(documents, pods["operator"], pods["proxy"], PORTS["proxy"])
    assert not can_reach(documents, pods["operator"], pods["circular"], PORTS["circular"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_clients_reach_only_the_proxy_and_prometheus_scrapes_everything(
    environment: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    documents = manifests[environment]
    pods = _pods(documents)
    assert can_reach(documents, OUTSIDE["ingress-controller"], pods["proxy"], PORTS["proxy"])
    assert not can_reach(documents, OUTSIDE["stranger"], pods["proxy"], PORTS["proxy"])
    assert not can_reach(documents, OUTSIDE["ingress-controller"], pods["operator"], PORTS["operator"])
    for workload, port in PORTS.items():
        assert can_reach(documents, OUTSIDE["prometheus"], pods[workload], port), workload


def test_without_the_policies_everything_would_be_reachable(manifests: dict[str, list[dict[str, Any]]]) -> None:
    documents = [doc for doc in manifests["production"] if doc["kind"] != "NetworkPolicy"]
    pods = _pods(documents)
    assert can_reach(documents, pods["qr"], pods["circular"], PORTS["circular"])
