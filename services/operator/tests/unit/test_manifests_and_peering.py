"""The CRD manifests agree with what the handlers watch, and replicas coordinate through kopf peering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from certify_operator.app import kopf_settings
from certify_operator.resources import DEAD_LETTER_KIND, DEAD_LETTERS, GROUP, VERSION, WALLET_KIND, WALLETS
from certify_operator.settings import OperatorSettings

CRDS = Path(__file__).resolve().parents[4] / "k8s" / "certify" / "crds"


def crd(name: str) -> dict[str, Any]:
    documents = list(yaml.safe_load_all((CRDS / name).read_text()))
    assert len(documents) == 1
    document: dict[str, Any] = documents[0]
    return document


def test_the_crds_declare_the_group_version_kinds_and_plurals_the_operator_watches() -> None:
    for file, plural, kind, short in (
        ("certifywallets.yaml", WALLETS, WALLET_KIND, "cw"),
        ("deadletters.yaml", DEAD_LETTERS, DEAD_LETTER_KIND, "dl"),
    ):
        spec = crd(file)["spec"]
        assert crd(file)["metadata"]["name"] == f"{plural}.{GROUP}"
        assert (spec["group"], spec["scope"]) == (GROUP, "Namespaced")
        assert (spec["names"]["plural"], spec["names"]["kind"], spec["names"]["shortNames"]) == (plural, kind, [short])
        (version,) = spec["versions"]
        assert version["name"] == VERSION
        assert version["subresources"] == {"status": {}}
        assert len(version["additionalPrinterColumns"]) >= 4


def test_kopfs_peering_crds_are_shipped_for_namespaced_and_cluster_wide_operators() -> None:
    documents = list(yaml.safe_load_all((CRDS / "kopf-peering.yaml").read_text()))
    assert {(d["spec"]["names"]["kind"], d["spec"]["scope"]) for d in documents} == {
        ("KopfPeering", "Namespaced"),
        ("ClusterKopfPeering", "Cluster"),
    }


def test_peering_is_mandatory_so_two_replicas_never_act_at_once() -> None:
    namespaced = kopf_settings(OperatorSettings(watch_namespace="certify", peering_name="certify-operator"))
    assert (namespaced.peering.name, namespaced.peering.mandatory) == ("certify-operator", True)
    assert namespaced.peering.standalone is False
    assert namespaced.peering.clusterwide is False
    assert kopf_settings(OperatorSettings(watch_namespace="")).peering.clusterwide is True


def test_replicas_get_distinct_peering_priorities_unless_one_is_configured() -> None:
    priorities = {kopf_settings(OperatorSettings(watch_namespace="certify")).peering.priority for _ in range(5)}
    assert len(priorities) == 5
    assert kopf_settings(OperatorSettings(peering_priority=7)).peering.priority == 7
