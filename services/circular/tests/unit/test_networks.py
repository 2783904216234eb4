"""NAG selection: override, documented default, getNAG discovery; explorer templates; unknown wallets."""

from __future__ import annotations

from typing import Any

from certify_circular.networks import NETWORKS, network_config
from certify_circular.service import CircularService
from certify_common.kv import MemoryKeyValue
from certify_testkit.mcp_calls import failure_of

from .conftest import settings_for


def test_documented_nags_and_chains_are_the_defaults() -> None:
    testnet = network_config(settings_for(circular_nag_url=None))
    mainnet = network_config(settings_for(circular_nag_url=None, circular_network="mainnet"))
    assert testnet.nag_url == "https://nag.circularlabs.io/NAG.php?cep="
    assert testnet.blockchain == "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
    assert mainnet.nag_url == "https://nag.circularlabs.io/NAG_Mainnet.php?cep="
    assert mainnet.blockchain == "714d2ac07a826b66ac56752eebd7c77b58d2ee842e523d913fd0ef06e6bdfcae"
    assert NETWORKS["devnet"].nag_url is None


def test_overrides_win_and_the_explorer_template_is_filled() -> None:
    config = network_config(
        settings_for(
            circular_blockchain="ab" * 32, circular_explorer_url_template="https://x.example/{network}/{tx_id}"
        )
    )
    assert config.blockchain == "ab" * 32
    assert config.explorer_url("cd" * 32, "7") == "https://x.example/testnet/" + "cd" * 32


async def test_a_network_without_a_known_nag_is_discovered_through_get_nag(stand: Any) -> None:
    settings = settings_for(
        circular_network="devnet",
        circular_nag_url=None,
        circular_nag_discovery_url="http://sandbox.test/network/getNAG?network=",
    )
    service = CircularService(settings, http=stand.sandbox, kv=MemoryKeyValue("discovery"))
    await service.start()
    assert service.parts.network.nag_url == "http://sandbox.test/nag/NAG.php?cep="
    assert service.parts.network.name == "devnet"


async def test_an_unregistered_wallet_is_wallet_not_found_with_the_nag_code(stand: Any) -> None:
    failure = failure_of(await stand.call("get_wallet_nonce", {"wallet_address": "0x" + "ee" * 32}))
    assert failure["code"] == "wallet_not_found"
    assert failure["details"]["type"] == "WALLET_NOT_FOUND"
    assert failure["details"]["nag_result_code"] == 108
    assert failure["retryable"] is False
