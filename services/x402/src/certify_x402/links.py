"""Wallet links: open the service's payment page inside a wallet's browser, or an EIP-681 send link.

The page link is the x402 way (the page asks the wallet for ``eth_signTypedData_v4`` and posts a
real authorization); the EIP-681 link makes the payer broadcast a plain ``transfer``, which no
facilitator can settle (specs/x402.md, "Wallet links"). Both use certify_common.eip681, the
encoder the qr service uses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

from certify_common.eip681 import TransferRequest, eip681_uri
from certify_common.errors import Failure, failure

Wallet = Literal["metamask", "coinbase", "rainbow"]

WALLET_NAMES: dict[str, str] = {"metamask": "MetaMask", "coinbase": "Coinbase Wallet", "rainbow": "Rainbow"}


@dataclass(frozen=True)
class Link:
    """One labelled link."""

    kind: str
    url: str
    label: str


def dapp_link(wallet: Wallet, page_url: str) -> str:
    """A universal link that opens ``page_url`` in the wallet's in-app browser."""
    if wallet == "metamask":
        parts = urlsplit(page_url)
        tail = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
        return f"https://link.metamask.io/dapp/{tail}"
    if wallet == "coinbase":
        return f"https://go.cb-w.com/dapp?cb_url={quote(page_url, safe='')}"
    return f"https://rnbwapp.com/dapp?url={quote(page_url, safe='')}"


def check_page_url(page_url: str) -> str | Failure:
    """Only absolute http(s) URLs can open in a wallet browser (https outside loopback)."""
    parts = urlsplit(page_url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme not in ("http", "https") or not parts.netloc or (parts.scheme == "http" and not loopback):
        return failure("invalid_page_url", "page_url must be an absolute https URL", field="page_url")
    return page_url


def wallet_links(wallet: Wallet, page_url: str, transfer: TransferRequest) -> list[Link]:
    """The page link first (the recommended x402 path), then the EIP-681 send alternatives."""
    name = WALLET_NAMES[wallet]
    uri = eip681_uri(transfer)
    links = [
        Link(
            "wallet_browser",
            dapp_link(wallet, page_url),
            f"Opens the payment page in {name}'s browser; the page asks {name} to sign a gasless x402 "
            "USDC authorization (recommended).",
        ),
        Link(
            "eip681_transfer",
            uri,
            "Plain ERC-20 transfer request (EIP-681) for any wallet: the payer sends USDC and pays gas. "
            "Not an x402 payment: it cannot be settled by the facilitator.",
        ),
    ]
    if wallet == "metamask":
        links.append(
            Link(
                "metamask_send",
                "https://link.metamask.io/send/" + uri.removeprefix("ethereum:"),
                "The same plain ERC-20 transfer, opened directly in MetaMask's send screen (payer pays gas).",
            )
        )
    return links
