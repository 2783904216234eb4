"""New certification requests: validate, quote, offer (402), idempotent replays and re-quotes.

Network calls (quote, x402, qr) happen before the transaction that stores the request, so bad input
or an unavailable server leaves nothing half-written. State changes go through
``repositories.transition`` (validated in ``states.py``) in the same transaction as the data.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from pydantic_core import to_json

from certify_client.models import StatusDocument, wire
from certify_common.errors import Failure, FailureError, failure
from certify_common.evm import NETWORKS
from certify_proxy.api.schemas import CertifyBody
from certify_proxy.api_keys import Principal
from certify_proxy.certification import offers
from certify_proxy.certification.callback_targets import check_target
from certify_proxy.certification.documents import Document, check_callback_url, document_of_body
from certify_proxy.certification.states import AWAITING_PAYMENT, State
from certify_proxy.certification.status import is_final, status_view
from certify_proxy.certification.terms import DEFAULT_CLIENT_TYPE, Terms, owner_for
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import retry_dropped, transaction
from certify_proxy.store.models import CertificationRequest, aware, utcnow
from certify_proxy.store.offered import NewRequest, count_steps, insert_offered

T = TypeVar("T")

#: A stored offer is re-served only while its quote has at least this much life left.
REQUOTE_MARGIN = timedelta(seconds=15)


class Settled(StrEnum):
    """What a submission came to: an offer to pay, work accepted and under way, or a final state."""

    OFFER = "offer"
    ACCEPTED = "accepted"
    FINAL = "final"


@dataclass
class Outcome:
    """What the workflow decided: its kind, the body (the status document or the 402 offer), headers.

    The API turns the kind into an HTTP status (``api/routes/common.py``); nothing here speaks HTTP.
    """

    kind: Settled
    body: StatusDocument | OfferBody
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OfferBody:
    """A 402 body as JSON, rendered once (``offers.MadeOffer``) or stored with the request: sent as it is."""

    json: bytes


def check_network(runtime: Runtime, name: str | None) -> str:
    """The request's network (default from settings), or an :class:`FailureError`."""
    network = name or runtime.settings.default_network
    if network not in NETWORKS:
        raise FailureError(
            failure("unknown_network", f"network {network!r} is not supported", supported=sorted(NETWORKS))
        )
    if network not in runtime.settings.x402_networks:
        raise FailureError(
            failure(
                "network_not_enabled", f"network {network!r} is not enabled", enabled=runtime.settings.x402_networks
            )
        )
    return network


def terms_of(document: Document, network: str, body: CertifyBody) -> Terms:
    """The terms a request body asks for (defaults filled in)."""
    return Terms(
        data_hash=document.data_hash,
        data_size_bytes=document.size_bytes,
        network=network,
        client_type=body.client_type or DEFAULT_CLIENT_TYPE,
        callback_url=body.callback_url,
        file_name=body.file_name,
    )


def check_same_terms(request: CertificationRequest, terms: Terms) -> None:
    """409 ``request_conflict`` naming the fields when a replay asks for different terms."""
    differing = Terms.of_request(request).differences(terms)
    if differing:
        raise FailureError(
            failure(
                "request_conflict",
                "this request_id was used with a different body",
                request_id=request.request_id,
                fields=differing,
            )
        )


def _raise_if_failure(value: T | Failure) -> T:
    if isinstance(value, Failure):
        raise FailureError(value)
    return value


def _offer_outcome(request: CertificationRequest) -> Outcome:
    stored = offers.stored_offer(request)
    if stored is None:
        raise RuntimeError("a request awaiting payment has no stored offer")
    return Outcome(Settled.OFFER, OfferBody(to_json(wire(stored.body))), {"PAYMENT-REQUIRED": stored.header})


async def current_state(runtime: Runtime, request: CertificationRequest) -> Outcome:
    """200 with the status document when final, else 202 (the request is under way)."""
    async with runtime.reads() as session:
        fresh = await repo.get_request(session, request.request_key) or request
        view = await status_view(session, fresh, runtime.settings.public_base_url)
    return Outcome(Settled.FINAL if is_final(fresh) else Settled.ACCEPTED, view)


