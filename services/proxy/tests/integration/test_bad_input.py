"""One row per bad input: its status and code, and no row written anywhere (counts before = after)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from certify_proxy.cli import main

pytestmark = pytest.mark.integration

OTHER_KEY = "0x" + "8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f"
MAX_BYTES = 10 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rid() -> str:
    return f"bad-{uuid.uuid4().hex[:12]}"


class Ctx:
    """A paid request A and an unpaid request B (made before the counts are taken), and the helpers."""

    def __init__(
        self, proxy: Any, proxy_b: Any, stack: Any, kit: Any, api: Callable[..., dict[str, str]], db: Any
    ) -> None:
        self.proxy, self.proxy_b, self.kit, self.api = proxy, proxy_b, kit, api
        # A key whose write window is full on the proxy with the default limit (10/min): quotes write no rows.
        self.limited_key = _create_key(db.url)
        self.admin_key = _create_key(db.url, "--admin")
        for _ in range(10):
            quoted = httpx.post(
                proxy_b.url + "/v1/quote",
                json={"data": _b64(b"q")},
                headers={"X-API-Key": self.limited_key},
                timeout=30,
            )
            assert quoted.status_code == 200, quoted.text
        kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
        self.offer_a = self._offer()
        self.paid_a = kit.sign(self.offer_a)
        answer = httpx.post(
            proxy.url + "/v1/certify",
            json={"request_id": self.offer_a["request_id"]},
            headers=api(**{"X-PAYMENT": self.paid_a}),
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        self.offer_b = self._offer()

    def _offer(self) -> dict[str, Any]:
        body = {"request_id": _rid(), "data": _b64(secrets.token_bytes(64)), "network": "base-sepolia"}
        answer = httpx.post(self.proxy.url + "/v1/certify", json=body, headers=self.api(), timeout=30)
        assert answer.status_code == 402, answer.text
        return answer.json()

    def pay_b(self, header: str, name: str = "X-PAYMENT") -> tuple[str, str, dict[str, Any]]:
        return (
            "POST",
            "/v1/certify",
            {"json": {"request_id": self.offer_b["request_id"]}, "headers": self.api(**{name: header})},
        )


def _new(**fields: Any) -> Callable[[Ctx], tuple[str, str, dict[str, Any]]]:
    def build(ctx: Ctx) -> tuple[str, str, dict[str, Any]]:
        body = {"request_id": _rid(), "data": _b64(b"a document"), "network": "base-sepolia", **fields}
        body = {key: value for key, value in body.items() if value is not None}
        return "POST", "/v1/certify", {"json": body, "headers": ctx.api()}

    return build


def _forged(ctx: Ctx) -> tuple[str, str, dict[str, Any]]:
    # Signed by another key while claiming the funded payer: the signature recovers to the wrong address.
    genuine = json.loads(base64.b64decode(ctx.kit.sign(ctx.offer_b)))
    forged = json.loads(base64.b64decode(ctx.kit.sign(ctx.offer_b, key=OTHER_KEY)))
    forged["payload"]["authorization"] = {
        **forged["payload"]["authorization"],
        "from": genuine["payload"]["authorization"]["from"],
    }
    return ctx.pay_b(base64.b64encode(json.dumps(forged).encode()).decode())


def _create_key(db_url: str, *flags: str) -> str:
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setenv("DATABASE_URL", db_url)
        patch.setenv("CERTIFY_ENV", "test")
        assert main(["keys", "create", "limited", *flags]) == 0
    return str(json.loads(output.getvalue().strip().splitlines()[-1])["api_key"])


def _over_the_limit(ctx: Ctx) -> tuple[str, str, dict[str, Any]]:
    body = {"request_id": _rid(), "data": _b64(b"one too many"), "network": "base-sepolia"}
    return "POST", ctx.proxy_b.url + "/v1/certify", {"json": body, "headers": {"X-API-Key": ctx.limited_key}}


ROWS: list[tuple[str, Callable[[Ctx], tuple[str, str, dict[str, Any]]], int, str]] = [
    (
        "missing request_id",
        lambda c: ("POST", "/v1/certify", {"json": {"data": _b64(b"x")}, "headers": c.api()}),
        422,
        "invalid_request",
    ),
    ("malformed request_id", _new(request_id="has spaces/and slashes"), 422, "invalid_request"),
    ("neither data nor data_hash", _new(data=None), 422, "invalid_request"),
    ("both data and data_hash", _new(data_hash="ab" * 32), 422, "invalid_request"),
    ("unknown field", _new(colour="blue"), 422, "invalid_request"),
    ("data over 10 MB", _new(data=_b64(b"\0" * (MAX_BYTES + 1))), 413, "data_too_large"),
    (
        "body far over the limit",
        lambda c: (
            "POST",
            "/v1/certify",
            {
                "content": b"{" + b" " * (15 * 1024 * 1024) + b"}",
                "headers": {**c.api(), "Content-Type": "application/json"},
            },
        ),
        413,
        "body_too_large",
    ),
    ("bad base64", _new(data="this is *not* base64!"), 422, "invalid_base64"),
    ("bad data_hash", _new(data=None, data_hash="0x1234"), 422, "invalid_data_hash"),
    ("unknown network", _new(network="dogechain"), 422, "unknown_network"),
    ("http callback outside dev", _new(callback_url="http://example.com/hook"), 422, "invalid_callback_url"),
    (
        "quote without size for a hash",
        lambda c: ("POST", "/v1/quote", {"json": {"data_hash": "ab" * 32}, "headers": c.api()}),
        422,
        "invalid_request",
    ),
    ("missing API key", lambda c: ("POST", "/v1/quote", {"json": {"data": _b64(b"x")}}), 401, "missing_api_key"),
    (
        "wrong API key",
        lambda c: ("POST", "/v1/quote", {"json": {"data": _b64(b"x")}, "headers": {"X-API-Key": "ck_wrong"}}),
        401,
        "invalid_api_key",
    ),
    (
        "status of an unknown request",
        lambda c: ("GET", f"/v1/status/{_rid()}", {"headers": c.api()}),
        404,
        "request_not_found",
    ),
    ("payment page without token", lambda c: ("GET", f"/pay/{c.offer_b['request_id']}", {}), 404, "not_found"),
    (
        "payment page with a wrong token",
        lambda c: ("GET", f"/pay/{c.offer_b['request_id']}?token=guess", {}),
        404,
        "not_found",
    ),
    ("QR image without token", lambda c: ("GET", f"/v1/qr/{c.offer_b['request_id']}", {}), 404, "not_found"),
    (
        "pay callback without token",
        lambda c: ("POST", f"/v1/pay/{c.offer_b['request_id']}", {"json": {"payment": c.kit.sign(c.offer_b)}}),
        404,
        "not_found",
    ),
    ("payment header not base64 JSON", lambda c: c.pay_b("not-a-payment"), 402, "invalid_payload"),
    (
        "payment for an unknown request",
        lambda c: (
            "POST",
            "/v1/certify",
            {"json": {"request_id": _rid()}, "headers": c.api(**{"X-PAYMENT": c.kit.sign(c.offer_b)})},
        ),
        404,
        "request_not_found",
    ),
    (
        "expired authorization",
        lambda c: c.pay_b(c.kit.sign(c.offer_b, valid_before=int(time.time()) - 5)),
        402,
        "expired",
    ),
    ("forged signature", _forged, 402, "invalid_signature"),
    ("underpaid", lambda c: c.pay_b(c.kit.sign(c.offer_b, value="29999")), 402, "amount_mismatch"),
    ("request A's authorization on request B", lambda c: c.pay_b(c.paid_a), 402, "nonce_already_used"),
    ("write over the rate limit", _over_the_limit, 429, "rate_limited"),
    (
        "v2 payment naming another network",
        lambda c: c.pay_b(_other_network_v2(c), "PAYMENT-SIGNATURE"),
        402,
        "network_mismatch",
    ),
]


def _signed_b(ctx: Ctx, version: int = 1) -> dict[str, Any]:
    return json.loads(base64.b64decode(ctx.kit.sign(ctx.offer_b, version=version)))  # type: ignore[no-any-return]


def _encoded(payment: Any) -> str:
    return base64.b64encode(json.dumps(payment).encode()).decode()


def _hostile(
    path: str, value: Callable[[Any], Any], version: int = 1
) -> Callable[[Ctx], tuple[str, str, dict[str, Any]]]:
    """Request B paid with a genuine signed payment whose field at ``path`` is replaced by ``value(old)``."""

    def build(ctx: Ctx) -> tuple[str, str, dict[str, Any]]:
        payment = _signed_b(ctx, version)
        *parents, last = path.split(".")
        target = payment
        for key in parents:
            target = target[key]
        target[last] = value(target[last])
        return ctx.pay_b(_encoded(payment), "X-PAYMENT" if version == 1 else "PAYMENT-SIGNATURE")

    return build


def _raw_b(payload: bytes) -> Callable[[Ctx], tuple[str, str, dict[str, Any]]]:
    return lambda c: c.pay_b(base64.b64encode(payload).decode())


AUTH = "payload.authorization"
HOSTILE_HEADERS: list[tuple[str, Callable[[Ctx], tuple[str, str, dict[str, Any]]], int, str]] = [
    ("value superscript two", _hostile(f"{AUTH}.value", lambda _: "²"), 402, "invalid_payload"),
    ("value in Arabic-Indic digits", _hostile(f"{AUTH}.value", lambda _: "١٢٣"), 402, "invalid_payload"),
    ("negative value", _hostile(f"{AUTH}.value", lambda old: "-" + old), 402, "invalid_payload"),
    ("value of 2**256", _hostile(f"{AUTH}.value", lambda _: str(2**256)), 402, "invalid_payload"),
    ("value with a leading plus", _hostile(f"{AUTH}.value", lambda old: "+" + old), 402, "invalid_payload"),
    ("value with a trailing newline", _hostile(f"{AUTH}.value", lambda old: old + "\n"), 402, "invalid_payload"),
    ("nonce with a trailing newline", _hostile(f"{AUTH}.nonce", lambda old: old + "\n"), 402, "invalid_payload"),
    ("from with a trailing newline", _hostile(f"{AUTH}.from", lambda old: old + "\n"), 402, "invalid_payload"),
    (
        "v2 nonce with a trailing newline",
        _hostile(f"{AUTH}.nonce", lambda old: old + "\n", version=2),
        402,
        "invalid_payload",
    ),
    ("x402Version 3", _hostile("x402Version", lambda _: 3), 402, "invalid_x402_version"),
    ("base64 of non-JSON", _raw_b(b"certainly not JSON"), 402, "invalid_payload"),
    ("base64 of a JSON array", _raw_b(b"[1, 2, 3]"), 402, "invalid_payload"),
    ("base64 of a JSON string", _raw_b(b'"a payment"'), 402, "invalid_payload"),
    ("base64 of deeply nested JSON", _raw_b(b"[" * 4000 + b"]" * 4000), 402, "invalid_payload"),
    ("huge payment header", lambda c: c.pay_b("A" * 12_000), 402, "invalid_payload"),
    (
        "v2 accepted block altered",
        _hostile("accepted", lambda old: {**old, "maxTimeoutSeconds": old["maxTimeoutSeconds"] + 1}, version=2),
        402,
        "accepted_mismatch",
    ),
    ("callback_url that is not a URL", _new(callback_url="https://["), 422, "invalid_callback_url"),
    ("callback_url with a NUL", _new(callback_url="https://example.com/\x00"), 422, "invalid_callback_url"),
    ("data_hash with a trailing newline", _new(data=None, data_hash="ab" * 32 + "\n"), 422, "invalid_data_hash"),
    (
        "quote of a data_hash with a trailing newline",
        lambda c: (
            "POST",
            "/v1/quote",
            {"json": {"data_hash": "ab" * 32 + "\n", "data_size_bytes": 5}, "headers": c.api()},
        ),
        422,
        "invalid_data_hash",
    ),
    ("file_name with a NUL", _new(file_name="report\x00.pdf"), 422, "invalid_request"),
    ("file_name with a newline", _new(file_name="report\n.pdf"), 422, "invalid_request"),
    (
        "admin requeue of an id beyond the integer range",
        lambda c: ("POST", f"/v1/admin/dead-letters/{2**31}/requeue", {"headers": {"X-API-Key": c.admin_key}}),
        422,
        "invalid_request",
    ),
]
ROWS += HOSTILE_HEADERS


def _other_network_v2(ctx: Ctx) -> str:
    payment = json.loads(base64.b64decode(ctx.kit.sign(ctx.offer_b, version=2)))
    payment["accepted"] = {**payment["accepted"], "network": "eip155:421614"}
    return base64.b64encode(json.dumps(payment).encode()).decode()


@pytest.fixture(scope="module")
def ctx(proxy: Any, proxy_b: Any, stack: Any, kit: Any, db: Any) -> Ctx:
    return Ctx(proxy, proxy_b, stack, kit, lambda **extra: {"X-API-Key": kit.dev_key, **extra}, db)


@pytest.mark.parametrize(("name", "build", "status", "code"), ROWS, ids=[row[0] for row in ROWS])
def test_bad_input_is_refused_with_its_code_and_writes_nothing(
    ctx: Ctx, db: Any, name: str, build: Any, status: int, code: str
) -> None:
    method, path, kwargs = build(ctx)
    before = db.counts()
    url = path if path.startswith("http") else ctx.proxy.url + path
    answer = httpx.request(method, url, timeout=60, **kwargs)
    after = db.counts()
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text[:500]
    body = answer.json()
    assert set(body) == {"code", "message", "retryable", "details"}
    assert after == before


@pytest.mark.parametrize("padded", [True, False])
def test_a_url_safe_payment_header_pays_like_a_standard_one(ctx: Ctx, padded: bool) -> None:
    offer = ctx._offer()
    payment = json.loads(base64.b64decode(ctx.kit.sign(offer)))
    # Pad the payment until its URL-safe base64 uses the URL-specific characters ("-" or "_").
    for filler in range(64):
        header = base64.urlsafe_b64encode(json.dumps({**payment, "memo": "?" * filler + ">"}).encode()).decode()
        if "-" in header or "_" in header:
            break
    else:
        pytest.fail("no filler gave URL-specific base64 characters")
    header = header if padded else header.rstrip("=")
    answer = httpx.post(
        ctx.proxy.url + "/v1/certify",
        json={"request_id": offer["request_id"]},
        headers=ctx.api(**{"X-PAYMENT": header}),
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
