"""The outage table: which exceptions are a store outage (503 with a code and Retry-After) and which a bug."""

from __future__ import annotations

import asyncpg.exceptions
import pytest
import redis.exceptions
import sqlalchemy.exc

from certify_proxy.api.errors import http_status
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import connect_args
from certify_proxy.store.outages import outage_of


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (sqlalchemy.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"), "database_busy"),
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed")), "database_unavailable"),
        (sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")), "database_unavailable"),
        (
            sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
            "database_unavailable",
        ),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), "database_unavailable"),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), "database_unavailable"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), "database_unavailable"),
        (redis.exceptions.ConnectionError("Error 111 connecting"), "cache_unavailable"),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), "cache_unavailable"),
        (redis.exceptions.MaxConnectionsError("Too many connections"), "cache_unavailable"),
    ],
)
def test_a_store_outage_is_a_retryable_503_with_retry_after(exc: BaseException, code: str) -> None:
    fail = outage_of(exc)
    assert fail is not None
    assert (fail.code, fail.retryable, http_status(fail)) == (code, True, 503)
    assert (fail.retry_after or 0) >= 1


@pytest.mark.parametrize(
    "exc",
    [
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sqlalchemy.exc.DBAPIError("SELECT", {}, Exception("syntax error")),
        redis.exceptions.ResponseError("WRONGTYPE"),
        ConnectionRefusedError(111, "refused, not inside the database driver"),
        ValueError("a bug"),
    ],
)
def test_anything_else_stays_an_internal_error(exc: BaseException) -> None:
    assert outage_of(exc) is None


def test_the_default_pool_of_ten_single_process_replicas_fits_postgresqls_default_100_connections() -> None:
    settings = ProxySettings(database_url="postgresql+asyncpg://u@db/certify")
    per_process = settings.database_pool_size + settings.database_max_overflow
    migration_job, operators, superuser_reserve = 1, 2, 3
    assert 10 * per_process + migration_job + operators <= 100 - superuser_reserve


def test_pgbouncer_mode_turns_off_prepared_statement_caches_and_names_statements_uniquely() -> None:
    plain = connect_args(ProxySettings(database_url="postgresql+asyncpg://u@db/certify"))
    assert "statement_cache_size" not in plain
    args = connect_args(ProxySettings(database_url="postgresql+asyncpg://u@db/certify", database_pgbouncer=True))
    assert (args["statement_cache_size"], args["prepared_statement_cache_size"]) == (0, 0)
    names = {args["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3
