"""``GET /v1/qr/{request_id}``: the QR code of a request's payment page (public link, token required)."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from certify_common.errors import Failure
from certify_proxy.api.deps import PublicRequest, RuntimeDep
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import PUBLIC, UPSTREAM, errors
from certify_proxy.certification import offers

router = APIRouter(tags=["payment page"])


@router.get(
    "/v1/qr/{request_id}",
    summary="QR code opening the payment page (png, svg or ascii)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}, "text/plain": {}}}, **errors(PUBLIC, UPSTREAM)},
)
async def get_qr(
    request: PublicRequest,
    runtime: RuntimeDep,
    format: Annotated[Literal["png", "svg", "ascii"], Query(description="Image format.")] = "png",
    size: Annotated[int, Query(ge=64, le=2048, description="Width in pixels (png, svg).")] = 320,
) -> Response:
    """The payment page link of the request, as a QR code."""
    link = offers.links_of(runtime.settings, request).payment_link
    headers = {"Cache-Control": "private, max-age=300"}
    if format == "ascii":
        drawn = await runtime.qr.ascii(link)
        if isinstance(drawn, Failure):
            raise ApiError(drawn)
        return Response(drawn.text, media_type="text/plain; charset=utf-8", headers=headers)
    image = await runtime.qr.image(link, format, size)
    if isinstance(image, Failure):
        raise ApiError(image)
    return Response(base64.b64decode(image.base64), media_type=image.mime_type, headers=headers)
