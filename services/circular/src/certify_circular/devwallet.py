"""Development helper: register the service wallet on a NAG and, on the sandbox, fund it with CIRX.

``python -m certify_circular.devwallet [--fund 1000] [--sandbox-url http://127.0.0.1:8499]`` reads the
same settings as the server (``CIRCULAR_NETWORK``, ``CIRCULAR_CEP_TESTNET_PRIVATE_KEY``,
``CIRCULAR_NAG_URL``, ``CIRCULAR_BLOCKCHAIN``), submits a real ``C_TYPE_REGISTERWALLET`` transaction
unless ``Circular_CheckWallet_`` already knows the wallet, then credits CIRX through the sandbox's
``/_control/nag/fund`` (development only; refused in production). Prints the address, never the key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from certify_circular.nag import NagClient
from certify_circular.networks import network_config
from certify_circular.service import load_wallet
from certify_circular.settings import CircularSettings
from certify_circular.transaction import LIB_VERSION, build_wallet_registration, format_timestamp
from certify_common.errors import Failure


async def register_and_fund(settings: CircularSettings, fund: Decimal | None, sandbox_url: str | None) -> str:
    """Register the configured wallet if needed, optionally fund it on the sandbox; returns the address."""
    wallet = load_wallet(settings)
    if wallet is None:
        raise SystemExit(f"{settings.private_key_env_name} is not set")
    network = network_config(settings)
    if network.nag_url is None:
        raise SystemExit("set CIRCULAR_NAG_URL")
    async with httpx.AsyncClient(timeout=settings.circular_nag_timeout_s) as http:
        nag = NagClient(http, network.nag_url, network.blockchain, settings.circular_nag_timeout_s)
        known = await nag.call(
            "Circular_CheckWallet_",
            {"Blockchain": network.blockchain, "Address": wallet.address, "Version": LIB_VERSION},
        )
        if isinstance(known, Failure):
            if known.details.get("type") != "WALLET_NOT_FOUND":
                raise SystemExit(f"CheckWallet failed: {known.code}: {known.message}")
            registration = build_wallet_registration(wallet, network.blockchain, format_timestamp(datetime.now(UTC)))
            added = await nag.add_transaction(registration)
            if isinstance(added, Failure):
                raise SystemExit(f"registration refused: {added.code}: {added.message}")
        if fund is not None:
            if settings.certify_env == "production":
                raise SystemExit("funding goes through the sandbox and is refused in production")
            base = sandbox_url or network.nag_url.split("/nag/", 1)[0]
            body = {"address": wallet.address, "amount": str(fund), "blockchain": network.blockchain}
            response = await http.post(f"{base}/_control/nag/fund", json=body)
            response.raise_for_status()
    return wallet.address


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fund", type=Decimal, default=None, help="CIRX to credit on the sandbox")
    parser.add_argument("--sandbox-url", default=None, help="sandbox base URL (default: derived from the NAG URL)")
    args = parser.parse_args(argv)
    address = asyncio.run(register_and_fund(CircularSettings(), args.fund, args.sandbox_url))
    sys.stdout.write(address + "\n")


if __name__ == "__main__":
    main()
