"""The one error model every service speaks: ``{code, message, retryable, details}``.

Expected outcomes are values, not exceptions: domain functions return a :class:`Failure`, tools
turn it into an ``isError`` MCP result with the failure as structured content, and the proxy maps
codes to HTTP statuses in one table derived from the registry :mod:`certify_common.codes`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from certify_common.codes import FailureCode, registered


class Failure(BaseModel):
    """An expected failure a caller can act on.

    ``code`` is snake_case and stable (callers switch on it); ``message`` is for people;
    ``retryable`` says whether the same call may succeed later; ``details`` carries
    machine-readable extras such as ``retry_after`` (seconds) or an upstream's own fields.
    """

    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    message: str
    retryable: bool = False
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, when the failure says so."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class FailureError(Exception):
    """Carries a :class:`Failure` through layers that cannot return it (e.g. deep inside a client).

    Catch it at the boundary and turn it back into a value.
    """

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.code}: {failure.message}")
        self.failure = failure


def failure(code: FailureCode | str, message: str, *, retryable: bool | None = None, **details: Any) -> Failure:
    """Shorthand for building a :class:`Failure` with keyword details.

    ``code`` is a :class:`~certify_common.codes.FailureCode` (or its wire string, e.g. a code relayed from an
    upstream); ``retryable`` defaults to the registry's flag for the code (False for an unregistered one).
    """
    text = str(code)
    if retryable is None:
        known = registered(text)
        retryable = known.retryable if known is not None else False
    return Failure(code=text, message=message, retryable=retryable, details=details)


T = TypeVar("T")


class InvariantError(RuntimeError):
    """An invariant the code relies on does not hold: a bug, or stored state changed by hand.

    Used instead of ``assert``, which ``python -O`` strips: the check stays, and the failure is loud.
    """


def require(value: T | None, what: str) -> T:
    """``value``, which an invariant says is present; :class:`InvariantError` naming ``what`` otherwise."""
    if value is None:
        raise InvariantError(f"{what} is missing")
    return value
