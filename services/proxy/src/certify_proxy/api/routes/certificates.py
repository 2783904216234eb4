"""Portable proofs: ``GET /v1/certificates/{id}/proof`` and ``POST /v1/verify``.

The proof format and its verifier live in ``certify_client`` (what a third party runs); the proxy only
serves proofs built from what it stored and answers verdicts with the same checks, plus whether the
circular server can read the same transaction back from its chain.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from certify_client.proof import CircularProof, Proof, proof_from_circular
from certify_client.verify import Check, Verdict, offline_checks, verdict
from certify_common.errors import Failure, failure
from certify_proxy.api.deps import ReadCaller, RuntimeDep, SessionDep
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import READ, errors
from certify_proxy.certification.ownership import owned_request
from certify_proxy.certification.states import State
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.models import Certification, CertificationRequest

router = APIRouter(tags=["certificates"])

#: How long a client should wait before asking again for the proof of a request still under way.
PROOF_RETRY_AFTER_S = 5


def portable_proof(request: CertificationRequest, stored: Certification | None) -> Proof:
    """The certify-proof of a completed request from what was stored; ``proof_not_ready`` before that."""
    if State(request.status) != State.COMPLETED or stored is None:
        raise ApiError(
            failure(
                "proof_not_ready",
                f"the request is {request.status}; the proof exists once it is completed",
                retryable=State(request.status) != State.FAILED,
                retry_after=PROOF_RETRY_AFTER_S,
                status=request.status,
            )
        )
    try:
        return proof_from_circular(
            CircularProof.model_validate_json(stored.proof_json),
            request_id=request.request_id,
            size_bytes=request.data_size_bytes,
            name=request.file_name,
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise ApiError(failure("proof_unavailable", "the stored proof cannot be rendered", retryable=False)) from exc


class VerifyBody(BaseModel):
    """A proof and the SHA-256 of the document it should certify."""

    model_config = ConfigDict(extra="forbid")

    proof: Proof = Field(description="A certify-proof (version 1) document.")
    sha256: str = Field(pattern=r"^(0x)?[0-9a-fA-F]{64}$", description="SHA-256 of the document, 64 hex.")
    size_bytes: int | None = Field(None, ge=0, description="Size of the document, checked when given.")


@router.get(
    "/v1/certificates/{request_id}/proof",
    summary="The portable proof of a completed certification (format certify-proof, version 1)",
    response_model=Proof,
    response_model_by_alias=True,
    responses=errors(READ, 404, 409),
)
async def get_proof(
    request_id: str,
    caller: ReadCaller,
    session: SessionDep,
    token: Annotated[str | None, Query(description="A keyless request's token.")] = None,
) -> Proof:
    """The proof anyone can re-verify with `certify verify`; 404 for unknown ids and other clients' requests."""
    request = await owned_request(session, caller, request_id, token)
    stored = await repo.certification_for_request(session, request.request_key)
    return portable_proof(request, stored)


async def _chain_check(runtime: Runtime, proof: Proof) -> Check:
    read = await runtime.circular.proof(proof.transaction.id)
    if isinstance(read, Failure):
        return Check(name="chain", ok=False, detail=f"the circular server cannot confirm it: {read.code}")
    same = (
        read.blockchain == proof.certification.blockchain
        and read.block_id == proof.certification.block_id
        and read.transaction.signature == proof.transaction.signature
        and read.transaction.public_key == proof.transaction.public_key
    )
    detail = "the transaction is Executed on chain as in the proof"
    return Check(name="chain", ok=same, detail=detail if same else "the transaction on chain differs from the proof")


@router.post(
    "/v1/verify",
    summary="Verify a proof against a document hash (the same checks as `certify verify`)",
    responses=errors(READ, 413),
)
async def post_verify(body: VerifyBody, runtime: RuntimeDep, _caller: ReadCaller) -> Verdict:
    """Every check with its outcome; ``valid`` only when all pass. Invalid proofs are a 200 with reasons."""
    checks = offline_checks(body.proof, body.sha256, body.size_bytes)
    checks.append(await _chain_check(runtime, body.proof))
    return verdict(checks, offline=False)
