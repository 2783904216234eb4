"""The ``certify`` command: quote, certify (and pay), status, proof, verify, schema.

Settings come from the environment: ``CERTIFY_URL`` (default http://127.0.0.1:8080),
``CERTIFY_API_KEY``, ``CERTIFY_PAYER_KEY`` (with ``--pay-with-key env``) and ``CERTIFY_NAG_URL``.
Exit status: 0 success, 1 failure (an API error, an invalid proof), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import httpx
from pydantic import BaseModel, ValidationError

from certify_client.api import DEFAULT_URL, CertifyApiError, CertifyClient
from certify_client.models import StatusDocument, wire
from certify_client.payment import PaymentError, sign_payment
from certify_client.proof import load_proof, published_schema
from certify_client.verify import Verdict, sha256_file, verify_proof

#: Documented NAG bases per Circular network (specs/circular.md); CERTIFY_NAG_URL overrides.
NAG_URLS = {
    "testnet": "https://nag.circularlabs.io/NAG.php?cep=",
    "mainnet": "https://nag.circularlabs.io/NAG_Mainnet.php?cep=",
}


class UsageError(Exception):
    """A command line that cannot be carried out (exit status 2)."""


def _client() -> CertifyClient:
    return CertifyClient(os.environ.get("CERTIFY_URL", DEFAULT_URL), os.environ.get("CERTIFY_API_KEY") or None)


def _print(args: argparse.Namespace, human: str, data: BaseModel) -> None:
    print(json.dumps(wire(data), indent=2) if args.json else human, flush=True)


def payer_key(spec: str) -> str:
    """The payer's private key from ``env`` (CERTIFY_PAYER_KEY), ``env:NAME``, ``file:PATH`` or the hex itself."""
    if spec == "env" or spec.startswith("env:"):
        name = spec[4:] or "CERTIFY_PAYER_KEY"
        value = os.environ.get(name, "")
    elif spec.startswith("file:"):
        value = Path(spec[5:]).read_text(encoding="utf-8")
    else:
        value = spec
    value = value.strip()
    if len(value.removeprefix("0x")) != 64:
        raise UsageError("the payer key must be 32 bytes of hex (from env, env:NAME, file:PATH or the value)")
    return value


def _report(args: argparse.Namespace, status: StatusDocument) -> None:
    # Progress lines go to stderr under --json, so stdout stays one JSON document.
    print(_progress(status), file=sys.stderr if args.json else sys.stdout, flush=True)


def _progress(status: StatusDocument) -> str:
    steps = " → ".join(step.to for step in status.history)
    line = f"{status.request_id}: {status.status}"
    if steps:
        line += f"  ({steps})"
    job = status.certification_job
    if job is not None and job.attempts:
        line += f"  attempts={job.attempts}"
    error = status.error
    if error is not None:
        line += f"  error={error.code}: {error.message}"
    return line


async def cmd_quote(args: argparse.Namespace) -> int:
    async with _client() as client:
        quoted = await client.quote(await asyncio.to_thread(Path(args.file).read_bytes))
    price = quoted.quote
    _print(
        args,
        f"{args.file}: sha256 {quoted.data_hash}, {quoted.data_size_bytes} bytes\n"
        f"price: {price.usdc_amount} USDC ({price.cirx_fee} CIRX at {price.cirx_price_usd} USD), "
        f"valid until {quoted.valid_until}; networks: {', '.join(quoted.networks_supported)}",
        quoted,
    )
    return 0


async def cmd_certify(args: argparse.Namespace) -> int:
    path = Path(args.file)
    request_id = args.request_id or f"cli-{uuid.uuid4().hex}"
    key = payer_key(args.pay_with_key) if args.pay_with_key else None
    data = await asyncio.to_thread(path.read_bytes)
    async with _client() as client:
        offer = await client.request_certification(
            request_id, data, network=args.network, file_name=path.name, client_type="agent"
        )
        if isinstance(offer.body, StatusDocument):
            _print(args, _progress(offer.body), offer.body)
            return 0
        payment = offer.body.payment
        print(
            f"request {request_id}: {payment.amount_usdc} USDC on {payment.network} to {payment.pay_to}",
            file=sys.stderr,
        )
        if args.print_payment_link or key is None:
            print(offer.body.payment_link, flush=True)
        if key is None:
            print("not paid: pass --pay-with-key, or open the payment link", file=sys.stderr)
            return 0
        if offer.payment_required is None:
            raise UsageError("the 402 carries no PAYMENT-REQUIRED header to pay")
        signed = sign_payment(offer.payment_required, key)
        accepted = await client.pay(request_id, signed)
        print(f"paid by {signed.payer}: {_progress(accepted)}", file=sys.stderr)
        if not args.wait:
            _print(args, accepted.status_url, accepted)
            return 0
        final = await client.wait(request_id, timeout_s=args.timeout, on_change=lambda s: _report(args, s))
        _print(args, f"the proof: certify proof {request_id} -o proof.json", final)
        return 0 if final.status == "completed" else 1


