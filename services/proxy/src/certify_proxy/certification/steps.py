"""Step timings of a request for the status document: quote, settle, submit, confirm.

- quote: from the request's creation to its ``quoted`` transition (the quote and offer calls);
- settle: from the first paid submission (verify) to the recorded settlement;
- submit: from the certification job's first submission attempt to the NAG accepting the transaction;
- confirm: from the accepted submission to Executed.
Each history entry also carries how long the request stayed in that state.
"""

from __future__ import annotations

from datetime import datetime

from certify_client.models import HistoryEntry, StepDurations
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.store.models import Payment, StateTransition, aware


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max((end - start).total_seconds(), 0.0), 3)


def _times(progress: CertifyPayload) -> tuple[datetime | None, datetime | None, datetime | None]:
    """When the first submission started, the transaction was accepted, and seen Executed."""
    return aware(progress.submit_started_at), aware(progress.submitted_at), aware(progress.executed_at)


def history_entries(steps: list[StateTransition], completed_at: datetime | None) -> list[HistoryEntry]:
    """The transitions, oldest first, each with the time spent in its target state (open: null)."""
    entries = []
    for index, step in enumerate(steps):
        at = aware(step.at)
        nxt = aware(steps[index + 1].at) if index + 1 < len(steps) else None
        entries.append(
            HistoryEntry(
                from_state=step.from_state,
                to=step.to_state,
                reason=step.reason,
                at=at.isoformat() if at is not None else None,
                duration_s=_seconds(at, nxt),
            )
        )
    return entries


def step_durations(steps: list[StateTransition], payment: Payment | None, job_payload: str | None) -> StepDurations:
    """Seconds each step took (null until it finished); ``job_payload``: the certification job's (its progress)."""
    first_at: dict[str, datetime] = {}
    for step in steps:
        moment = aware(step.at)
        if moment is not None:
            first_at.setdefault(step.to_state, moment)
    progress = CertifyPayload.model_validate_json(job_payload) if job_payload is not None else None
    settle = None
    if payment is not None:
        settle = _seconds(aware(payment.created_at), aware(payment.settled_at))
    started, submitted, executed = (None, None, None) if progress is None else _times(progress)
    return StepDurations(
        quote=_seconds(first_at.get("initiated"), first_at.get("quoted")),
        settle=settle,
        submit=_seconds(started, submitted),
        confirm=_seconds(submitted, executed),
    )
