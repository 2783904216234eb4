"""The lifecycle's one table of transitions."""

from __future__ import annotations

import itertools

import pytest

from certify_proxy.certification.states import ALLOWED, FINAL, InvalidTransitionError, State, check_transition

HAPPY_PATH = [
    State.INITIATED,
    State.QUOTED,
    State.PAYMENT_PENDING,
    State.PAYMENT_VERIFIED,
    State.CERTIFYING,
    State.COMPLETED,
]


def test_the_happy_path_is_allowed_step_by_step() -> None:
    for current, target in itertools.pairwise(HAPPY_PATH):
        check_transition(current, target)


def test_every_unfinished_state_may_fail_and_final_states_are_final() -> None:
    for state in State:
        assert (State.FAILED in ALLOWED[state]) is (state not in FINAL)
    assert ALLOWED[State.COMPLETED] == frozenset()
    # An operator re-queueing a dead-lettered certification is the one way out of failed.
    assert ALLOWED[State.FAILED] == frozenset({State.CERTIFYING})


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.INITIATED, State.PAYMENT_VERIFIED),
        (State.PAYMENT_PENDING, State.CERTIFYING),
        (State.QUOTED, State.COMPLETED),
        (State.COMPLETED, State.CERTIFYING),
        (State.FAILED, State.QUOTED),
        (State.PAYMENT_VERIFIED, State.PAYMENT_PENDING),
    ],
)
def test_skipping_or_going_back_is_refused(current: State, target: State) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(current, target)
