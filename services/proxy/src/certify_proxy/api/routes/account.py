"""``GET /v1/webhook-secret``: the caller's key's secret for checking webhook signatures."""

from __future__ import annotations

from fastapi import APIRouter

from certify_common.errors import failure, require
from certify_proxy.api.deps import PrincipalDep, SessionDep
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import AUTH, errors
from certify_proxy.api.schemas import WebhookSecret
from certify_proxy.store import keys
from certify_proxy.tasks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER

router = APIRouter(tags=["webhooks"])


@router.get(
    "/v1/webhook-secret",
    summary="The HMAC secret webhooks of your key are signed with",
    responses=errors(AUTH, 404),
)
async def webhook_secret(caller: PrincipalDep, session: SessionDep) -> WebhookSecret:
    """Your key's webhook secret and how signatures are made (keyless callers have none: 404)."""
    if caller.api_key_id is None:
        raise ApiError(failure("not_found", "keyless requests use the deployment's WEBHOOK_SECRET"))
    key = require(await keys.by_id(session, caller.api_key_id), "the caller's key")
    return WebhookSecret(
        webhook_secret=key.webhook_secret,
        timestamp_header=TIMESTAMP_HEADER,
        signature_header=SIGNATURE_HEADER,
        scheme='sha256=hex(HMAC-SHA256(secret, timestamp + "." + raw body))',
    )
