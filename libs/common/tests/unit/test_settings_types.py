"""The shared settings types: comma lists, ``network=url`` maps, URLs, the local-URL rule, the Redis flag."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from certify_common.evm import NETWORKS, chain_parameters, is_address
from certify_common.settings import ServiceSettings
from certify_common.settings_types import CommaList, HttpUrl, NetworkUrls, is_local_url, is_public_https


class Example(BaseModel):
    names: CommaList[str] = []
    delays: CommaList[float] = []
    urls: NetworkUrls = {}
    url: HttpUrl = "https://example.org"


def test_comma_lists_drop_blanks_and_parse_their_items() -> None:
    assert Example(names=" a, b,,c ", delays="1, 2.5").model_dump(include={"names", "delays"}) == {
        "names": ["a", "b", "c"],
        "delays": [1.0, 2.5],
    }
    assert Example(names=["x"]).names == ["x"]


def test_network_urls_have_one_syntax_and_known_networks_only() -> None:
    parsed = Example(urls="base=https://a.example/, base-sepolia = https://b.example").urls
    assert parsed == {"base": "https://a.example", "base-sepolia": "https://b.example"}
    assert Example(urls={"arbitrum": "https://c.example"}).urls == {"arbitrum": "https://c.example"}
    for nonsense in ("base", "solana=https://x.example", "base=", '{"base": "https://a.example"}'):
        with pytest.raises(ValidationError):
            Example(urls=nonsense)


@pytest.mark.parametrize("url", ["ftp://example.org", "example.org", "https://", "not a url"])
def test_a_url_needs_an_http_scheme_and_a_host(url: str) -> None:
    with pytest.raises(ValidationError):
        Example(url=url)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8499", True),
        ("http://127.0.0.2/x", True),
        ("http://localhost:8080", True),
        ("http://[::1]:80", True),
        ("http://0.0.0.0:80", True),
        ("http://sandbox:8499/nag", True),
        ("https://sandbox.internal/facilitator", True),
        ("https://api.coingecko.com/api/v3", False),
        ("https://10.0.0.5", False),
    ],
)
def test_one_rule_says_which_urls_are_local(url: str, local: bool) -> None:
    assert is_local_url(url) is local
    assert is_public_https(url) is (not local and url.startswith("https://"))


class NeedsRedis(ServiceSettings):
    redis_required_because: ClassVar[str | None] = "locks are shared"


def test_a_service_that_needs_redis_is_refused_in_production_without_it() -> None:
    with pytest.raises(ValidationError, match="REDIS_URL must be set in production: locks are shared"):
        NeedsRedis(certify_env="production", redis_url="")
    assert NeedsRedis(certify_env="production", redis_url="redis://r:6379/0").redis_url == "redis://r:6379/0"
    assert ServiceSettings(certify_env="production", redis_url="").redis_url is None


def test_the_network_table_holds_the_chain_facts_a_wallet_needs() -> None:
    assert chain_parameters(NETWORKS["base-sepolia"]) == {
        "chainId": "0x14a34",
        "chainName": "Base Sepolia",
        "nativeCurrency": {"name": "Ether", "symbol": "ETH", "decimals": 18},
        "rpcUrls": ["https://sepolia.base.org"],
        "blockExplorerUrls": ["https://sepolia.basescan.org"],
    }
    assert all(is_address(network.usdc_address) and network.decimals == 6 for network in NETWORKS.values())
    assert not is_address(NETWORKS["base"].usdc_address + "\n")
