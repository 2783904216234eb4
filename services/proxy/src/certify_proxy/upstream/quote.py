"""The quote server, typed: what a certification costs now."""

from __future__ import annotations

from certify_common.contracts.quote import Quote
from certify_common.errors import Failure
from certify_proxy.upstream.pool import UpstreamClient


class Quotes(UpstreamClient):
    """Calls to the quote server's tools; each answers its contract model or a :class:`Failure`."""

    server = "quote"

    async def calculate(self, data_size_bytes: int) -> Quote | Failure:
        """The USDC price of certifying a document of ``data_size_bytes`` (the server fetches the CIRX price)."""
        return await self._call("calculate_quote", {"data_size_bytes": data_size_bytes}, Quote)