async def wait_for_final(runtime: Runtime, request_key: str, wait_s: float) -> Outcome | None:
    """Poll the store until the request is final or ``wait_s`` passes (then None)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        async with runtime.reads() as session:
            request = await repo.get_request(session, request_key)
            if request is not None and is_final(request):
                return Outcome(Settled.FINAL, await status_view(session, request, runtime.settings.public_base_url))
        await asyncio.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
    return None


async def _offer(
    runtime: Runtime, request_id: str, network: str, document: Document, client_type: str, links: offers.Links
) -> offers.MadeOffer:
    offer = _raise_if_failure(await runtime.offers.offer(network, request_id, document.size_bytes))
    body = _raise_if_failure(
        await offers.payment_required_body(runtime.x402, runtime.qr, request_id, client_type, offer, links)
    )
    return offers.made_offer(offer, body)


async def _new_offer(
    runtime: Runtime, body: CertifyBody, network: str, document: Document, terms: Terms, token: str, keyless: bool
) -> offers.MadeOffer:
    if terms.client_type == DEFAULT_CLIENT_TYPE:
        made = await runtime.agent_offers.offer(network, body.request_id, token, document.size_bytes, keyless=keyless)
        return _raise_if_failure(made)
    links = offers.links_for(runtime.settings, body.request_id, token, keyless=keyless)
    return await _offer(runtime, body.request_id, network, document, terms.client_type, links)


def _apply_offer(request: CertificationRequest, made: offers.MadeOffer) -> None:
    request.quote_id = secrets.token_hex(16)
    request.quote_json = made.quote_json
    request.amount_atomic = made.amount_atomic
    request.quote_valid_until = made.valid_until
    request.offer_json = made.offer_json


async def _find(runtime: Runtime, owner: str, request_id: str) -> CertificationRequest | None:
    async def find() -> CertificationRequest | None:
        async with runtime.reads() as session:
            return await repo.find_request(session, owner, request_id)

    return await retry_dropped(find)


async def new_request(runtime: Runtime, body: CertifyBody, principal: Principal) -> Outcome:
    """Handle a new-request body: create and offer, re-serve, re-quote, or report the current state.

    The request is inserted first (``ON CONFLICT DO NOTHING``): a replay is recognised by the conflict, so a
    new agent request costs one statement. Browsers' and phones' offers ask the x402 and qr servers for
    links and QR codes: their replays are looked up before that work.
    """
    settings = runtime.settings
    document = _raise_if_failure(
        await document_of_body(body.data, body.data_hash, body.data_size_bytes, settings.max_data_bytes)
    )
    network = check_network(runtime, body.network)
    if body.callback_url is not None:
        problem = check_callback_url(body.callback_url, settings.http_callbacks_allowed)
        if problem is not None:
            raise FailureError(problem)
        _raise_if_failure(await check_target(body.callback_url, allow_private=settings.webhooks_private_allowed))
    terms = terms_of(document, network, body)
    owner = owner_for(principal.api_key_id, terms)
    if terms.client_type != DEFAULT_CLIENT_TYPE:
        existing = await _find(runtime, owner, body.request_id)
        if existing is not None:
            return await _existing(runtime, existing, terms)
    token = secrets.token_urlsafe(24)
    started = utcnow()
    try:
        made = await _new_offer(runtime, body, network, document, terms, token, principal.api_key_id is None)
    except FailureError:
        # An unavailable server does not keep a stored offer from being re-served.
        existing = await _find(runtime, owner, body.request_id)
        if existing is None:
            raise
        return await _existing(runtime, existing, terms)
    row = NewRequest(
        request_key=secrets.token_hex(16),
        owner=owner,
        request_id=body.request_id,
        api_key_id=principal.api_key_id,
        fingerprint=terms.fingerprint,
        data_hash=document.data_hash,
        data_size_bytes=document.size_bytes,
        network=network,
        client_type=terms.client_type,
        callback_url=body.callback_url,
        file_name=body.file_name,
        public_token=token,
        quote_id=secrets.token_hex(16),
        quote_json=made.quote_json,
        amount_atomic=made.amount_atomic,
        quote_valid_until=made.valid_until,
        offer_json=made.offer_json,
        created_at=started,
        updated_at=utcnow(),
    )
    if await insert_offered(runtime.engine, runtime.direct, row, made.amount_usdc, autocommit=runtime.autocommit):
        count_steps(body.request_id, made.amount_usdc)
        return Outcome(Settled.OFFER, OfferBody(made.body), {"PAYMENT-REQUIRED": made.header})
    existing = await _find(runtime, owner, body.request_id)
    if existing is None:  # the conflicting request was deleted in between
        raise FailureError(
            failure("request_conflict", "the request is being created concurrently; retry", retryable=True)
        )
    return await _existing(runtime, existing, terms)


async def _existing(runtime: Runtime, request: CertificationRequest, terms: Terms) -> Outcome:
    check_same_terms(request, terms)
    async with runtime.reads() as session:
        paid = await repo.payment_for_request(session, request.request_key)
    if State(request.status) not in AWAITING_PAYMENT or paid is not None:
        # A payment is recorded (possibly still settling): never offer a second one.
        return await current_state(runtime, request)
    valid_until = aware(request.quote_valid_until)
    if valid_until is not None and valid_until - REQUOTE_MARGIN > utcnow():
        return _offer_outcome(request)
    document = Document(request.data_hash, request.data_size_bytes)
    links = offers.links_of(runtime.settings, request)
    made = await _offer(runtime, request.request_id, request.network, document, request.client_type, links)
    async with transaction(runtime.sessions) as session:
        locked = await repo.get_request(session, request.request_key, for_update=True)
        if locked is None or State(locked.status) not in AWAITING_PAYMENT:
            return await current_state(runtime, request)
        _apply_offer(locked, made)
        if State(locked.status) == State.PAYMENT_PENDING:
            repo.transition(session, locked, State.QUOTED, "quote expired: re-quoted")
            repo.transition(session, locked, State.PAYMENT_PENDING, "payment requested (402)")
        return _offer_outcome(locked)
