"""Whose request is this: lookups scoped to the caller, so a foreign request_id reads as unknown (404).

A keyed client sees the requests of its API key, by ``request_id``. A keyless request (no key names
its owner) is reached with its token, compared in constant time, or on a paid retry by repeating its
body. Every miss is the same ``request_not_found`` (``not_found`` for public links): a request of
another owner is indistinguishable from no request at all.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.errors import Failure, FailureError, failure
from certify_proxy.api.schemas import CertifyBody
from certify_proxy.api_keys import Principal
from certify_proxy.certification.documents import document_of_body
from certify_proxy.certification.intake import check_network, check_same_terms, terms_of
from certify_proxy.certification.terms import key_owner, owner_for
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.models import CertificationRequest


def not_found(request_id: str) -> FailureError:
    """The one answer for unknown and foreign ids."""
    return FailureError(failure("request_not_found", "no such request", request_id=request_id))


def match_token(rows: Iterable[CertificationRequest], token: str | None) -> CertificationRequest | None:
    """The row whose public token is ``token`` (constant-time comparison), if any."""
    if not token:
        return None
    given = token.encode()
    found = None
    for row in rows:
        if hmac.compare_digest(row.public_token.encode(), given):
            found = row
    return found


async def owned_request(
    session: AsyncSession, caller: Principal, request_id: str, token: str | None
) -> CertificationRequest:
    """The caller's request: by its key's namespace, or (keyless caller) a keyless request with its token."""
    if caller.api_key_id is not None:
        row = await repo.find_request(session, key_owner(caller.api_key_id), request_id)
    else:
        row = match_token(await repo.requests_with_id(session, request_id, keyless_only=True), token)
    if row is None:
        raise not_found(request_id)
    return row


async def paid_request(
    runtime: Runtime,
    body: CertifyBody,
    caller: Principal,
    token: str | None,
    found: CertificationRequest | None = None,
) -> CertificationRequest:
    """The request a paid ``POST /v1/certify`` pays for; a repeated body must describe it (else 409).

    ``found``: the caller's request under ``body.request_id`` when the rate limit's check already read it (see
    ``payments.exempt_paid_retry``); it is used when it is the row this lookup would find, saving a query."""
    if body.data is None and body.data_hash is None:
        if found is not None:
            return found
        async with runtime.reads() as session:
            return await owned_request(session, caller, body.request_id, token)
    settings = runtime.settings
    document = await document_of_body(body.data, body.data_hash, body.data_size_bytes, settings.max_data_bytes)
    if isinstance(document, Failure):
        raise FailureError(document)
    terms = terms_of(document, check_network(runtime, body.network), body)
    owner = owner_for(caller.api_key_id, terms)
    row = found if found is not None and found.owner == owner and found.request_id == body.request_id else None
    if row is None:
        async with runtime.reads() as session:
            row = await repo.find_request(session, owner, body.request_id)
            if row is None and caller.api_key_id is None and token:
                row = match_token(await repo.requests_with_id(session, body.request_id, keyless_only=True), token)
    if row is None:
        raise not_found(body.request_id)
    check_same_terms(row, terms)
    return row
