"""The proxy's layering: HTTP at the edge, MCP servers behind typed clients.

- Only the API layer (``certify_proxy.api``, and ``app.py`` that assembles it) speaks HTTP: no lifecycle,
  queue, task, store or upstream module imports FastAPI/Starlette or the API's error and route modules.
- Only ``certify_proxy.upstream`` calls an MCP tool by name: everything else goes through its typed clients.
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


def _modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (PACKAGE / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


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
