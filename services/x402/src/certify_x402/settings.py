"""Settings of the x402 server (environment variables, see README.md)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from certify_common.evm import NETWORKS, UsdcNetwork
from certify_common.logs import register_secret
from certify_common.settings import ServiceSettings
from certify_common.x402_wire import is_address

DEFAULT_FACILITATOR_URL = "https://x402.org/facilitator"
#: Hardhat's first well-known account: fine for development, refused in production.
PLACEHOLDER_PAY_TO = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104  # nosec B104  # hosts to refuse, never bound


def _split_pairs(value: Any) -> Any:
    """``base=https://a,base-sepolia=https://b`` → dict (JSON objects pass through)."""
    if isinstance(value, str):
        pairs = [part.strip() for part in value.split(",") if part.strip()]
        result: dict[str, str] = {}
        for pair in pairs:
            name, sep, url = pair.partition("=")
            if not sep:
                raise ValueError(f"expected network=url, got {pair!r}")
            result[name.strip()] = url.strip()
        return result
    return value


class X402Settings(ServiceSettings):
    """Payee, networks, facilitators and RPC endpoints of the x402 server."""

    service_name = "x402"
    port: int = Field(8402, ge=1, le=65535, description="TCP port to listen on.")
    x402_pay_to: str = Field(
        PLACEHOLDER_PAY_TO,
        description="Address that receives USDC payments (payTo); the default is a public test account, "
        "refused in production.",
    )
    x402_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["base-sepolia", "arbitrum-sepolia", "base", "arbitrum"],
        description="Enabled networks, comma-separated (base, base-sepolia, arbitrum, arbitrum-sepolia).",
    )
    x402_facilitator_url: str = Field(
        DEFAULT_FACILITATOR_URL, description="Facilitator base URL used for networks without an override."
    )
    x402_facilitator_urls: Annotated[dict[str, str], NoDecode] = Field(
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
    x402_rpc_urls: Annotated[dict[str, str], NoDecode] = Field(
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

    @field_validator("x402_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("x402_networks")
    @classmethod
    def _known_networks(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in NETWORKS]
        if unknown:
            raise ValueError(f"unknown networks {unknown}; known: {sorted(NETWORKS)}")
        return value

    @field_validator("x402_facilitator_urls", "x402_rpc_urls", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().startswith("{"):
            import json

            return json.loads(value)
        return _split_pairs(value)

    @field_validator("x402_facilitator_urls", "x402_rpc_urls")
    @classmethod
    def _network_keys(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [name for name in value if name not in NETWORKS]
        if unknown:
            raise ValueError(f"unknown networks {unknown}")
        return {name: url.rstrip("/") for name, url in value.items()}

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
        """Refuse the placeholder payee, sandbox/loopback facilitators, mainnets on the testnet facilitator,
        running without Redis (replay guards and settlement records must be shared by every worker and replica),
        and an enabled network without an RPC (a settlement whose answer was lost could never be resolved)."""
        if not self.redis_url:
            raise ValueError("REDIS_URL is required in production: settlement records must be shared")
        if self.x402_pay_to.lower() in {PLACEHOLDER_PAY_TO.lower(), "0x" + "0" * 40}:
            raise ValueError("X402_PAY_TO must be the real payee address in production")
        for network in self.enabled():
            url = self.facilitator_url(network)
            host = urlsplit(url).hostname or ""
            if host in _LOOPBACK or "sandbox" in host or not url.startswith("https://"):
                raise ValueError(f"the facilitator of {network.name} ({url}) is a sandbox or not https")
            if not network.testnet and url == DEFAULT_FACILITATOR_URL:
                raise ValueError(f"{network.name} is a mainnet: configure a production facilitator for it")
        missing = [name for name in self.x402_networks if name not in self.x402_rpc_urls]
        if missing:
            raise ValueError(f"X402_RPC_URLS must name an RPC for every enabled network in production: {missing}")
        for url in self.x402_rpc_urls.values():
            host = urlsplit(url).hostname or ""
            if host in _LOOPBACK or "sandbox" in host:
                raise ValueError(f"RPC endpoint {url} is a sandbox")
