"""Proxy settings: environment variables (optionally over ``CERTIFY_CONFIG`` YAML), validated once at start."""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from certify_common.evm import NETWORKS
from certify_common.settings import require_real_secret
from certify_common.settings_types import CommaList, NetworkUrls
from certify_proxy.queue.settings import WorkflowSettings

NetworkName = Literal["base", "base-sepolia", "arbitrum", "arbitrum-sepolia"]


_ALL_NETWORKS: tuple[NetworkName, ...] = ("base-sepolia", "base", "arbitrum-sepolia", "arbitrum")


class ProxySettings(WorkflowSettings):
    """Everything the proxy reads from its environment."""

    service_name: ClassVar[str] = "proxy"

    port: int = Field(8080, ge=1, le=65535, description="TCP port to listen on.")
    database_url: str = Field(
        "sqlite+aiosqlite:///./certify-proxy.db",
        description="SQLAlchemy async URL: postgresql+asyncpg://… in production, a SQLite file by default.",
    )
    database_pool_size: int = Field(
        7,
        ge=1,
        le=200,
        description="Connections kept per process (PostgreSQL only); from 4 up, two of them are direct asyncpg "
        "connections for a new request's single statement. Size it so replicas × workers × "
        "(DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW) + the migration job + operators stays under max_connections "
        "minus a reserve (README, Configuration).",
    )
    database_max_overflow: int = Field(
        0,
        ge=0,
        le=200,
        description="Extra connections a process may open briefly beyond DATABASE_POOL_SIZE. Each is closed when "
        "returned to a full pool, so under steady load every overflow request pays a new connection (a server "
        "process on PostgreSQL): raise DATABASE_POOL_SIZE instead.",
    )
    database_pool_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="How long a request waits for a free pooled connection before answering 503 database_busy.",
    )
    database_pool_recycle_s: int = Field(
        1800,
        ge=-1,
        description="Connections older than this are replaced (under server or PgBouncer idle timeouts); -1: never.",
    )
    database_pgbouncer: bool = Field(
        False,
        description="PostgreSQL is reached through PgBouncer in transaction mode: no prepared-statement caches, "
        "unique prepared-statement names.",
    )
    mcp_x402_url: str = Field("http://127.0.0.1:8402/mcp", description="Streamable-HTTP URL of the x402 MCP server.")
    mcp_circular_url: str = Field(
        "http://127.0.0.1:8403/mcp", description="Streamable-HTTP URL of the circular MCP server."
    )
    mcp_quote_url: str = Field("http://127.0.0.1:8404/mcp", description="Streamable-HTTP URL of the quote MCP server.")
    mcp_qr_url: str = Field("http://127.0.0.1:8405/mcp", description="Streamable-HTTP URL of the qr MCP server.")
    mcp_call_timeout_s: float = Field(
        30.0, gt=0, le=120, description="Per-call timeout of MCP tool calls (longer than any wait a tool is asked for)."
    )
    mcp_connect_timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of one MCP connection attempt.")
    mcp_retry_attempts: int = Field(
        2, ge=1, le=5, description="Attempts for idempotent MCP tools (non-idempotent tools are called once)."
    )
    mcp_sessions_per_server: int = Field(
        4, ge=1, le=64, description="MCP sessions kept open to each server (calls go to the least busy one)."
    )
    mcp_max_concurrency_per_server: int = Field(
        32,
        ge=1,
        le=1024,
        description="Most MCP calls in flight to one server; a call waiting longer than its timeout for a slot "
        "fails with the retryable upstream_busy (503).",
    )
    mcp_reconnect_max_backoff_s: float = Field(
        10.0, gt=0, le=300, description="Longest pause between reconnection attempts to an unreachable MCP server."
    )
    auth_mode: Literal["api_key", "open"] = Field(
        "api_key", description="api_key: X-API-Key on /v1/*; open: keyless (the payment authorizes), limits per IP."
    )
    dev_api_key: str | None = Field(
        None, description="A key registered at start outside production (what `make run` prints); unset: none."
    )
    cors_origins: CommaList[str] = Field(
        default_factory=list, description="Origins allowed by CORS, comma-separated; empty allows none."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8080", description="Base URL of this proxy as clients see it (payment links, QR codes)."
    )
    rate_limit_writes_per_min: int = Field(
        10, ge=1, description="POST /v1/quote and new POST /v1/certify per key (per IP when open) per minute."
    )
    rate_limit_reads_per_min: int = Field(120, ge=1, description="Status and QR reads per key (or IP) per minute.")
    rate_limit_paid_retries_per_min: int = Field(
        120,
        ge=1,
        description="Verifications by x402 of paid POST /v1/certify for a request awaiting payment (not writes; a "
        "replay of a recorded payment is not counted) per key (or IP) per minute.",
    )
    default_network: NetworkName = Field("base-sepolia", description="Network offered when a request names none.")
    x402_networks: CommaList[NetworkName] = Field(
        default_factory=lambda: list(_ALL_NETWORKS),
        description="Networks payments are accepted on, comma-separated.",
    )
    evm_rpc_urls: NetworkUrls = Field(
        default_factory=dict,
        description="EVM JSON-RPC per network, `network=url` comma-separated: the block number of each "
        "settlement is read from its receipt (unset: block_number stays null).",
    )
    evm_rpc_timeout_s: float = Field(3.0, gt=0, le=30, description="Timeout of one receipt lookup.")
    offer_min_validity_s: float = Field(
        120.0,
        ge=0,
        le=3600,
        description="A cached offer (quote + x402 requirement, shared through Redis) is served to new requests "
        "while its quote stays valid this long; then the quote and x402 servers are asked again.",
    )
    api_key_cache_ttl_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a process trusts an API key lookup: a revoked key is refused "
        "within this many seconds (0: every request asks the database).",
    )
    max_data_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Largest document accepted, in decoded bytes.")
    max_wait_s: int = Field(60, ge=0, le=60, description="Largest `Prefer: wait=N` honoured, in seconds.")
    payment_lock_s: float = Field(
        60.0, gt=0, description="How long one submission of an authorization may hold its lock (verify + settle)."
    )
    allow_http_callbacks: bool = Field(
        False, description="Accept http:// callback URLs (local webhook receivers); always on in development."
    )
    job_max_attempts: int = Field(10, ge=1, description="Attempts of a certification job before the dead-letter queue.")
    forwarded_allow_ips: CommaList[str] = Field(
        default_factory=list,
        description="Proxies in front (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed: the "
        "client is the right-most address not in this list. Empty: the TCP peer is the client (per-IP limits).",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"FORWARDED_ALLOW_IPS: {item!r} is not an IP address or network") from exc
        return value

    @field_validator("dev_api_key", mode="before")
    @classmethod
    def _empty_key(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_network_enabled(self) -> ProxySettings:
        if self.default_network not in self.x402_networks:
            raise ValueError("DEFAULT_NETWORK must be one of X402_NETWORKS")
        unknown = [name for name in self.x402_networks if name not in NETWORKS]
        if unknown:
            raise ValueError(f"unknown networks in X402_NETWORKS: {unknown}")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file (development only)."""
        return self.database_url.startswith("sqlite")

    @property
    def http_callbacks_allowed(self) -> bool:
        """Whether http:// callback URLs are accepted (never in production)."""
        return self.allow_http_callbacks or self.certify_env == "development"

    @property
    def mcp_urls(self) -> dict[str, str]:
        """Server name → MCP URL, for the pool."""
        return {
            "x402": self.mcp_x402_url,
            "circular": self.mcp_circular_url,
            "quote": self.mcp_quote_url,
            "qr": self.mcp_qr_url,
        }

    def check_production(self) -> None:
        """Production refuses SQLite, a development key, plain-HTTP links and an in-process rate limiter."""
        if self.is_sqlite:
            raise ValueError("DATABASE_URL must name PostgreSQL in production, not SQLite")
        if self.auth_mode == "open":
            # Keyless requests' webhooks are signed with the deployment secret: never unsigned in production.
            require_real_secret("WEBHOOK_SECRET", self.webhook_secret)
        if not self.public_base_url.startswith("https://"):
            raise ValueError("PUBLIC_BASE_URL must be https:// in production")
        if self.dev_api_key is not None:
            raise ValueError("DEV_API_KEY must not be set in production (create keys with certify-admin)")
        if self.allow_http_callbacks:
            raise ValueError("ALLOW_HTTP_CALLBACKS must be off in production")
        if self.webhook_allow_private:
            raise ValueError("WEBHOOK_ALLOW_PRIVATE must be off in production (callbacks could reach internal hosts)")
        if not self.redis_url:
            raise ValueError("REDIS_URL must be set in production (rate limits and locks shared by replicas)")
        for name, url in self.mcp_urls.items():
            if "sandbox" in url:
                raise ValueError(f"MCP_{name.upper()}_URL points at the sandbox")
