"""Helpers shared by routes: turning workflow outcomes into responses, ``Prefer: wait=N``."""

from __future__ import annotations

import re

from fastapi.responses import Response

from certify_client.models import wire
from certify_proxy.api.json_response import FastJSONResponse
from certify_proxy.certification.intake import OfferBody, Outcome, Settled, wait_for_final
from certify_proxy.runtime import Runtime

JSON = "application/json"
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d{1,6})")


def prefer_wait(prefer: str | None, max_wait_s: int) -> int:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240), capped; 0 when absent."""
    if not prefer:
        return 0
    match = _WAIT.search(prefer)
    return min(int(match.group(1)), max_wait_s) if match else 0


#: The HTTP status of each kind of outcome: pay (402), under way (202), final (200).
STATUS_OF: dict[Settled, int] = {Settled.OFFER: 402, Settled.ACCEPTED: 202, Settled.FINAL: 200}


def respond(outcome: Outcome) -> Response:
    """The JSON response of a workflow outcome (an offer's body is JSON already)."""
    status = STATUS_OF[outcome.kind]
    if isinstance(outcome.body, OfferBody):
        return Response(outcome.body.json, status_code=status, headers=outcome.headers, media_type=JSON)
    return FastJSONResponse(wire(outcome.body), status_code=status, headers=outcome.headers)


async def settle_wait(runtime: Runtime, outcome: Outcome, request_key: str, wait_s: int) -> Outcome:
    """Within ``Prefer: wait``, turn an accepted outcome (202) into the final one (200) if it comes in time."""
    if outcome.kind is not Settled.ACCEPTED or wait_s <= 0:
        return outcome
    final = await wait_for_final(runtime, request_key, wait_s)
    if final is None:
        return outcome
    final.headers.update(outcome.headers)
    return final
