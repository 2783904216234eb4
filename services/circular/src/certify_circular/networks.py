"""Per-network facts: documented NAG base, default chain, explorer template; and getNAG discovery."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from certify_circular.settings import CircularSettings

CIRCULAR_SANDBOX_CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
CIRCULAR_MAIN_PUBLIC_CHAIN = "714d2ac07a826b66ac56752eebd7c77b58d2ee842e523d913fd0ef06e6bdfcae"


@dataclass(frozen=True)
class NetworkDefaults:
    nag_url: str | None
    blockchain: str
    explorer_url_template: str | None


#: From specs/circular.md. No explorer pattern is documented, so none is guessed here.
NETWORKS = {
    "testnet": NetworkDefaults("https://nag.circularlabs.io/NAG.php?cep=", CIRCULAR_SANDBOX_CHAIN, None),
    "mainnet": NetworkDefaults("https://nag.circularlabs.io/NAG_Mainnet.php?cep=", CIRCULAR_MAIN_PUBLIC_CHAIN, None),
    "devnet": NetworkDefaults(None, CIRCULAR_SANDBOX_CHAIN, None),
}


@dataclass(frozen=True)
class NetworkConfig:
    """What the server talks to: network name, NAG base (None until discovered), chain, explorer template."""

    name: str
    nag_url: str | None
    blockchain: str
    explorer_url_template: str | None

    def explorer_url(self, tx_id: str, block_id: str) -> str | None:
        if self.explorer_url_template is None:
            return None
        return self.explorer_url_template.format(
            tx_id=tx_id, blockchain=self.blockchain, network=self.name, block_id=block_id
        )


def network_config(settings: CircularSettings) -> NetworkConfig:
    """Configuration overrides first, then the network's documented defaults."""
    defaults = NETWORKS[settings.circular_network]
    return NetworkConfig(
        name=settings.circular_network,
        nag_url=settings.circular_nag_url or defaults.nag_url,
        blockchain=settings.circular_blockchain or defaults.blockchain,
        explorer_url_template=settings.circular_explorer_url_template or defaults.explorer_url_template,
    )


async def discover_nag(http: httpx.AsyncClient, discovery_url: str, network: str, timeout_s: float) -> str | None:
    """The NAG base from getNAG (``{"status": "success", "url": …}``), or None when it does not answer one."""
    try:
        response = await http.get(discovery_url + network, timeout=timeout_s)
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if isinstance(data, dict) and data.get("status") == "success" and isinstance(data.get("url"), str):
        return str(data["url"])
    return None
