"""Nonce allocation for the service wallet, shared by every worker and replica through the KeyValue.

The next nonce is ``max(api + 1, last + 1)``, taken atomically (``next_in_sequence``), so two
processes never get the same one even when the NAG's nonce lags behind submissions still in flight.
Submissions also hold a per-wallet lock so they reach the NAG in nonce order. The lock has a TTL (a
crashed holder frees it) and is renewed every third of it while its holder works (a section makes up
to six NAG calls, longer than the TTL); a holder checks it still owns the lock before it uses or
rolls back a nonce, and the atomic sequence keeps nonces distinct even if it was lost.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from certify_common.kv import HeldLock, KeyValue


class NonceAllocator:
    """Per (blockchain, address) sequences and locks."""

    def __init__(self, kv: KeyValue, lock_ttl_s: float, lock_wait_s: float) -> None:
        self.kv = kv
        self.lock_ttl_s = lock_ttl_s
        self.lock_wait_s = lock_wait_s

    @staticmethod
    def _key(blockchain: str, address: str) -> str:
        return f"circular:nonce:{blockchain}:{address}"

    def lock(self, blockchain: str, address: str) -> AbstractAsyncContextManager[HeldLock]:
        """Serialises submissions from one wallet (``LockTimeoutError`` after the wait), renewed while held."""
        return self.kv.lock(
            self._key(blockchain, address),
            ttl_s=self.lock_ttl_s,
            wait_s=self.lock_wait_s,
            renew_every_s=self.lock_ttl_s / 3,
        )

    async def allocate(self, blockchain: str, address: str, api_nonce: int) -> int:
        """The next nonce: ``max(api_nonce + 1, last + 1)``, recorded as the last one used."""
        return await self.kv.next_in_sequence(self._key(blockchain, address), api_nonce + 1)

    async def peek(self, blockchain: str, address: str, api_nonce: int) -> int:
        """The nonce :meth:`allocate` would give now, without taking it."""
        last = await self.kv.get(self._key(blockchain, address))
        return max(api_nonce + 1, int(last) + 1 if last is not None else 0)

    async def realign(self, blockchain: str, address: str, api_nonce: int) -> int:
        """After the NAG refused a nonce: restart the sequence from the NAG's view. Hold the lock."""
        await self.kv.set(self._key(blockchain, address), str(api_nonce))
        return await self.allocate(blockchain, address, api_nonce)

    async def give_back(self, blockchain: str, address: str, nonce: int) -> None:
        """Return a nonce the NAG surely never saw, if it is still the last one. Hold the lock."""
        key = self._key(blockchain, address)
        if await self.kv.get(key) == str(nonce):
            await self.kv.set(key, str(nonce - 1))
