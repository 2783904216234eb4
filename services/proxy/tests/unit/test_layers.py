"""The proxy's layering: HTTP at the edge, MCP servers behind typed clients, SQL in the store.

- Only the API layer (``certify_proxy.api``, and ``app.py`` that assembles it) speaks HTTP: no lifecycle,
  queue, task, store or upstream module imports FastAPI/Starlette or the API's error and route modules.
- Only ``certify_proxy.upstream`` calls an MCP tool by name: everything else goes through its typed clients.
- Only ``certify_proxy.store`` writes queries: everything else calls its named repository functions
  (see :func:`test_only_the_store_writes_queries` for what other modules may still touch).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import certify_proxy

PACKAGE = Path(certify_proxy.__file__).parent
BELOW_THE_API = ("certification", "queue", "tasks", "store", "upstream")
HTTP_MODULES = (
    "fastapi",
    "starlette",
    "certify_proxy.api.errors",
    "certify_proxy.api.deps",
    "certify_proxy.api.routes",
)
TOOL_CALL = re.compile(r"pool\.call\(")

#: What a module outside ``store/`` may import from SQLAlchemy/SQLModel: the session, session factory and
#: engine types it is handed (annotations, ``Runtime``), nothing that builds a statement.
ORM_NAMES_ALLOWED = frozenset(
    {
        "sqlmodel.ext.asyncio.session.AsyncSession",
        "sqlalchemy.ext.asyncio.AsyncEngine",
        "sqlalchemy.ext.asyncio.async_sessionmaker",
    }
)
#: ...and the exceptions it catches (a unique constraint that makes a concurrent payment a replay).
ORM_MODULES_ALLOWED = ("sqlalchemy.exc",)
#: Methods that run SQL, whatever object they are called on (no other library the proxy uses has them).
QUERY_METHODS = frozenset({"execute", "exec", "scalar", "scalars", "stream_scalars"})
#: Methods that run SQL when called on a session, connection or engine (``dict.get``, ``kv.delete`` are not SQL).
SESSION_QUERY_METHODS = frozenset({"get", "delete", "merge", "refresh", "stream", "connection", "connect", "run_sync"})
SQL_RECEIVER = re.compile(r"(session|connection|engine)$", re.IGNORECASE)


def _modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (PACKAGE / package).rglob("*.py"))


def _outside_the_store() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if (PACKAGE / "store") not in path.parents)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _receiver(node: ast.expr) -> str:
    """The last name of the object a method is called on (``session`` in ``self.session.execute``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _orm_import_allowed(name: str) -> bool:
    return name in ORM_NAMES_ALLOWED or any(
        name == module or name.startswith(f"{module}.") for module in ORM_MODULES_ALLOWED
    )


def _query_sites(source: str) -> list[str]:
    """Where ``source`` imports a query construct, reaches for a table, or runs SQL itself."""
    sites: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            imported = []
        sites += [
            f"line {node.lineno}: imports {name}"
            for name in imported
            if name.split(".")[0] in {"sqlalchemy", "sqlmodel"} and not _orm_import_allowed(name)
        ]
        if isinstance(node, ast.Attribute) and node.attr == "__table__":
            sites.append(f"line {node.lineno}: reads a model's __table__")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, _receiver(node.func.value)
            if method in QUERY_METHODS or (method in SESSION_QUERY_METHODS and SQL_RECEIVER.search(receiver)):
                sites.append(f"line {node.lineno}: calls {receiver}.{method}()")
    return sites


@pytest.mark.parametrize("path", _modules(*BELOW_THE_API), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_code_below_the_api_does_not_speak_http(path: Path) -> None:
    speaking = {name for name in _imports(path) if name.startswith(HTTP_MODULES)}
    assert not speaking, f"{path.name} imports {sorted(speaking)}: return a value or raise FailureError instead"


def test_only_the_upstream_clients_call_mcp_tools_by_name() -> None:
    callers = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "upstream" and TOOL_CALL.search(path.read_text())
    ]
    assert callers == []


def test_the_rules_above_see_the_modules_they_guard() -> None:
    # A moved package would make the parametrized test above vacuous.
    assert len(_modules(*BELOW_THE_API)) > 20
    assert TOOL_CALL.search((PACKAGE / "upstream" / "pool.py").read_text())
    assert len(_outside_the_store()) > 60
    assert _query_sites((PACKAGE / "store" / "jobs.py").read_text())


@pytest.mark.parametrize("path", _outside_the_store(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_store_writes_queries(path: Path) -> None:
    """A module outside ``store/`` runs no SQL and builds no statement: it calls ``certify_proxy.store``.

    Refused: importing anything from ``sqlalchemy``/``sqlmodel`` that is not allowed below (``import
    sqlalchemy``, ``select``, ``update``, ``insert``, ``delete``, ``text``, ``func``, ``and_``…), reading a
    model's ``__table__`` (a table builds statements), and calling ``execute``/``exec``/``scalar(s)`` on
    anything or ``get``/``delete``/``merge``/``refresh``/``stream``/``connection``/``connect``/``run_sync``
    on a session, connection or engine.

    Allowed, because it must stay with the caller: the ``AsyncSession``, ``async_sessionmaker`` and
    ``AsyncEngine`` types (a caller's transaction crosses repository calls, and ``Runtime`` holds the
    engine), ``sqlalchemy.exc`` (exceptions a caller catches), ``session.add``/``session.flush`` (the
    unit of work: a new or changed row of ``store/models.py`` the caller holds is written at flush, with no
    statement of its own), and the session lifecycle (``store/db.py`` ``transaction`` opens and commits).
    """
    sites = _query_sites(path.read_text())
    assert not sites, f"{path.relative_to(PACKAGE)}: {sites}; move the query into a certify_proxy.store module"


def test_the_query_rule_sees_queries() -> None:
    # Each listed line is one way a query could slip outside store/; the others (types, exceptions,
    # dict.get, kv.delete, the unit of work) are allowed.
    source = """
import sqlalchemy as sa
from sqlalchemy import func, select, text, update
from sqlmodel import col
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession
JOBS = Job.__table__
async def f(session, runtime, kv, values):
    await session.execute(statement)
    await session.exec(statement)
    await runtime.session.scalars(statement)
    await session.delete(row)
    await session.get(Job, 1)
    async with runtime.engine.connect() as connection:
        await connection.scalar(statement)
    await kv.delete("k")
    values.get("k")
    session.add(row)
    await session.flush()
"""
    lines = sorted(int(site.split(":")[0].removeprefix("line ")) for site in _query_sites(source))
    assert lines == [2, 3, 3, 3, 3, 4, 8, 10, 11, 12, 13, 14, 15, 16]
