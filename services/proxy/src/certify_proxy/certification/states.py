"""The request lifecycle: states and the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a certification request stands."""

    INITIATED = "initiated"
    QUOTED = "quoted"
    PAYMENT_PENDING = "payment_pending"
    PAYMENT_VERIFIED = "payment_verified"
    CERTIFYING = "certifying"
    COMPLETED = "completed"
    FAILED = "failed"


#: from-state → the states it may move to. ``quoted``/``payment_pending`` loop back to ``quoted`` on re-quote.
ALLOWED: dict[State, frozenset[State]] = {
    State.INITIATED: frozenset({State.QUOTED, State.FAILED}),
    State.QUOTED: frozenset({State.PAYMENT_PENDING, State.FAILED}),
    State.PAYMENT_PENDING: frozenset({State.QUOTED, State.PAYMENT_VERIFIED, State.FAILED}),
    State.PAYMENT_VERIFIED: frozenset({State.CERTIFYING, State.FAILED}),
    State.CERTIFYING: frozenset({State.COMPLETED, State.FAILED}),
    State.COMPLETED: frozenset(),
    # Failed is final for the client; only an operator re-queueing the dead letter reopens a certification.
    State.FAILED: frozenset({State.CERTIFYING}),
}

FINAL = frozenset({State.COMPLETED, State.FAILED})
#: States in which the request still waits for a payment (a new-request body re-serves the 402).
AWAITING_PAYMENT = frozenset({State.INITIATED, State.QUOTED, State.PAYMENT_PENDING})


class InvalidTransitionError(Exception):
    """A transition the lifecycle does not allow: a bug in the caller, never an expected outcome."""


def check_transition(current: State, target: State) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current → target`` is allowed."""
    if target not in ALLOWED[current]:
        raise InvalidTransitionError(f"{current} → {target} is not a valid transition")
