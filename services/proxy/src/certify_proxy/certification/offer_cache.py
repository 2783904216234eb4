"""The offer of every 402, fetched once per price period and network and shared by every proxy process.

The quote server's price does not depend on the document (one CIRX fee per certification: the size is
only checked and echoed), and the x402 server's requirement differs between requests only by the request
id in its description. So both are asked for once, with ``{request_id}`` in the description, while the
quote stays valid for at least ``OFFER_MIN_VALIDITY_S``; each 402 fills in its request id (and the quote's
``data_size_bytes``): no fee and no requirement is ever computed here. The PAYMENT-REQUIRED header is
base64 of the x402 server's compact JSON, so the filled header is byte for byte the one that server
would have made for that description (request ids need no JSON escaping: ``REQUEST_ID_PATTERN``).

Entries live in this process and in the key-value store (Redis when configured) under a key naming the
network and the settings the offer depends on (a changed public URL or a new deployment's settings make
a new key); a miss takes a shared lock so one process asks the servers while the others wait and read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from certify_common.contracts.quote import Quote
from certify_common.contracts.x402 import PaymentRequirementResult
from certify_common.errors import Failure
from certify_common.kv import KeyValue, LockTimeoutError
from certify_proxy.metrics import OFFER_CACHE_AGE, OFFER_CACHE_LOOKUPS
from certify_proxy.settings import ProxySettings
from certify_proxy.upstream.quote import Quotes
from certify_proxy.upstream.x402 import X402

PLACEHOLDER = "{request_id}"
DESCRIPTION = f"certify request {PLACEHOLDER}: one document certified on Circular"
#: How long a process waits for another one fetching the same offer before asking the servers itself.
LOCK_WAIT_S = 5.0


@dataclass(frozen=True)
class Offer:
    """A quoted, payable offer for one request: the quote and x402 servers' answers for it."""

    quote: Quote
    x402: PaymentRequirementResult

    @property
    def valid_until(self) -> datetime:
        return self.quote.valid_until


@dataclass(frozen=True)
class Template:
    """The servers' answers with the request id left open, and when they were fetched (epoch seconds).

    ``x402_json`` is the requirement as JSON: a request's id is filled in by substitution and parsed back, so
    every description names it exactly as the server would have written it."""

    quote: Quote
    x402_json: str
    header_json: str
    fetched_at: float

    @property
    def valid_until(self) -> datetime:
        return self.quote.valid_until

    def dump(self) -> str:
        x402 = PaymentRequirementResult.model_validate_json(self.x402_json)
        return SharedTemplate(quote=self.quote, x402=x402, fetched_at=self.fetched_at).model_dump_json()

    @classmethod
    def load(cls, text: str) -> Template:
        shared = SharedTemplate.model_validate_json(text)
        return cls.of(shared.quote, shared.x402, shared.fetched_at)

    @classmethod
    def of(cls, quote: Quote, x402: PaymentRequirementResult, fetched_at: float) -> Template:
        header_json = base64.b64decode(x402.payment_required_header).decode()
        return cls(quote, x402.model_dump_json(), header_json, fetched_at)

    def header(self, request_id: str) -> str:
        """The PAYMENT-REQUIRED header of one request: base64 of the x402 server's JSON with its id filled in."""
        return base64.b64encode(self.header_json.replace(PLACEHOLDER, request_id).encode()).decode()

    def fill(self, request_id: str, size_bytes: int) -> Offer:
        """This offer for one request: its id in the descriptions and header, its size in the quote."""
        header = self.header(request_id)
        x402 = PaymentRequirementResult.model_validate_json(self.x402_json.replace(PLACEHOLDER, request_id))
        return Offer(
            self.quote.model_copy(update={"data_size_bytes": size_bytes}),
            x402.model_copy(update={"payment_required_header": header}),
        )


class SharedTemplate(BaseModel):
    """A template as the key-value store holds it."""

    quote: Quote
    x402: PaymentRequirementResult
    fetched_at: float


class OfferCache:
    """Templates per network, in this process and in the shared key-value store."""

    def __init__(
        self,
        quotes: Quotes,
        x402: X402,
        kv: KeyValue,
        settings: ProxySettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.quotes = quotes
        self.x402 = x402
        self.kv = kv
        self.settings = settings
        self.clock = clock
        self._local: dict[str, Template] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def key(self, network: str) -> str:
        """The shared key of a network's offer: what the offer depends on is part of it."""
        facts = f"{network}|{self.settings.public_base_url}|{DESCRIPTION}"
        return f"proxy:offer:{network}:{hashlib.sha256(facts.encode()).hexdigest()[:16]}"

    def _usable(self, template: Template | None) -> bool:
        return (
            template is not None
            and template.valid_until.timestamp() - self.clock() >= self.settings.offer_min_validity_s
        )

    def _served(self, network: str, template: Template, source: str) -> Template:
        OFFER_CACHE_LOOKUPS.labels(network, source).inc()
        OFFER_CACHE_AGE.labels(network).set(max(self.clock() - template.fetched_at, 0.0))
        return template

    async def _shared(self, network: str) -> Template | None:
        text = await self.kv.get(self.key(network))
        if text is None:
            return None
        template = Template.load(text)
        if not self._usable(template):
            return None
        self._local[network] = template
        return template

    async def cached(self, network: str) -> Template | None:
        """The network's template if this process or the shared store holds a usable one; never asks the servers,
        waits on no lock and counts no offer lookup (``POST /v1/quote`` reads the period's price here)."""
        local = self._local.get(network)
        if self._usable(local):
            return local
        return await self._shared(network)

    async def template(self, network: str) -> Template | Failure:
        """The network's template: from this process, else the shared store, else the servers (then stored)."""
        local = self._local.get(network)
        if self._usable(local) and local is not None:
            return self._served(network, local, "hit")
        async with self._locks.setdefault(network, asyncio.Lock()):
            local = self._local.get(network)
            if self._usable(local) and local is not None:
                return self._served(network, local, "hit")
            shared = await self._shared(network)
            if shared is not None:
                return self._served(network, shared, "shared")
            try:
                async with self.kv.lock(f"{self.key(network)}:fill", ttl_s=30, wait_s=LOCK_WAIT_S):
                    shared = await self._shared(network)
                    if shared is not None:
                        return self._served(network, shared, "shared")
                    fetched = await self._fetch(network)
            except LockTimeoutError:
                fetched = await self._fetch(network)
            if isinstance(fetched, Failure):
                return fetched
            return self._served(network, fetched, "miss")

    async def _fetch(self, network: str) -> Template | Failure:
        quoted = await self.quotes.calculate(0)
        if isinstance(quoted, Failure):
            return quoted
        requirement = await self.x402.payment_requirement(
            network=network,
            resource=f"{self.settings.public_base_url}/v1/certify",
            amount_atomic=str(quoted.amount_atomic),
            description=DESCRIPTION,
        )
        if isinstance(requirement, Failure):
            return requirement
        template = Template.of(quoted, requirement, self.clock())
        ttl = template.valid_until.timestamp() - self.clock() - self.settings.offer_min_validity_s
        if ttl > 0:
            await self.kv.set(self.key(network), template.dump(), ttl_s=ttl)
        self._local[network] = template
        return template

    async def offer(self, network: str, request_id: str, size_bytes: int) -> Offer | Failure:
        """The offer of one request."""
        template = await self.template(network)
        if isinstance(template, Failure):
            return template
        return template.fill(request_id, size_bytes)
