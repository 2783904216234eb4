"""kopf handlers: CertifyWallet (balance, status, Events, gauges; mirroring the dead-letter queue) and
DeadLetter (``spec.action: retry``, following the request, clean-up after a TTL).

Everything is registered on the registry passed in, so tests build a fresh operator each time.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import kopf

from certify_common.errors import Failure
from certify_operator import mirror, wallet
from certify_operator.context import OperatorContext
from certify_operator.metrics import (
    BALANCE_CHECKS,
    DEAD_LETTER_CHANGES,
    DEAD_LETTER_SYNCS,
    WALLET_BALANCE,
    WALLET_BURN_PER_HOUR,
    WALLET_HOURS_LEFT,
)
from certify_operator.resources import DEAD_LETTERS, GROUP, VERSION, WALLET_LABEL, WALLETS

logger = logging.getLogger("certify.operator")


def _now() -> datetime:
    return datetime.now(UTC)


def _export(namespace: str, name: str, network: str, status: dict[str, Any]) -> None:
    labels = (namespace, name, network)
    if status.get("balance") is not None:
        WALLET_BALANCE.labels(*labels).set(float(status["balance"]))
    WALLET_BURN_PER_HOUR.labels(*labels).set(float(status.get("burnRatePerHour") or 0))
    # No spending means no depletion: the series is left out rather than set to infinity.
    if status.get("hoursToDepletion") is not None:
        WALLET_HOURS_LEFT.labels(*labels).set(float(status["hoursToDepletion"]))


async def check_wallet(
    context: OperatorContext, body: dict[str, Any], patch: kopf.Patch, now: datetime
) -> list[wallet.Event]:
    """Read the balance if due, write the status, export the gauges; the Events to emit."""
    meta, spec_body, previous = body["metadata"], body.get("spec") or {}, dict(body.get("status") or {})
    try:
        spec = wallet.parse_spec(spec_body)
    except ValueError as exc:
        patch.status["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "InvalidSpec",
                "message": str(exc),
                "lastTransitionTime": now.isoformat(),
            }
        ]
        return []
    if not wallet.due(spec, previous, now):
        return []
    admin = await context.admin_for(meta["namespace"], spec_body.get("proxy") or {})
    report = admin if isinstance(admin, Failure) else await admin.balance_check()
    status, events = wallet.evaluate(spec, report, previous, now)
    BALANCE_CHECKS.labels("failed" if isinstance(report, Failure) else "ok").inc()
    for key, value in status.items():
        patch.status[key] = value
    if not isinstance(report, Failure):
        _export(meta["namespace"], meta["name"], spec.network, status)
    return events


async def mirror_dead_letters(context: OperatorContext, body: dict[str, Any]) -> mirror.MirrorPlan | Failure:
    """Make the wallet's DeadLetter resources match the proxy's dead-letter queue."""
    meta = body["metadata"]
    admin = await context.admin_for(meta["namespace"], (body.get("spec") or {}).get("proxy") or {})
    letters = admin if isinstance(admin, Failure) else await admin.dead_letters()
    if isinstance(letters, Failure):
        DEAD_LETTER_SYNCS.labels("failed").inc()
        return letters
    existing = await context.kube.list_dead_letters(meta["namespace"], {WALLET_LABEL: meta["name"]})
    planned = mirror.plan(body, letters, existing)
    for item in planned.create:
        if await context.kube.create_dead_letter(item):
            DEAD_LETTER_CHANGES.labels("created").inc()
    for name in planned.delete:
        if await context.kube.delete_dead_letter(meta["namespace"], name):
            DEAD_LETTER_CHANGES.labels("deleted").inc()
    for name in planned.requeued:
        await context.kube.patch_dead_letter_status(
            meta["namespace"], name, {"phase": mirror.REQUEUED, "message": "re-queued outside the operator"}
        )
    DEAD_LETTER_SYNCS.labels("ok").inc()
    return planned


async def retry_dead_letter(context: OperatorContext, body: dict[str, Any], patch: kopf.Patch) -> Failure | None:
    """``spec.action: retry`` on a DeadLetter still dead: re-queue its job through the admin API."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    if spec.get("action") != "retry" or status.get("phase", mirror.DEAD) != mirror.DEAD:
        return None
    admin = await context.admin_for(meta["namespace"], spec.get("proxy") or {})
    answer = admin if isinstance(admin, Failure) else await admin.requeue(int(spec["deadLetterId"]))
    if isinstance(answer, Failure) and answer.code != "not_found":
        if answer.retryable:
            raise kopf.TemporaryError(f"{answer.code}: {answer.message}", delay=context.settings.tick_s)
        patch.status["message"] = f"retry refused: {answer.code}: {answer.message}"
        return answer
    patch.status["phase"] = mirror.REQUEUED
    patch.status["requeuedAt"] = _now().isoformat()
    patch.status["message"] = "re-queued" if not isinstance(answer, Failure) else "already re-queued"
    DEAD_LETTER_CHANGES.labels("requeued").inc()
    return None


