"""``GET /v1/webhook-secret``: the caller's key's secret for checking webhook signatures."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from certify_common.errors import failure
from certify_proxy.api.deps import PrincipalDep, SessionDep
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import AUTH, errors
from certify_proxy.api.schemas import WebhookSecret
from certify_proxy.store.models import ApiKey
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
    statement = select(ApiKey).where(ApiKey.id == caller.api_key_id)  # type: ignore[arg-type]
    key = (await session.execute(statement)).scalar_one()
    return WebhookSecret(
        webhook_secret=key.webhook_secret,
        timestamp_header=TIMESTAMP_HEADER,
        signature_header=SIGNATURE_HEADER,
        scheme='sha256=hex(HMAC-SHA256(secret, timestamp + "." + raw body))',
    )
