"""The running server's parts: key, NAG client, shared state, and the domain objects built on them.

Created by ``create_app`` (the key is loaded and checked at start, and registered as a log secret);
clients are opened in :meth:`CircularService.start` (the app lifespan) and closed in :meth:`close`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from certify_circular.certification import Certifier
from certify_circular.keys import Wallet
from certify_circular.nag import NagClient
from certify_circular.networks import NetworkConfig, discover_nag, network_config
from certify_circular.nonces import NonceAllocator
from certify_circular.proof import ProofBuilder
from certify_circular.settings import CircularSettings
from certify_circular.submissions import SubmissionStore
from certify_circular.tracking import StatusReader
from certify_common.errors import require
from certify_common.kv import KeyValue, create_kv
from certify_common.logs import register_secret

logger = logging.getLogger("certify.circular")


@dataclass(frozen=True)
class Parts:
    network: NetworkConfig
    nag: NagClient
    nonces: NonceAllocator
    store: SubmissionStore
    certifier: Certifier
    status: StatusReader
    proofs: ProofBuilder


def load_wallet(settings: CircularSettings) -> Wallet | None:
    """The configured network's key, registered as a log secret; ValueError when it is malformed."""
    secret = settings.private_key
    if secret is None:
        logger.warning("no service wallet key configured", extra={"variable": settings.private_key_env_name})
        return None
    text = secret.get_secret_value()
    register_secret(text)
    register_secret(text.strip().lower().removeprefix("0x"))
    try:
        return Wallet.from_hex(text)
    except ValueError:
        # `from None`: the original message could quote the key.
        raise ValueError(f"{settings.private_key_env_name} is not a usable secp256k1 key") from None


class CircularService:
    """Owns the long-lived clients; tools reach the domain objects through :attr:`parts`."""

    def __init__(
        self, settings: CircularSettings, *, http: httpx.AsyncClient | None = None, kv: KeyValue | None = None
    ) -> None:
        self.settings = settings
        self.wallet = load_wallet(settings)
        self._http = http
        self._kv = kv
        self._owns_http = http is None
        self._owns_kv = kv is None
        self._parts: Parts | None = None

    @property
    def parts(self) -> Parts:
        """The domain objects; only a started service is handed to the tools (``Runtime``), so they are there."""
        return require(self._parts, "the parts of a started circular service")

    async def start(self) -> None:
        settings = self.settings
        http = self._http = self._http or httpx.AsyncClient(timeout=settings.circular_nag_timeout_s)
        kv = self._kv = self._kv or create_kv(settings.redis_url, settings.redis_prefix)
        network = network_config(settings)
        if network.nag_url is None:
            discovered = await discover_nag(
                http, settings.circular_nag_discovery_url, network.name, settings.circular_nag_timeout_s
            )
            if discovered is None:
                raise RuntimeError(f"no NAG for {network.name}: set CIRCULAR_NAG_URL (getNAG discovery failed)")
            network = NetworkConfig(network.name, discovered, network.blockchain, network.explorer_url_template)
        nag = NagClient(
            http, require(network.nag_url, "the NAG URL"), network.blockchain, settings.circular_nag_timeout_s
        )
        nonces = NonceAllocator(kv, settings.circular_wallet_lock_ttl_s, settings.circular_wallet_lock_wait_s)
        store = SubmissionStore(
            kv,
            settings.circular_idempotency_ttl_s,
            settings.circular_wallet_lock_ttl_s,
            settings.circular_wallet_lock_wait_s,
        )
        self._parts = Parts(
            network=network,
            nag=nag,
            nonces=nonces,
            store=store,
            certifier=Certifier(wallet=self.wallet, nag=nag, network=network, nonces=nonces, store=store),
            status=StatusReader(nag, store, settings.circular_poll_interval_s, settings.circular_max_wait_s),
            proofs=ProofBuilder(nag, network),
        )
        logger.info(
            "circular service started",
            extra={
                "network": network.name,
                "blockchain": network.blockchain,
                "address": self.wallet.address if self.wallet else None,
            },
        )

    async def ready(self) -> bool:
        """Readiness: shared state answers."""
        return self._kv is not None and await self._kv.ping()

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
        if self._owns_kv and self._kv is not None:
            await self._kv.close()
        self._parts = None
