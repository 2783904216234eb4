"""Real-browser fixtures: Debian's chromium, a test EIP-1193 wallet that signs in Python, a loopback-only guard.

The stack (sandbox, x402, quote, qr, circular, proxy) comes from the parent conftest, as processes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import types
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from eth_account import Account
from playwright.sync_api import ConsoleMessage, Error, Page, Route, sync_playwright

from certify_common.evm import NETWORKS
from certify_testkit.processes import ServiceProcess, log_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
WALLET_JS = Path(__file__).with_name("wallet.js").read_text(encoding="utf-8")
PHONE = {"width": 390, "height": 844}


class WalletError(Exception):
    """An EIP-1193 error the wallet answers with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class TestWallet:
    """What MetaMask does for the page, signing with a local eth-account key.

    It starts on Ethereum mainnet and knows no other chain, so the page must switch and add the chain.
    """

    __test__ = False

    def __init__(self, key: str) -> None:
        self.account = Account.from_key(key)
        self.key = key
        self.chain_id = 1
        self.known_chains = {1}
        self.refuse_switch = False
        self.reject_signature = False
        self.before_signing: Callable[[], None] | None = None
        self.calls: list[str] = []
        self.signed: list[dict[str, Any]] = []

    @property
    def address(self) -> str:
        return str(self.account.address)

    def handle(self, method: str, params_json: str) -> str:
        """One EIP-1193 request from the page, answered as JSON."""
        self.calls.append(method)
        try:
            result = self._dispatch(method, json.loads(params_json))
        except WalletError as exc:
            return json.dumps({"error": {"code": exc.code, "message": str(exc)}})
        return json.dumps({"result": result})

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.address]
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "wallet_switchEthereumChain":
            return self._switch(int(params[0]["chainId"], 16))
        if method == "wallet_addEthereumChain":
            chain = params[0]
            if not chain.get("rpcUrls") or not chain.get("chainName") or chain["nativeCurrency"]["decimals"] != 18:
                raise WalletError(-32602, "invalid chain parameters")
            self.known_chains.add(int(chain["chainId"], 16))
            return None
        if method == "eth_signTypedData_v4":
            return self._sign(params)
        raise WalletError(4200, f"unsupported method {method}")

    def _switch(self, chain_id: int) -> None:
        if self.refuse_switch:
            raise WalletError(4001, "User rejected the request.")
        if chain_id not in self.known_chains:
            raise WalletError(4902, "Unrecognized chain ID. Try adding the chain using wallet_addEthereumChain first.")
        self.chain_id = chain_id

    def _sign(self, params: list[Any]) -> str:
        address, typed_json = params
        if str(address).lower() != self.address.lower():
            raise WalletError(4100, "the requested account is not authorized")
        typed = json.loads(typed_json)
        if int(typed["domain"]["chainId"]) != self.chain_id:  # as MetaMask: sign only for the active chain
            raise WalletError(-32603, "chainId in the typed data does not match the active chain")
        if self.reject_signature:
            raise WalletError(4001, "User rejected the request.")
        if self.before_signing is not None:
            self.before_signing()
        self.signed.append(typed)
        signed = Account.sign_typed_data(self.key, full_message=typed)
        return "0x" + signed.signature.hex().removeprefix("0x")