async def follow_dead_letter(context: OperatorContext, body: dict[str, Any], patch: kopf.Patch, now: datetime) -> None:
    """A re-queued DeadLetter follows its request to a final state; a completed one is deleted after the TTL."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    if mirror.expired(status, context.settings.dead_letter_ttl_s, now):
        await context.kube.delete_dead_letter(meta["namespace"], meta["name"])
        DEAD_LETTER_CHANGES.labels("deleted").inc()
        return
    if status.get("phase") != mirror.REQUEUED or not spec.get("requestKey"):
        return
    admin = await context.admin_for(meta["namespace"], spec.get("proxy") or {})
    request = admin if isinstance(admin, Failure) else await admin.request(str(spec["requestKey"]))
    if isinstance(request, Failure):
        return
    patch.status["requestStatus"] = request["status"]
    phase = mirror.follow(str(request["status"]))
    if phase is not None:
        patch.status["phase"] = phase
        patch.status["completedAt"] = now.isoformat()
        DEAD_LETTER_CHANGES.labels(phase.lower()).inc()


def _emit(body: kopf.Body, events: list[wallet.Event]) -> None:
    for event in events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def register(registry: kopf.OperatorRegistry, context: OperatorContext) -> None:
    """Register every handler of the operator on ``registry``."""
    settings = context.settings
    last_sync: dict[str, float] = {}

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        if info is not None:
            context.kube.use(info)
        return info

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        await context.aclose()

    @kopf.timer(GROUP, VERSION, WALLETS, interval=settings.tick_s, registry=registry)
    async def wallet_balance(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        _emit(body, await check_wallet(context, dict(body), patch, _now()))

    @kopf.timer(GROUP, VERSION, WALLETS, interval=settings.tick_s, registry=registry)
    async def wallet_dead_letters(body: kopf.Body, uid: str, **_: Any) -> None:
        if time.monotonic() - last_sync.get(uid, float("-inf")) < settings.dead_letter_sync_interval_s:
            return
        result = await mirror_dead_letters(context, dict(body))
        if not isinstance(result, Failure):
            last_sync[uid] = time.monotonic()

    @kopf.on.create(GROUP, VERSION, DEAD_LETTERS, registry=registry)
    async def dead_letter_created(status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
        if not status.get("phase"):
            patch.status["phase"] = mirror.DEAD

    @kopf.on.field(GROUP, VERSION, DEAD_LETTERS, field="spec.action", registry=registry)
    async def dead_letter_action(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        refused = await retry_dead_letter(context, dict(body), patch)
        if refused is not None:
            kopf.warn(body, reason="RetryRefused", message=f"{refused.code}: {refused.message}")

    @kopf.timer(GROUP, VERSION, DEAD_LETTERS, interval=settings.tick_s, registry=registry)
    async def dead_letter_follow(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await follow_dead_letter(context, dict(body), patch, _now())
