"""Outages of the proxy's own stores, as values: PostgreSQL or Redis down, out of connections, pool exhausted.

The one place that tells an outage from a bug by its exception class. An outage is a retryable 503 with
``Retry-After`` and a stable code, never a 500 ``internal_error``:

- ``database_busy``: every pooled connection stayed checked out for ``DATABASE_POOL_TIMEOUT_S``
  (``sqlalchemy.exc.TimeoutError``, or ``PoolBusyError`` of the direct connections);
- ``database_unavailable``: PostgreSQL refused, dropped or could not take the connection (a DBAPI error that
  invalidated the connection, or SQLAlchemy's ``OperationalError``/``InterfaceError``; asyncpg's connection
  errors and ``too many connections``; a socket error or timeout raised inside the asyncpg driver);
- ``cache_unavailable``: Redis unreachable, timed out, or out of connections (redis-py's ``ConnectionError``
  and ``TimeoutError``, which include "max number of clients reached" and an exhausted client pool).
"""

from __future__ import annotations

import asyncpg.exceptions  # type: ignore[import-untyped]
import redis.exceptions
import sqlalchemy.exc

from certify_common.errors import Failure, failure
from certify_proxy.store.direct import PoolBusyError

#: Retry-After of each outage code, in seconds (a busy pool frees up sooner than a server comes back).
RETRY_AFTER_S = {"database_busy": 2, "database_unavailable": 5, "cache_unavailable": 5}

_ASYNCPG_CONNECTION_ERRORS = (
    asyncpg.exceptions.PostgresConnectionError,  # connection failures, rejections, "cannot connect now"
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: shutting down, starting up, cancelled
    asyncpg.exceptions.InterfaceError,  # "connection is closed", "connection was closed in the middle of operation"
)


def _raised_in(exc: BaseException, package: str) -> bool:
    """Whether a frame of ``package`` is on the exception's traceback (the error came from inside that driver)."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0] == package:
            return True
        tb = tb.tb_next
    return False


def _code(exc: BaseException) -> str | None:
    if isinstance(exc, sqlalchemy.exc.TimeoutError | PoolBusyError):
        return "database_busy"
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated or isinstance(
            exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        ):
            return "database_unavailable"
        return _code(exc.orig) if isinstance(exc.orig, BaseException) and exc.orig is not exc else None
    if isinstance(exc, _ASYNCPG_CONNECTION_ERRORS):
        return "database_unavailable"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "cache_unavailable"
    if isinstance(exc, OSError | TimeoutError) and _raised_in(exc, "asyncpg"):
        # A connection attempt refused, reset or timed out before SQLAlchemy could wrap it.
        return "database_unavailable"
    return None


def outage_of(exc: BaseException) -> Failure | None:
    """The retryable failure an outage exception stands for, or None (a bug: an internal error)."""
    code = _code(exc)
    if code is None:
        return None
    what = {"database_busy": "the database is busy", "cache_unavailable": "the cache is unavailable"}
    return failure(
        code,
        f"{what.get(code, 'the database is unavailable')}: retry shortly",
        retryable=True,
        retry_after=RETRY_AFTER_S[code],
    )


#: Exception classes whose handler asks :func:`outage_of` (everything else is an internal error).
OUTAGE_CANDIDATES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.SQLAlchemyError,
    PoolBusyError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    redis.exceptions.RedisError,
    OSError,
)