def off_loop(function: Callable[[], Any]) -> Any:
    """Run blocking test code (asyncio.run inside) from a Playwright callback, which runs on its event loop."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(function).result(timeout=30)


def usdc_balance(sandbox_url: str, network: str, address: str) -> int:
    """balanceOf(address) on the sandbox chain, through its JSON-RPC."""
    call = {"to": NETWORKS[network].usdc_address, "data": "0x70a08231" + address.lower().removeprefix("0x").zfill(64)}
    answer = httpx.post(
        f"{sandbox_url}/rpc/{network}",
        json={"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]},
        timeout=10,
    )
    answer.raise_for_status()
    return int(answer.json()["result"], 16)


@pytest.fixture
def chain(stack: Any) -> types.SimpleNamespace:
    """The sandbox chain as the tests read it."""
    sandbox_url = stack["sandbox"].url
    return types.SimpleNamespace(balance=lambda address: usdc_balance(sandbox_url, "base-sepolia", address))


@pytest.fixture(scope="module")
def page_database(databases: Callable[..., types.SimpleNamespace]) -> types.SimpleNamespace:
    """A PostgreSQL database of this module's own (``url``, ``fetch``): its proxy's workers take only the jobs
    of these tests."""
    return databases("page")


@pytest.fixture(scope="module")
def page_proxy(
    stack: dict[str, ServiceProcess],
    redis_env: dict[str, str],
    kit: types.SimpleNamespace,
    page_database: types.SimpleNamespace,
) -> Iterator[ServiceProcess]:
    """A proxy with a certification worker (the session's proxy runs none), on the stack's MCP servers."""
    process = kit.start_worker_proxy(stack, page_database.url, redis_env, "page")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def records(page_database: types.SimpleNamespace) -> types.SimpleNamespace:
    """The page proxy's database, read and changed off Playwright's event loop (asyncpg needs its own)."""

    def payments(request_id: str) -> list[dict[str, Any]]:
        query = (
            "SELECT p.status, p.payer, p.amount_atomic FROM payments p"
            " JOIN certification_requests USING (request_key) WHERE request_id = $1"
        )
        rows: list[dict[str, Any]] = off_loop(lambda: page_database.fetch(query, request_id))
        return rows

    def expire_quote(request_id: str) -> None:
        past = datetime.now(UTC) - timedelta(minutes=1)
        statement = "UPDATE certification_requests SET quote_valid_until = $1 WHERE request_id = $2"
        off_loop(lambda: page_database.fetch(statement, past, request_id))

    return types.SimpleNamespace(payments=payments, expire_quote=expire_quote)


@pytest.fixture
def wallet(stack: Any, kit: types.SimpleNamespace) -> TestWallet:
    """A fresh payer holding 1 USDC on base-sepolia at the sandbox."""
    test_wallet = TestWallet("0x" + Account.create().key.hex().removeprefix("0x"))
    kit.fund(stack["sandbox"], "base-sepolia", test_wallet.address, 1_000_000)
    return test_wallet


@pytest.fixture
def new_offer(page_proxy: ServiceProcess, api: Callable[..., dict[str, str]]) -> Callable[[], dict[str, Any]]:
    """Create a mobile request (named document) and return its 402 body."""

    def create() -> dict[str, Any]:
        document = f"Lease agreement {uuid.uuid4()}".encode()
        body = {
            "request_id": f"page-{uuid.uuid4().hex[:12]}",
            "data": base64.b64encode(document).decode(),
            "network": "base-sepolia",
            "client_type": "mobile",
            "file_name": "lease <agreement>.pdf",
        }
        answer = httpx.post(page_proxy.url + "/v1/certify", json=body, headers=api(), timeout=30)
        assert answer.status_code == 402, answer.text
        offer: dict[str, Any] = answer.json()
        offer["document_sha256"] = "0x" + hashlib.sha256(document).hexdigest()
        return offer

    return create


class BrowserSession(types.SimpleNamespace):
    """The page, the hosts it tried to reach outside loopback, and what it logged."""

    page: Page
    outside: list[str]
    console_errors: list[str]
    page_errors: list[str]

    def screenshot(self, name: str) -> Path:
        """Keep a full-page screenshot under the test-log folder (a test artifact) and print its path."""
        path = log_dir() / f"browser-{name}-{uuid.uuid4().hex[:6]}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def browser(wallet: TestWallet, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BrowserSession]:
    """Headless chromium on a fresh profile, phone-sized, with the test wallet injected; loopback only.

    The page's last look is kept as a screenshot under the test-log folder, whatever the outcome.
    """
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            service_workers="block",
        )
        session = BrowserSession(outside=[], console_errors=[], page_errors=[])

        def guard(route: Route) -> None:
            url = urlsplit(route.request.url)
            if url.scheme not in ("http", "https", "ws", "wss") or (url.hostname or "") in LOOPBACK:
                route.continue_()
            else:
                session.outside.append(route.request.url)
                route.abort("blockedbyclient")

        context.route("**/*", guard)
        context.expose_function("__certifyWallet", wallet.handle)
        context.add_init_script(WALLET_JS)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(20_000)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                session.console_errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: session.page_errors.append(str(error)))
        session.page = page
        try:
            yield session
        finally:
            with contextlib.suppress(Error):
                if page.url.startswith("http"):
                    session.screenshot(f"last-{request.node.name}")
            with contextlib.suppress(Error):
                context.close()
    assert session.outside == [], f"the page reached outside loopback: {session.outside}"
    assert session.page_errors == [], session.page_errors
    assert not [text for text in session.console_errors if "Refused" in text], session.console_errors
