"""``DATABASE_PGBOUNCER``: the proxy's reads, 402 inserts and transactions through a real PgBouncer in transaction
mode (two server connections for many clients, so consecutive exchanges of one client land on different ones)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess  # nosec B404  # runs PgBouncer on a config this module writes
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from certify_proxy.runtime import Runtime
from certify_proxy.settings import ProxySettings
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.offered import NewRequest, insert_offered
from certify_testkit.processes import free_port, wait_until

pytestmark = pytest.mark.integration

CLIENTS = 12
ROUNDS = 15


def _pgbouncer_bin() -> str:
    path = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if path is None:
        raise FileNotFoundError("pgbouncer not installed: run `make install` (scripts/install-system.sh)")
    return path


@pytest.fixture(scope="module")
def bouncer(pg_url: str) -> Iterator[str]:
    """A PgBouncer in transaction mode with two server connections in front of the session's database; its URL."""
    asyncio.run(upgrade_async(pg_url))
    url = make_url(pg_url)
    # PgBouncer drops root privileges to the postgres user, which reads its files and writes its log here (pytest's
    # own temporary folders are private to the user running the tests).
    folder = Path(tempfile.mkdtemp(prefix="certify-pgbouncer-"))
    folder.chmod(0o777)
    port = free_port()
    (folder / "users.txt").write_text(f'"{url.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{url.database} = host={url.host} port={url.port or 5432} dbname={url.database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = 2\n"
        f"max_client_conn = 200\nlogfile = {folder / 'pgbouncer.log'}\nunix_socket_dir =\n"
    )
    for path in folder.iterdir():
        path.chmod(0o644)
    command = [_pgbouncer_bin(), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]  # PgBouncer refuses to run as root
    output = (folder / "output.txt").open("wb")
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # nosec B603
    try:
        try:
            wait_until(lambda: process.poll() is not None or _accepts(port), 15, 0.1, "PgBouncer listening")
        finally:
            output.close()
        assert process.poll() is None, (folder / "output.txt").read_text(errors="replace")
        yield url.set(port=port, host="127.0.0.1").render_as_string(hide_password=False)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _runtime(url: str, pool_size: int) -> Runtime:
    return Runtime.build(
        ProxySettings(database_url=url, database_pgbouncer=True, database_pool_size=pool_size, certify_env="test")
    )


def _row(index: int) -> NewRequest:
    now = datetime.now(UTC)
    return NewRequest(
        request_key=uuid.uuid4().hex,
        owner=f"pgbouncer-{uuid.uuid4().hex[:8]}",
        request_id=f"req-{index}",
        api_key_id=None,
        fingerprint="f" * 64,
        data_hash="0x" + "ab" * 32,
        data_size_bytes=10,
        network="base-sepolia",
        client_type="agent",
        callback_url=None,
        file_name=None,
        public_token=uuid.uuid4().hex,
        quote_id=uuid.uuid4().hex,
        quote_json="{}",
        amount_atomic=30000,
        quote_valid_until=now + timedelta(minutes=5),
        offer_json="{}",
        created_at=now,
        updated_at=now,
    )


# 3: no direct asyncpg connections (store/direct.py takes two of four or more), so the 402's insert goes through
# SQLAlchemy; 7 (the default): through the direct connections.
@pytest.mark.parametrize("pool_size", [3, 7])
async def test_reads_402_inserts_and_transactions_all_succeed_through_pgbouncer(bouncer: str, pool_size: int) -> None:
    runtime = _runtime(bouncer, pool_size)
    try:
        assert runtime.direct.enabled == (pool_size == 7)
        assert not runtime.autocommit

        async def client(number: int) -> list[str]:
            keys = []
            for index in range(ROUNDS):
                row = _row(number * ROUNDS + index)
                assert await insert_offered(
                    runtime.engine, runtime.direct, row, "0.030000", autocommit=runtime.autocommit
                )
                async with runtime.reads() as session:  # two statements: each is prepared, then run
                    stored = await repo.get_request(session, row.request_key)
                    assert stored is not None
                    assert await repo.payment_for_request(session, row.request_key) is None
                async with transaction(runtime.sessions) as session:
                    locked = await repo.get_request(session, row.request_key, for_update=True)
                    assert locked is not None
                keys.append(row.request_key)
            return keys

        made = await asyncio.gather(*(client(number) for number in range(CLIENTS)))
        async with runtime.reads() as session:
            found = [await repo.get_request(session, key) for keys in made for key in keys]
        assert len(found) == CLIENTS * ROUNDS
        assert all(row is not None and row.status == "payment_pending" for row in found)
    finally:
        await runtime.close()
        await runtime.engine.dispose()
