"""Settings of the circular server (environment variables; the seed's key names are kept)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from certify_common.settings import ServiceSettings, require_real_secret
from certify_common.settings_types import HttpUrl, is_public_https

Network = Literal["testnet", "mainnet", "devnet"]
_HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class CircularSettings(ServiceSettings):
    """Everything the circular server reads at start."""

    service_name = "circular"
    redis_required_because = "nonces and idempotency keys are shared state"
    port: int = Field(8403, ge=1, le=65535, description="TCP port to listen on.")
    circular_network: Network = Field(
        "testnet", description="Circular network: testnet, mainnet or devnet; selects the key, NAG and chain."
    )
    circular_cep_testnet_private_key: SecretStr | None = Field(
        None, description="Service wallet private key (64 hex) used on testnet and devnet. Never logged."
    )
    circular_cep_mainnet_private_key: SecretStr | None = Field(
        None, description="Service wallet private key (64 hex) used on mainnet. Never logged."
    )
    circular_nag_url: HttpUrl | None = Field(
        None,
        description="NAG base URL ending in `cep=` (e.g. http://127.0.0.1:8499/nag/NAG.php?cep=); unset means the "
        "network's documented NAG, else getNAG discovery.",
    )
    circular_nag_discovery_url: HttpUrl = Field(
        "https://circularlabs.io/network/getNAG?network=",
        description="getNAG discovery endpoint, used only when the network has no configured or documented NAG.",
    )
    circular_blockchain: str | None = Field(
        None, description="Blockchain id (64 hex) to certify on; unset means the network's default chain."
    )
    circular_explorer_url_template: str | None = Field(
        None,
        description="Explorer link for a transaction, with {tx_id}, {blockchain}, {network} and {block_id} "
        "placeholders; unset means the network's template (none is documented, so proofs carry null).",
    )
    circular_nag_timeout_s: float = Field(10.0, gt=0, le=60, description="Timeout of every NAG call, in seconds.")
    circular_poll_interval_s: float = Field(
        5.0, gt=0, le=60, description="Interval between status polls while get_transaction_status waits."
    )
    circular_max_wait_s: float = Field(
        20.0, gt=0, le=60, description="Longest wait_seconds a status call may ask for (MCP calls stay short)."
    )
    circular_wallet_lock_ttl_s: float = Field(
        30.0,
        gt=0,
        le=300,
        description="TTL of the wallet lock: renewed every third of it while a submission holds it, so a crashed "
        "holder frees it after at most this long.",
    )
    circular_wallet_lock_wait_s: float = Field(
        15.0, gt=0, le=120, description="How long a submission waits for the wallet lock before a retryable failure."
    )
    circular_idempotency_ttl_s: int = Field(
        7 * 24 * 3600, gt=0, description="How long an idempotency key and a submitted transaction are remembered."
    )
    circular_max_data_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest raw `data` certify_data accepts (certified as its SHA-256)."
    )

    @field_validator(
        "circular_cep_testnet_private_key",
        "circular_cep_mainnet_private_key",
        "circular_nag_url",
        "circular_blockchain",
        "circular_explorer_url_template",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("circular_blockchain")
    @classmethod
    def _chain_is_hex(cls, value: str | None) -> str | None:
        if value is not None and not _HEX64.match(value):
            raise ValueError("CIRCULAR_BLOCKCHAIN must be 64 hex characters")
        return None if value is None else value.lower().removeprefix("0x")

    @property
    def private_key(self) -> SecretStr | None:
        """The key of the configured network (mainnet key on mainnet, testnet key otherwise)."""
        if self.circular_network == "mainnet":
            return self.circular_cep_mainnet_private_key
        return self.circular_cep_testnet_private_key

    @property
    def private_key_env_name(self) -> str:
        network = "MAINNET" if self.circular_network == "mainnet" else "TESTNET"
        return f"CIRCULAR_CEP_{network}_PRIVATE_KEY"

    def check_production(self) -> None:
        """Production needs a real key and a real, TLS-protected NAG (never the sandbox); Redis is checked before."""
        key = self.private_key
        require_real_secret(self.private_key_env_name, None if key is None else key.get_secret_value())
        if self.circular_nag_url is not None and not is_public_https(self.circular_nag_url):
            raise ValueError("CIRCULAR_NAG_URL must be an https NAG in production, never the sandbox")