async def cmd_status(args: argparse.Namespace) -> int:
    async with _client() as client:
        if not args.watch:
            current = await client.status(args.request_id)
            _print(args, _progress(current), current)
            return 0
        final = await client.wait(args.request_id, timeout_s=args.timeout, on_change=lambda s: _report(args, s))
    if args.json:
        _print(args, "", final)
    return 0 if final.status == "completed" else 1


async def cmd_proof(args: argparse.Namespace) -> int:
    async with _client() as client:
        proof = await client.proof(args.request_id)
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, proof.to_json() + "\n", encoding="utf-8")
        print(f"proof of {args.request_id} written to {args.output}", file=sys.stderr)
    else:
        print(proof.to_json(), flush=True)
    return 0


def _nag_url(args: argparse.Namespace, network: str) -> str:
    url = args.nag_url or os.environ.get("CERTIFY_NAG_URL") or NAG_URLS.get(network)
    if not url:
        raise UsageError(f"no NAG is known for network {network!r}: pass --nag-url or use --offline")
    return str(url)


async def cmd_verify(args: argparse.Namespace) -> int:
    proof = load_proof(await asyncio.to_thread(Path(args.proof).read_bytes))
    sha, size = await asyncio.to_thread(sha256_file, Path(args.file))
    nag = None if args.offline else _nag_url(args, proof.certification.network)
    result: Verdict = await verify_proof(proof, sha, size_bytes=size, nag_url=nag)
    lines = [f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}" for check in result.checks]
    where = "offline" if result.offline else f"against {nag}"
    lines.append(f"{'VALID' if result.valid else 'INVALID'} ({where})")
    _print(args, "\n".join(lines), result)
    return 0 if result.valid else 1


async def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(published_schema(), indent=2), flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per action)."""
    root = argparse.ArgumentParser(prog="certify", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    root.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub = root.add_subparsers(dest="command", required=True)
    quote = sub.add_parser("quote", help="price the certification of FILE")
    quote.add_argument("file")
    quote.set_defaults(run=cmd_quote)
    certify = sub.add_parser("certify", help="request (and pay for) the certification of FILE")
    certify.add_argument("file")
    certify.add_argument("--network", help="base, base-sepolia, arbitrum or arbitrum-sepolia")
    certify.add_argument("--request-id", help="idempotency key (default: a new one)")
    certify.add_argument("--pay-with-key", metavar="KEY", help="env (CERTIFY_PAYER_KEY), env:NAME, file:PATH or hex")
    certify.add_argument("--print-payment-link", action="store_true", help="print the payment page link")
    certify.add_argument("--no-wait", dest="wait", action="store_false", help="return once paid")
    certify.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for completion")
    certify.set_defaults(run=cmd_certify)
    status = sub.add_parser("status", help="where request ID stands")
    status.add_argument("request_id")
    status.add_argument("--watch", action="store_true", help="follow it until completed or failed")
    status.add_argument("--timeout", type=float, default=300.0, help="seconds to watch")
    status.set_defaults(run=cmd_status)
    proof = sub.add_parser("proof", help="the portable proof of request ID")
    proof.add_argument("request_id")
    proof.add_argument("-o", "--output", help="write it to this file")
    proof.set_defaults(run=cmd_proof)
    verify = sub.add_parser("verify", help="verify FILE against PROOF independently of certify")
    verify.add_argument("file")
    verify.add_argument("proof")
    verify.add_argument("--offline", action="store_true", help="do not read the chain")
    verify.add_argument("--nag-url", help="Circular NAG base, e.g. https://nag.circularlabs.io/NAG.php?cep=")
    verify.set_defaults(run=cmd_verify)
    schema = sub.add_parser("schema", help="print the proof's JSON Schema")
    schema.set_defaults(run=cmd_schema)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``certify`` console script."""
    args = parser().parse_args(argv)
    try:
        status: int = asyncio.run(args.run(args))
    except CertifyApiError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OSError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except (UsageError, PaymentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: not a certify proof: {exc.error_count()} problems\n{exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
