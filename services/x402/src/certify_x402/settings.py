"""Settings of the x402 server (environment variables, see README.md)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from certify_common.evm import NETWORKS, UsdcNetwork, is_address
from certify_common.logs import register_secret
from certify_common.settings import ServiceSettings
from certify_common.settings_types import CommaList, HttpUrl, NetworkUrls, is_local_url, is_public_https

DEFAULT_FACILITATOR_URL = "https://x402.org/facilitator"
#: Hardhat's first well-known account: fine for development, refused in production.
PLACEHOLDER_PAY_TO = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


class X402Settings(ServiceSettings):
    """Payee, networks, facilitators and RPC endpoints of the x402 server."""

    service_name = "x402"
    redis_required_because = "settlement records must be shared"
    port: int = Field(8402, ge=1, le=65535, description="TCP port to listen on.")
    x402_pay_to: str = Field(
        PLACEHOLDER_PAY_TO,
        description="Address that receives USDC payments (payTo); the default is a public test account, "
        "refused in production.",
    )
    x402_networks: CommaList[str] = Field(
        default_factory=lambda: ["base-sepolia", "arbitrum-sepolia", "base", "arbitrum"],
        description="Enabled networks, comma-separated (base, base-sepolia, arbitrum, arbitrum-sepolia).",
    )
    x402_facilitator_url: HttpUrl = Field(
        DEFAULT_FACILITATOR_URL, description="Facilitator base URL used for networks without an override."
    )
    x402_facilitator_urls: NetworkUrls = Field(
        default_factory=dict,
        description="Per-network facilitator overrides, `network=url` comma-separated (e.g. `base=https://api.cdp.coinbase.com/platform/v2/x402`).",
    )
    x402_facilitator_auth_header: SecretStr | None = Field(
        None,
        description="Authorization header value sent to the facilitator of mainnet networks "
        "(e.g. `Bearer <token>`); a secret.",
    )
    x402_verify_with_facilitator: bool = Field(
        False, description="After the local checks pass, also ask the facilitator's /verify."
    )
    x402_rpc_urls: NetworkUrls = Field(
        default_factory=dict,
        description="EVM JSON-RPC endpoints per network, `network=url` comma-separated: balanceOf / "
        "authorizationState checks, and settlements whose outcome is unknown resolved from the chain. Required "
        "for every enabled network in production.",
    )
    x402_facilitator_timeout_s: float = Field(
        15.0, gt=0, le=20, description="Timeout of one facilitator call (MCP calls stay under ~20 s)."
    )
    x402_rpc_timeout_s: float = Field(5.0, gt=0, le=20, description="Timeout of one JSON-RPC call.")
    x402_settle_wait_s: float = Field(
        18.0,
        gt=0,
        le=20,
        description="How long a settle call waits for another call settling the same authorization before "
        "answering the retryable settlement_in_progress.",
    )
    x402_retry_after_s: int = Field(5, ge=1, le=600, description="retry_after suggested on retryable failures.")
    x402_settlement_retention_s: int = Field(
        86400,
        ge=60,
        description="How long a settlement result is kept after the authorization's validBefore (idempotency window).",
    )
    x402_max_timeout_seconds: int = Field(
        300, ge=10, le=3600, description="Default maxTimeoutSeconds of new payment requirements."
    )

    @field_validator("x402_networks")
    @classmethod
    def _known_networks(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in NETWORKS]
        if unknown:
            raise ValueError(f"unknown networks {unknown}; known: {sorted(NETWORKS)}")
        return value

    @field_validator("x402_pay_to")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError("X402_PAY_TO must be a 0x-prefixed 20-byte address")
        return value

    def model_post_init(self, context: Any) -> None:
        if self.x402_facilitator_auth_header is not None:
            register_secret(self.x402_facilitator_auth_header.get_secret_value())

    def enabled(self) -> list[UsdcNetwork]:
        """The enabled networks, in configuration order."""
        return [NETWORKS[name] for name in self.x402_networks]

    def facilitator_url(self, network: UsdcNetwork) -> str:
        """Facilitator base URL for one network (override, else the default)."""
        return self.x402_facilitator_urls.get(network.name, self.x402_facilitator_url).rstrip("/")

    def facilitator_headers(self, network: UsdcNetwork) -> dict[str, str]:
        """Extra headers for that network's facilitator: the auth header for mainnets."""
        if network.testnet or self.x402_facilitator_auth_header is None:
            return {}
        return {"Authorization": self.x402_facilitator_auth_header.get_secret_value()}

    def check_production(self) -> None:
        """Refuse the placeholder payee, sandbox/loopback facilitators, mainnets on the testnet facilitator and an
        enabled network without an RPC (a settlement whose answer was lost could never be resolved). Running
        without Redis is refused before (``redis_required_because``: replay guards and settlement records must be
        shared by every worker and replica)."""
        if self.x402_pay_to.lower() in {PLACEHOLDER_PAY_TO.lower(), "0x" + "0" * 40}:
            raise ValueError("X402_PAY_TO must be the real payee address in production")
        for network in self.enabled():
            url = self.facilitator_url(network)
            if not is_public_https(url):
                raise ValueError(f"the facilitator of {network.name} ({url}) is a sandbox or not https")
            if not network.testnet and url == DEFAULT_FACILITATOR_URL:
                raise ValueError(f"{network.name} is a mainnet: configure a production facilitator for it")
        missing = [name for name in self.x402_networks if name not in self.x402_rpc_urls]
        if missing:
            raise ValueError(f"X402_RPC_URLS must name an RPC for every enabled network in production: {missing}")
        for url in self.x402_rpc_urls.values():
            if is_local_url(url):
                raise ValueError(f"RPC endpoint {url} is a sandbox")
